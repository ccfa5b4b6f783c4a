//! Set-up the benchmarks share: a database of their own, a sender who texts through the
//! loopback Twilio, and a campaign that may send at any hour.
use chrono::{Duration, Utc};
use sqlx::{Connection, PgConnection, PgPool};
use turnout::domain::campaign::{CampaignStatus, EventType};
use turnout::domain::funnel::GraphDraft;
use turnout::domain::user::UserView;
use turnout::domain::{EmailAddress, Role};
use turnout::server::campaigns::{self, NewCampaign};
use turnout::server::crypto::Keys;
use turnout::server::templates::{self, GraphOwner};
use turnout::server::{providers, users};
use uuid::Uuid;

/// Drops the database `url` names (whoever is connected) and makes it anew, empty. Returns
/// a connection to the server's `postgres` database and the name, for setting its options.
pub async fn recreate_database(url: &str) -> (PgConnection, String) {
    let (base, query) = url.split_once('?').map_or((url, String::new()), |(b, q)| (b, format!("?{q}")));
    let (server, name) = base.rsplit_once('/').expect("a database URL ends in /<name>");
    let mut admin = PgConnection::connect(&format!("{server}/postgres{query}")).await.expect("connect");
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut admin).await.expect("drop");
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.expect("create");
    (admin, name.to_string())
}

/// A BDR with the number +15550100000, texting through the organisation's Twilio account:
/// the loopback fake's.
pub async fn texting_sender(pool: &PgPool, keys: &Keys, account_sid: &str, auth_token: &str) -> UserView {
    let user = users::insert(pool, &EmailAddress::parse("bench@turnout.test").expect("email"), "Bench", Role::Bdr, None).await.expect("user");
    sqlx::query!("UPDATE users SET sms_from_number = '+15550100000' WHERE id = $1", user.id).execute(pool).await.expect("number");
    let mut conn = pool.acquire().await.expect("conn");
    providers::save_account(&mut conn, keys, "twilio", None, Some((account_sid, auth_token))).await.expect("twilio");
    user
}

/// A draft campaign of `owner`'s, a virtual event 30 days out, whose send window is all day
/// every day (so no result depends on the time of day), running `graph`.
pub async fn all_day_campaign(pool: &PgPool, owner: Uuid, name: &str, graph: serde_json::Value) -> Uuid {
    let id = campaigns::insert(pool, &NewCampaign {
        name,
        status: CampaignStatus::Draft,
        event_type: EventType::Virtual,
        event_start: Utc::now() + Duration::days(30),
        event_time_zone: "America/New_York",
        venue: None,
        join_link: Some("https://example.com/join"),
        owner_id: owner,
        sender_id: owner,
        template_version_id: None,
    })
    .await
    .expect("campaign");
    sqlx::query!("UPDATE campaigns SET window_start = 0, window_end = 1440, window_days = '{1,2,3,4,5,6,7}' WHERE id = $1", id)
        .execute(pool)
        .await
        .expect("window");
    let graph: GraphDraft = serde_json::from_value(graph).expect("graph");
    let mut conn = pool.acquire().await.expect("conn");
    templates::insert_graph(&mut conn, GraphOwner::Campaign(id), &graph).await.expect("graph");
    id
}

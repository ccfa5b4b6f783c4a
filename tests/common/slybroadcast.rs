//! A fake of Slybroadcast's ringless-voicemail gateway on loopback, for the voicemail tests.
//!
//! Documented (<https://www.slybroadcast.com/documentation.php>), and spoken as documented:
//! - `POST /gateway/vmb.php`, form-encoded: `c_uid` (login email), `c_password`, `c_url` (the
//!   audio to drop, fetched by Slybroadcast) with `c_audio` (`wav`, `mp3` or `m4a`; required
//!   with `c_url`), `c_phone` (destination numbers, comma-separated, 10 digits for US numbers),
//!   `c_callerID` (a valid phone number), `c_date` (`now`, or Eastern Time
//!   `YYYY-MM-DD HH:MM:SS`, 24-hour), `c_title` (optional), `c_dispo_url` (optional);
//! - the answer: `OK` then the `session_id` and the number of phones; otherwise an error
//!   "indicating the missing variables";
//! - `c_dispo_url`: each call's status is posted there (form POST), and the receiver must
//!   acknowledge with `OK`; the status line is `var=` followed by pipe-separated fields
//!   (session id, phone, status `OK`/`FAILURE`, failure reason, delivery time, carrier).
//!
//! Guessed (the stored documentation did not show them): the exact answer lines
//! (`session_id=<digits>`, `number of phone=1`), the Content-Type (`text/plain`), the wording
//! of the errors (`ERROR\nc_uid: Invalid user or password`, `ERROR\n<field> is missing`,
//! `ERROR\nc_phone: Invalid phone number`), the order of the fields in `var` and the delivery
//! time's format (Eastern Time `YYYY-MM-DD HH:MM:SS`), and that the audio is fetched before
//! the answer (the real service fetches it while processing the campaign; fetching first
//! makes the tests deterministic and is the strictest case for the app: its URL must work
//! as soon as the drop is asked for). The documentation also says audio must be longer than
//! five seconds; the fake records the size but does not refuse short audio.
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Form, Router};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// What the fake got when it fetched `c_url`.
#[derive(Debug, Clone, PartialEq)]
pub struct Fetched {
    pub status: u16,
    pub content_type: Option<String>,
    pub content_length: Option<u64>,
    pub body: Vec<u8>,
}

/// One request to the gateway, as received, with its answer.
#[derive(Debug, Clone)]
pub struct GatewayRequest {
    pub params: Vec<(String, String)>,
    /// The HTTP status and body answered (None: never answered).
    pub answer: Option<(u16, String)>,
}

impl GatewayRequest {
    pub fn param(&self, name: &str) -> Option<&str> {
        param(&self.params, name)
    }
}

/// A drop the fake took.
#[derive(Debug, Clone)]
pub struct Dropped {
    pub session_id: String,
    pub phone: String,
    pub caller_id: String,
    pub url: String,
    pub dispo_url: Option<String>,
    /// The audio at `c_url` when the drop was taken.
    pub fetched: Option<Fetched>,
}

pub struct FakeSlybroadcast {
    /// E.g. `http://127.0.0.1:41234`: the app's `slybroadcast_api_base`.
    pub base_url: String,
    pub uid: String,
    pub password: String,
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: Mutex<Option<(oneshot::Sender<()>, JoinHandle<()>)>>,
}

struct Shared {
    uid: String,
    password: String,
    /// Fetches the audio and posts the delivery reports.
    http: reqwest::Client,
    next_session: AtomicU64,
    state: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    requests: Vec<GatewayRequest>,
    drops: Vec<Dropped>,
    per_phone: HashMap<String, usize>,
    error_next: usize,
    error_status: u16,
    hang_next: usize,
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new().route("/gateway/vmb.php", post(gateway)).with_state(shared)
}

async fn serve(listener: TcpListener, shared: Arc<Shared>) -> (oneshot::Sender<()>, JoinHandle<()>) {
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, router(shared))
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await
            .expect("fake Slybroadcast server");
    });
    (stop, task)
}

impl FakeSlybroadcast {
    pub async fn start() -> FakeSlybroadcast {
        let uid = format!("bdr{:x}@acme.example", rand::random::<u32>());
        let password = format!("pw{:016x}", rand::random::<u64>());
        let shared = Arc::new(Shared {
            uid: uid.clone(),
            password: password.clone(),
            http: reqwest::Client::builder().timeout(std::time::Duration::from_secs(10)).build().expect("HTTP client"),
            next_session: AtomicU64::new(rand::random_range(10_000_000..90_000_000)),
            state: Mutex::new(Inner::default()),
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind fake Slybroadcast");
        let addr = listener.local_addr().expect("fake Slybroadcast address");
        let server = serve(listener, shared.clone()).await;
        FakeSlybroadcast { base_url: format!("http://{addr}"), uid, password, addr, shared, server: Mutex::new(Some(server)) }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.shared.state.lock().expect("fake Slybroadcast state")
    }

    /// Stops listening: connections to the gateway are refused until `listen` (requests in
    /// flight are answered first).
    pub async fn stop_listening(&self) {
        let server = self.server.lock().expect("fake Slybroadcast server").take();
        if let Some((stop, task)) = server {
            let _ = stop.send(());
            task.await.expect("fake Slybroadcast stopped");
        }
    }

    /// Listens again on the same address.
    pub async fn listen(&self) {
        let listener = TcpListener::bind(self.addr).await.expect("re-bind fake Slybroadcast");
        let server = serve(listener, self.shared.clone()).await;
        *self.server.lock().expect("fake Slybroadcast server") = Some(server);
    }

    /// The next `n` requests get this 5xx status (no drop taken).
    pub fn fail_next(&self, n: usize, status: u16) {
        let mut state = self.state();
        state.error_next = n;
        state.error_status = status;
    }

    /// The next `n` requests are taken as drops (the voicemail goes out) and never answered,
    /// as when the answer is lost.
    pub fn hang_next(&self, n: usize) {
        self.state().hang_next = n;
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<GatewayRequest> {
        self.state().requests.clone()
    }

    pub fn total_calls(&self) -> usize {
        self.state().requests.len()
    }

    /// Drops taken, in order.
    pub fn drops(&self) -> Vec<Dropped> {
        self.state().drops.clone()
    }

    /// Drops taken for a 10-digit number: more than one is a duplicate voicemail.
    pub fn drops_for(&self, phone: &str) -> usize {
        self.state().per_phone.get(phone).copied().unwrap_or(0)
    }

    /// Posts a delivery report for a drop to its `c_dispo_url`, as Slybroadcast does;
    /// returns the app's status and body (Slybroadcast expects `OK`).
    pub async fn report(&self, drop: &Dropped, status: &str, failure_reason: &str) -> (u16, String) {
        let url = drop.dispo_url.clone().expect("the drop named a c_dispo_url");
        self.report_to(&url, drop, status, failure_reason).await
    }

    /// The same report, posted to any URL.
    pub async fn report_to(&self, url: &str, drop: &Dropped, status: &str, failure_reason: &str) -> (u16, String) {
        let now = chrono::Utc::now().with_timezone(&chrono_tz::America::New_York);
        let var = format!(
            "{}|{}|{status}|{failure_reason}|{}|{}",
            drop.session_id,
            drop.phone,
            now.format("%Y-%m-%d %H:%M:%S"),
            if status == "OK" { "Verizon Wireless" } else { "" }
        );
        let res = self.shared.http.post(url).form(&[("var", var)]).send().await.expect("delivery report");
        let status = res.status().as_u16();
        (status, res.text().await.unwrap_or_default())
    }
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn text(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=UTF-8")], body).into_response()
}

/// `c_phone`'s numbers: each 10 digits (US).
fn phones(list: &str) -> Option<Vec<String>> {
    let numbers: Vec<String> = list.split(',').map(|p| p.trim().to_string()).collect();
    numbers.iter().all(|n| n.len() == 10 && n.bytes().all(|b| b.is_ascii_digit())).then_some(numbers)
}

async fn fetch(http: &reqwest::Client, url: &str) -> Fetched {
    match http.get(url).send().await {
        Ok(res) => {
            let status = res.status().as_u16();
            let get = |name: header::HeaderName| res.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
            let content_type = get(header::CONTENT_TYPE);
            let content_length = get(header::CONTENT_LENGTH).and_then(|l| l.parse().ok());
            let body = res.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
            Fetched { status, content_type, content_length, body }
        }
        Err(e) => Fetched { status: 0, content_type: None, content_length: None, body: e.to_string().into_bytes() },
    }
}

/// The answer to a request, before any drop is taken.
fn check(shared: &Shared, params: &[(String, String)]) -> Result<(), String> {
    let p = |name| param(params, name).filter(|v| !v.trim().is_empty());
    for name in ["c_uid", "c_password"] {
        if p(name).is_none() {
            return Err(format!("ERROR\n{name} is missing"));
        }
    }
    if p("c_uid") != Some(shared.uid.as_str()) || p("c_password") != Some(shared.password.as_str()) {
        return Err("ERROR\nc_uid: Invalid user or password".into());
    }
    if p("c_url").is_none() && p("c_record_audio").is_none() {
        return Err("ERROR\nc_url is missing".into());
    }
    if p("c_url").is_some() && !matches!(p("c_audio").map(str::to_ascii_lowercase).as_deref(), Some("wav" | "mp3" | "m4a")) {
        return Err("ERROR\nc_audio is missing".into());
    }
    for name in ["c_phone", "c_callerID", "c_date"] {
        if p(name).is_none() {
            return Err(format!("ERROR\n{name} is missing"));
        }
    }
    if phones(p("c_phone").unwrap_or_default()).is_none() {
        return Err("ERROR\nc_phone: Invalid phone number".into());
    }
    if phones(p("c_callerID").unwrap_or_default()).is_none_or(|n| n.len() != 1) {
        return Err("ERROR\nc_callerID: Invalid caller ID".into());
    }
    let date = p("c_date").unwrap_or_default();
    if date != "now" && chrono::NaiveDateTime::parse_from_str(date, "%Y-%m-%d %H:%M:%S").is_err() {
        return Err("ERROR\nc_date: Invalid date".into());
    }
    Ok(())
}

async fn gateway(State(shared): State<Arc<Shared>>, Form(params): Form<Vec<(String, String)>>) -> Response {
    let index = {
        let mut state = shared.state.lock().expect("fake Slybroadcast state");
        state.requests.push(GatewayRequest { params: params.clone(), answer: None });
        state.requests.len() - 1
    };
    let answer = |status: StatusCode, body: String| {
        shared.state.lock().expect("fake Slybroadcast state").requests[index].answer = Some((status.as_u16(), body.clone()));
        text(status, body)
    };
    let hang = {
        let mut state = shared.state.lock().expect("fake Slybroadcast state");
        if state.error_next > 0 {
            state.error_next -= 1;
            let status = StatusCode::from_u16(state.error_status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            drop(state);
            return answer(status, status.canonical_reason().unwrap_or("Error").into());
        }
        let hang = state.hang_next > 0;
        if hang {
            state.hang_next -= 1;
        }
        hang
    };
    if let Err(e) = check(&shared, &params) {
        return answer(StatusCode::OK, e);
    }
    let url = param(&params, "c_url").map(str::to_string);
    let fetched = match &url {
        Some(u) if !hang => Some(fetch(&shared.http, u).await),
        _ => None,
    };
    let numbers = phones(param(&params, "c_phone").unwrap_or_default()).unwrap_or_default();
    let session_id = shared.next_session.fetch_add(1, Ordering::SeqCst).to_string();
    {
        let mut state = shared.state.lock().expect("fake Slybroadcast state");
        for phone in &numbers {
            *state.per_phone.entry(phone.clone()).or_default() += 1;
            state.drops.push(Dropped {
                session_id: session_id.clone(),
                phone: phone.clone(),
                caller_id: param(&params, "c_callerID").unwrap_or_default().to_string(),
                url: url.clone().unwrap_or_default(),
                dispo_url: param(&params, "c_dispo_url").map(str::to_string),
                fetched: fetched.clone(),
            });
        }
    }
    if hang {
        std::future::pending::<()>().await;
    }
    answer(StatusCode::OK, format!("OK\nsession_id={session_id}\nnumber of phone={}", numbers.len()))
}

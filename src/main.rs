#[tokio::main]
async fn main() -> std::process::ExitCode {
    // `turnout rebuild-stats` recomputes the statistics from the raw tables and exits.
    let run = match std::env::args().nth(1).as_deref() {
        None => turnout::server::run().await,
        Some("rebuild-stats") => turnout::server::rebuild_stats().await,
        Some(other) => Err(format!("unknown command {other:?}; the only command is rebuild-stats (no command starts the app)")),
    };
    match run {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("turnout: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match turnout::server::run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("turnout: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

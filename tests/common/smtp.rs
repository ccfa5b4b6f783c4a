//! A real SMTP server on loopback that keeps what it receives.
use mailin_embedded::response::{OK, Response};
use mailin_embedded::{Handler, Server, SslConfig};
use std::sync::{Arc, Mutex};

/// One received message: its envelope recipients and raw data.
#[derive(Debug, Clone, Default)]
pub struct Mail {
    pub to: Vec<String>,
    pub data: String,
}

#[derive(Clone, Default)]
struct Inbox {
    current: Mail,
    received: Arc<Mutex<Vec<Mail>>>,
}

impl Handler for Inbox {
    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.current = Mail { to: to.to_vec(), data: String::new() };
        OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.current.data.push_str(&String::from_utf8_lossy(buf));
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        self.received.lock().unwrap().push(std::mem::take(&mut self.current));
        OK
    }
}

/// Starts an SMTP server on a random loopback port; returns its URL and what it receives.
pub fn smtp_server() -> (String, Arc<Mutex<Vec<Mail>>>) {
    let inbox = Inbox::default();
    let received = inbox.received.clone();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("smtp://{}", listener.local_addr().unwrap());
    let mut server = Server::new(inbox);
    server.with_name("mail.test").with_ssl(SslConfig::None).unwrap().with_tcp_listener(listener);
    std::thread::spawn(move || {
        if let Err(e) = server.serve() {
            eprintln!("smtp server stopped: {e}");
        }
    });
    (url, received)
}

pub async fn wait_for_mail(received: &Arc<Mutex<Vec<Mail>>>, n: usize) -> Vec<Mail> {
    for _ in 0..100 {
        let got = received.lock().unwrap().clone();
        if got.len() >= n {
            return got;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("expected {n} emails, got {}", received.lock().unwrap().len());
}


//! A webhook receiver for alert deliveries: it keeps what it gets and answers with the
//! status a test sets.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::Value;

#[derive(Clone, Debug)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    pub fn delivery_id(&self) -> String {
        self.headers["trailkeeper-delivery"]
            .to_str()
            .unwrap()
            .to_string()
    }
}

/// A webhook receiver: it keeps what it gets and answers with `status`.
#[derive(Clone)]
pub struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    /// The status it answers with.
    pub status: Arc<AtomicU16>,
    pub address: SocketAddr,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Receiver::serve(listener).await
    }

    /// On an address nobody listens on yet: until `serve_on` runs, connections are refused.
    pub async fn reserve() -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap()
    }

    pub async fn serve_on(address: SocketAddr) -> Receiver {
        let listener = tokio::net::TcpListener::bind(address).await.unwrap();
        Receiver::serve(listener).await
    }

    pub async fn serve(listener: tokio::net::TcpListener) -> Receiver {
        let receiver = Receiver {
            got: Arc::default(),
            status: Arc::new(AtomicU16::new(200)),
            address: listener.local_addr().unwrap(),
        };
        let app = Router::new().route(
            "/hook",
            post({
                let receiver = receiver.clone();
                move |headers: HeaderMap, body: axum::body::Bytes| async move {
                    receiver.got.lock().unwrap().push(Received {
                        headers,
                        body: body.to_vec(),
                    });
                    let status = receiver.status.load(Ordering::SeqCst);
                    let mut answer = HeaderMap::new();
                    if status == 429 {
                        answer.insert("retry-after", "1".parse().unwrap());
                    }
                    (StatusCode::from_u16(status).unwrap(), answer, "noted")
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        receiver
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.address)
    }

    pub fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Waits until it has had `count` requests.
    pub async fn wait_for(&self, count: usize) -> Vec<Received> {
        for _ in 0..300 {
            let got = self.got();
            if got.len() >= count {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "the receiver got {} requests, not {count}",
            self.got().len()
        );
    }
}

//! A small HTTP client for the fake's tests: real requests on loopback, Alpaca's auth headers.
#![allow(dead_code)]

use std::time::Duration;

use ballast_fake_alpaca::{FakeAlpaca, FakeConfig};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

pub struct Api {
    pub fake: FakeAlpaca,
    pub http: reqwest::Client,
    pub key: String,
    pub secret: String,
}

/// An answer: status, headers, body as JSON (`Null` when empty or not JSON).
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub fn start() -> Api {
    start_with(FakeConfig::default())
}

pub fn start_with(cfg: FakeConfig) -> Api {
    let key = cfg.key_id.clone();
    let secret = cfg.secret_key.clone();
    let fake = FakeAlpaca::start(cfg).expect("the fake starts");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("a client");
    Api {
        fake,
        http,
        key,
        secret,
    }
}

impl Api {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.fake.url())
    }

    pub async fn send(&self, rb: reqwest::RequestBuilder) -> Result<Answer, reqwest::Error> {
        let r = rb
            .header("APCA-API-KEY-ID", &self.key)
            .header("APCA-API-SECRET-KEY", &self.secret)
            .send()
            .await?;
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await?;
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(self.http.get(self.url(path)))
            .await
            .expect("an answer")
    }

    pub async fn delete(&self, path: &str) -> Answer {
        self.send(self.http.delete(self.url(path)))
            .await
            .expect("an answer")
    }

    pub async fn post(&self, path: &str, body: &Value) -> Answer {
        self.send(self.http.post(self.url(path)).json(body))
            .await
            .expect("an answer")
    }

    /// Submit a market order.
    pub async fn market(&self, cid: &str, side: &str, qty: &str) -> Answer {
        self.post("/v2/orders", &market(cid, side, qty)).await
    }
}

pub fn market(cid: &str, side: &str, qty: &str) -> Value {
    json!({"symbol": "AAPL", "side": side, "type": "market", "time_in_force": "day",
           "qty": qty, "client_order_id": cid})
}

pub fn dec(v: &Value) -> rust_decimal::Decimal {
    v.as_str()
        .unwrap_or_else(|| panic!("a decimal string, got {v}"))
        .parse()
        .expect("a decimal")
}

//! What the fake cannot say: a body over the bound, a redirect, headers that ask for a long
//! wait — from a one-shot HTTP server on loopback.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

use ballast_alpaca::client::MAX_BODY_BYTES;
use ballast_core::broker::{Broker, BrokerError};
use common::*;

/// Serve `responses` (one per connection, in order) on a free loopback port; its URL.
fn serve(responses: Vec<Vec<u8>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for response in responses {
            let Ok((stream, _)) = listener.accept() else {
                return;
            };
            let mut reader = BufReader::new(stream);
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                line.clear();
            }
            let mut stream = reader.into_inner();
            let _ = stream.write_all(&response);
        }
    });
    url
}

fn response(status: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

fn broker_at(url: &str) -> ballast_alpaca::broker::AlpacaBroker {
    let fake = fake();
    let mut s = settings(&fake);
    s.base_url = url.to_owned();
    s.max_retries = 0;
    broker_with(s)
}

#[test]
fn a_body_over_the_bound_is_a_contract_break() {
    let mut body = b"[".to_vec();
    body.resize(usize::try_from(MAX_BODY_BYTES).unwrap() + 10, b' ');
    body.push(b']');
    let url = serve(vec![response(
        "200 OK",
        &[("content-type", "application/json")],
        &body,
    )]);
    match broker_at(&url).positions() {
        Err(BrokerError::Schema(text)) => {
            assert!(text.contains("over") && text.contains("bytes"), "{text}")
        }
        other => panic!("expected a schema error, got {other:?}"),
    }
}

#[test]
fn a_redirect_is_not_followed() {
    let url = serve(vec![response(
        "302 Found",
        &[("location", "http://127.0.0.1:1/v2/account")],
        b"",
    )]);
    match broker_at(&url).account() {
        Err(BrokerError::Schema(text)) => assert!(
            text.contains("302") && text.contains("FAILED_API_SCHEMA"),
            "{text}"
        ),
        other => panic!("expected the redirect refused, got {other:?}"),
    }
}

#[test]
fn a_submit_answer_with_a_number_for_a_decimal_is_schema_and_stays_unknown_to_the_engine() {
    let order = serde_json::json!({
        "id": "61e69015-8549-4bfd-b9c3-01e75843f47d", "client_order_id": "bl-1-1",
        "created_at": "2021-03-16T18:38:01Z", "updated_at": "2021-03-16T18:38:01Z",
        "submitted_at": "2021-03-16T18:38:01Z", "order_class": "", "time_in_force": "day",
        "status": "new", "extended_hours": false, "symbol": "AAPL", "side": "buy", "type": "market",
        "qty": 1, "filled_qty": "0"
    });
    let body = order.to_string();
    let url = serve(vec![response("200 OK", &[], body.as_bytes())]);
    match broker_at(&url).submit(&market("bl-1-1", 1), 1) {
        Err(BrokerError::Schema(text)) => {
            assert!(text.contains("`qty`") && text.contains('1'), "{text}")
        }
        other => panic!("expected a schema error, got {other:?}"),
    }
}

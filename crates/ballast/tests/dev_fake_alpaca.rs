//! `ballast dev fake-alpaca`: the real binary serves the fake on loopback, prints its URL and
//! the demo keys' export lines, never prints keys it was given, and stops on SIGTERM.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::process::sigterm;

/// Start the command; its stdout lines arrive on the receiver (a reader thread).
fn spawn(env: &[(&str, &str)]) -> (Child, mpsc::Receiver<String>) {
    let mut c = common::ballast();
    c.args(["dev", "fake-alpaca", "--port", "0", "--tick-ms", "0"])
        .env_remove("APCA_API_KEY_ID")
        .env_remove("APCA_API_SECRET_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    let mut child = c.spawn().unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// The lines printed at start (up to the control line), within 30 s.
fn banner(rx: &mpsc::Receiver<String>) -> Vec<String> {
    let mut lines = Vec::new();
    while let Ok(l) = rx.recv_timeout(Duration::from_secs(30)) {
        let last = l.contains("control:");
        lines.push(l);
        if last {
            break;
        }
    }
    lines
}

fn url_of(lines: &[String]) -> String {
    let first = lines.first().expect("a first line");
    let at = first.find("http://").expect("a URL");
    first[at..].split_whitespace().next().unwrap().to_owned()
}

/// One HTTP/1.1 GET on loopback; the status code.
fn get_status(url: &str, path: &str, key: &str, secret: &str) -> u16 {
    let addr = url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAPCA-API-KEY-ID: {key}\r\nAPCA-API-SECRET-KEY: {secret}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

fn stop(mut child: Child, rx: &mpsc::Receiver<String>) -> Vec<String> {
    sigterm(&child);
    let mut rest = Vec::new();
    while let Ok(l) = rx.recv_timeout(Duration::from_secs(30)) {
        rest.push(l);
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "exit {status:?}");
    rest
}

#[test]
fn the_fake_serves_with_its_demo_keys_and_stops_on_sigterm() {
    let (child, rx) = spawn(&[]);
    let lines = banner(&rx);
    let url = url_of(&lines);
    let text = lines.join("\n");
    assert!(text.contains("export APCA_API_KEY_ID=PKTEST"), "{text}");
    assert!(text.contains("export APCA_API_SECRET_KEY="), "{text}");
    let secret = ballast_fake_alpaca::DEMO_SECRET_KEY;
    let key = ballast_fake_alpaca::DEMO_KEY_ID;
    assert_eq!(get_status(&url, "/v2/account", key, secret), 200);
    assert_eq!(get_status(&url, "/v2/account", key, "wrong"), 401);
    let rest = stop(child, &rx);
    assert!(rest.iter().any(|l| l.contains("stopped")), "{rest:?}");
    // One line per request, said before it stops.
    assert!(
        rest.iter().any(|l| l.contains("GET /v2/account → 200")),
        "{rest:?}"
    );
    assert!(
        rest.iter().any(|l| l.contains("GET /v2/account → 401")),
        "{rest:?}"
    );
}

#[test]
fn keys_it_is_given_are_accepted_and_never_printed() {
    let (key, secret) = ("AKLIVEKEY0000000001", "s3cr3t-never-shown");
    let (child, rx) = spawn(&[("APCA_API_KEY_ID", key), ("APCA_API_SECRET_KEY", secret)]);
    let lines = banner(&rx);
    let url = url_of(&lines);
    assert_eq!(get_status(&url, "/v2/clock", key, secret), 200);
    let demo = ballast_fake_alpaca::DEMO_SECRET_KEY;
    assert_eq!(
        get_status(&url, "/v2/clock", ballast_fake_alpaca::DEMO_KEY_ID, demo),
        401
    );
    let mut all = lines;
    all.extend(stop(child, &rx));
    let text = all.join("\n");
    assert!(!text.contains(secret) && !text.contains(key), "{text}");
}

#[test]
fn a_key_without_its_secret_is_a_configuration_error() {
    let out = common::ballast()
        .args(["dev", "fake-alpaca", "--port", "0", "--key-id", "PKONLY"])
        .env_remove("APCA_API_SECRET_KEY")
        .env_remove("APCA_API_KEY_ID")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("secret"));
}

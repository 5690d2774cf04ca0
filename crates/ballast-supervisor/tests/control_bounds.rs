//! The control socket's request bound ([`CONTROL_REQUEST_MAX_BYTES`]) holds however the line
//! reaches the server: a request one byte over it is refused even when its newline arrives in
//! the same read as its last bytes (found by the fuzz targets' review of the framing: the
//! length was checked only after a read without a newline, so a line over the bound whose end
//! came with the newline was taken).

#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};

use ballast_supervisor::control::{self, Request, Response};
use ballast_supervisor::limits::CONTROL_REQUEST_MAX_BYTES;

/// The answer of a server whose loop answers every request `Done`, to `line` sent at once.
fn answer_to(line: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sock");
    let listener = UnixListener::bind(&path).unwrap();
    control::serve(listener, |(req, tx): (Request, _)| {
        let _ = tx.send(Response::Done {
            message: format!("taken: {}", serde_json::to_string(&req).unwrap().len()),
        });
        true
    });
    let mut conn = UnixStream::connect(&path).unwrap();
    conn.write_all(line).unwrap();
    let mut answer = String::new();
    BufReader::new(conn).read_line(&mut answer).unwrap();
    answer
}

/// `{"cmd":"approve","id":"xx…"}` of exactly `len` bytes, then a newline.
fn request_of(len: usize) -> Vec<u8> {
    let head = br#"{"cmd":"approve","id":""#;
    let tail = br#""}"#;
    let mut line = head.to_vec();
    line.resize(len - tail.len(), b'x');
    line.extend_from_slice(tail);
    line.push(b'\n');
    line
}

#[test]
fn a_request_at_the_bound_is_taken() {
    let answer = answer_to(&request_of(CONTROL_REQUEST_MAX_BYTES));
    assert!(answer.contains("\"result\":\"done\""), "{answer:.300}");
}

#[test]
fn a_request_one_byte_over_the_bound_is_refused_even_with_its_newline_in_the_same_read() {
    for over in [1, 2, 100, 4095] {
        let answer = answer_to(&request_of(CONTROL_REQUEST_MAX_BYTES + over));
        assert!(
            answer.contains("bad_request") && answer.contains("longer than"),
            "{over} bytes over: {answer:.300}"
        );
    }
}

#[test]
fn take_chunk_never_holds_more_than_the_bound() {
    let line = request_of(CONTROL_REQUEST_MAX_BYTES + 1);
    for cut in [1, 7, 4096, line.len()] {
        let mut held = Vec::new();
        let mut refused = false;
        for chunk in line.chunks(cut) {
            match control::take_chunk(&mut held, chunk) {
                Ok(true) => break,
                Ok(false) => {}
                Err(_) => {
                    refused = true;
                    break;
                }
            }
        }
        assert!(refused, "chunks of {cut}: a line over the bound was taken");
    }
}

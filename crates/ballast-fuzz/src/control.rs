//! The supervisor's control protocol (`run/supervisor.sock`, one JSON line each way): the
//! request framing and decoding the supervisor does, and the answer decoding the CLI does.

use ballast_supervisor::control::{self, Request};
use ballast_supervisor::limits::{CONTROL_ANSWER_MAX_BYTES, CONTROL_REQUEST_MAX_BYTES};

use crate::select;

/// The selector's low bit: a request (cut into chunks as a socket may deliver it) or an
/// answer. A request that decodes is written again and must decode to itself.
pub fn protocol(data: &[u8]) {
    let (sel, rest) = select(data);
    if sel & 1 == 0 {
        request(sel >> 1, rest);
    } else {
        answer(rest);
    }
}

fn request(cut: u8, bytes: &[u8]) {
    // The connection's reads: chunks of 1 + `cut` bytes, as a socket may cut them.
    let mut line = Vec::new();
    let mut whole = false;
    for chunk in bytes.chunks(usize::from(cut) + 1) {
        match control::take_chunk(&mut line, chunk) {
            Ok(true) => {
                whole = true;
                break;
            }
            Ok(false) => {}
            Err(_) => return,
        }
        assert!(
            line.len() <= CONTROL_REQUEST_MAX_BYTES,
            "the request line outgrew its bound"
        );
    }
    assert!(
        line.len() <= CONTROL_REQUEST_MAX_BYTES,
        "a request over its bound was taken"
    );
    // A connection closed before a newline: what was sent is the request (as the server reads).
    let _ = whole;
    if let Ok(req) = control::parse_request(&line) {
        round_trip(&req);
    }
}

fn round_trip(req: &Request) {
    let Ok(text) = serde_json::to_string(req) else {
        panic!("a request does not serialize");
    };
    match control::parse_request(text.as_bytes()) {
        Ok(back) => assert_eq!(&back, req, "request round trip through {text}"),
        Err(e) => panic!("a request written does not read back: {e}"),
    }
}

fn answer(bytes: &[u8]) {
    if bytes.len() as u64 > CONTROL_ANSWER_MAX_BYTES + 1 {
        return;
    }
    if let Err(e) = control::parse_answer("/fuzz/run/supervisor.sock", bytes) {
        assert!(!e.to_string().is_empty());
    }
}

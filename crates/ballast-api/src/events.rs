//! `/v1/events`: server-sent events of the engine journal's records, the ops journal's
//! records and the supervisor's health changes, as the follower reads them (within a few
//! milliseconds of a record being durable: the follower looks every [`crate::follow::POLL_MS`]).
//!
//! - `event:` is the record type's family (`market`, `engine`, `order`, `heal`, `alert`,
//!   `service`, … and `health`); `data:` is one line of JSON: `{"seq","ts","type","body"}` for
//!   a record, the health report for `health`.
//! - `id:` of a record's event is the cursor `<engine seq>.<ops seq>` after it. Reconnecting
//!   with `Last-Event-ID` (or `?after=` where a browser cannot set the header) resumes exactly
//!   after that event: no gap, no duplicate. Health is a state, not a record: the current
//!   report is sent first on every stream and its events carry no id.
//! - A stream resuming from before the oldest kept event ([`EVENTS_KEPT_COUNT`]) first gets a
//!   `missed` event (reload the lists); a stream that falls [`STREAM_LAG_MAX_COUNT`] events
//!   behind gets a `dropped` event and is closed (a slow client is dropped, never buffered
//!   without bound). At most [`STREAMS_MAX_COUNT`] streams are open at once (503 beyond).
//! - A comment line is sent every [`KEEP_ALIVE_SECS`] seconds of silence.
//!
//! Events come only from the journals and the health report, which carry no secret.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::routing::get;
use futures_util::Stream;
use tokio::sync::broadcast::{self, error::RecvError};

use crate::ApiError;
use crate::follow::Follower;
pub use crate::follow::hub::EVENTS_KEPT_COUNT;
use crate::follow::hub::{Cursor, Event, STREAM_LAG_MAX_COUNT};
use crate::page::Params;
use crate::routes::{Param, RouteDoc, Routes};

/// Streams open at once, at most (one more is refused with 503).
pub const STREAMS_MAX_COUNT: usize = 32;
/// Seconds of silence after which a keep-alive comment is sent.
pub const KEEP_ALIVE_SECS: u64 = 15;

#[derive(Clone)]
pub struct EventsState {
    pub follower: Arc<Follower>,
    open: Arc<AtomicUsize>,
    max: usize,
}

/// The route of this module, with at most [`STREAMS_MAX_COUNT`] streams.
pub fn routes(follower: Arc<Follower>) -> Routes {
    routes_bounded(follower, STREAMS_MAX_COUNT)
}

/// As [`routes`], with at most `max` streams open at once.
pub fn routes_bounded(follower: Arc<Follower>, max: usize) -> Routes {
    Routes::default()
        .add(
            RouteDoc {
                query: &[Param {
                    name: "after",
                    description: "resume after the event with this id (as the Last-Event-ID header)",
                }],
                answer: Some(answer_schema),
                ..RouteDoc::new(
                    "GET",
                    "/v1/events",
                    "Server-sent events: journal records, ops records and health changes",
                )
            },
            get(events),
        )
        .with_state(EventsState {
            follower,
            open: Arc::new(AtomicUsize::new(0)),
            max,
        })
}

fn answer_schema() -> serde_json::Value {
    serde_json::json!({
        "type": "string",
        "description": "text/event-stream: `id: <engine seq>.<ops seq>`, `event: <family>`, `data: <JSON>`",
    })
}

/// The cursor a stream starts after: `Last-Event-ID` first, then `?after=`; `None`: from now.
pub fn start_cursor(
    last_event_id: Option<&str>,
    after: Option<&str>,
) -> Result<Option<Cursor>, ApiError> {
    let bad = |field: &str, v: &str| {
        ApiError::invalid(
            field,
            format!(
                "{field} {:?} is not an event id of this stream (`<engine seq>.<ops seq>`, e.g. 120.4); leave it out to start from now",
                v.chars().take(64).collect::<String>()
            ),
        )
    };
    if let Some(v) = last_event_id.filter(|v| !v.trim().is_empty()) {
        return Cursor::parse(v)
            .map(Some)
            .ok_or_else(|| bad("Last-Event-ID", v));
    }
    match after {
        Some(v) => Cursor::parse(v).map(Some).ok_or_else(|| bad("after", v)),
        None => Ok(None),
    }
}

/// One open stream's place in the bound; freed when the stream is dropped.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

struct Open {
    pending: VecDeque<SseEvent>,
    live: broadcast::Receiver<Arc<Event>>,
    done: bool,
    /// Given back as soon as the stream is dropped for lagging (its last bytes may wait on a
    /// client that reads nothing).
    slot: Option<Slot>,
}

fn sse(e: &Event) -> SseEvent {
    let out = SseEvent::default().event(&e.family).data(&e.data);
    match e.source {
        crate::follow::hub::Source::Health => out,
        _ => out.id(e.cursor.token()),
    }
}

async fn events(
    State(s): State<EventsState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let p = Params::parse(q.as_deref(), &[])?;
    if p.get("limit").is_some() {
        return Err(ApiError::invalid(
            "limit",
            "/v1/events takes no limit: it streams",
        ));
    }
    let last = match headers.get("last-event-id") {
        Some(v) => Some(v.to_str().map_err(|_| {
            ApiError::invalid("Last-Event-ID", "Last-Event-ID is not visible ASCII")
        })?),
        None => None,
    };
    let cursor = start_cursor(last, p.get("after"))?;
    if s.open.fetch_add(1, Ordering::AcqRel) >= s.max {
        s.open.fetch_sub(1, Ordering::AcqRel);
        return Err(ApiError {
            retry_after: Some(5),
            ..ApiError::unavailable(format!(
                "{} event streams are open, the most allowed; close one or try again later",
                s.max
            ))
        });
    }
    let slot = Slot(Arc::clone(&s.open));
    let sub = s.follower.hub().subscribe(cursor);
    let mut pending = VecDeque::new();
    if sub.missed {
        pending.push_back(SseEvent::default().event("missed").data(format!(
            "{{\"message\":\"events after {} are no longer kept (the newest {EVENTS_KEPT_COUNT} are); reload the lists, then follow from here\"}}",
            cursor.map(Cursor::token).unwrap_or_default()
        )));
    }
    if let Some(h) = &sub.health {
        pending.push_back(sse(h));
    }
    pending.extend(sub.backlog.iter().map(|e| sse(e)));
    let open = Open {
        pending,
        live: sub.live,
        done: false,
        slot: Some(slot),
    };
    let stream = futures_util::stream::unfold(open, |mut st| async move {
        if let Some(e) = st.pending.pop_front() {
            return Some((Ok(e), st));
        }
        if st.done {
            return None;
        }
        match st.live.recv().await {
            Ok(e) => Some((Ok(sse(&e)), st)),
            Err(RecvError::Lagged(n)) => {
                st.done = true;
                st.slot = None;
                let e = SseEvent::default().event("dropped").data(format!(
                    "{{\"message\":\"this stream fell {n} events behind (more than {STREAM_LAG_MAX_COUNT}) and is closed; reconnect with Last-Event-ID to resume\"}}"
                ));
                Some((Ok(e), st))
            }
            Err(RecvError::Closed) => None,
        }
    });
    Ok(Sse::new(stream).keep_alive(
        KeepAlive::new()
            .interval(Duration::from_secs(KEEP_ALIVE_SECS))
            .text("keep-alive"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_wins_and_a_bad_id_names_its_field() {
        let c = start_cursor(Some("5.2"), Some("1.1")).unwrap();
        assert_eq!(c, Some(Cursor { engine: 5, ops: 2 }));
        assert_eq!(
            start_cursor(None, Some("1.1")).unwrap(),
            Some(Cursor { engine: 1, ops: 1 })
        );
        assert_eq!(start_cursor(None, None).unwrap(), None);
        let e = start_cursor(Some("x"), None).unwrap_err();
        assert_eq!((e.status, e.field.as_deref()), (422, Some("Last-Event-ID")));
        let e = start_cursor(None, Some("7")).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("after"));
    }
}

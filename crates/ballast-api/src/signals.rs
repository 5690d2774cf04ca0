//! Signals over HTTP (issue 13 item 3): `POST /v1/signals` validates a signal with the inbox's
//! own parser ([`ballast_core::inbox::parse_signal`]) and answers `202 {"signal_id",
//! "status": "accepted"}` only once its record is durable in `journal/signals/` (one writer
//! thread: concurrent posts share one write and one `fdatasync`); the engine takes the
//! records in order and journals the last seq it took, so each signal is taken exactly once.
//! `GET /v1/signals` lists them with their state as the engine's journal tells it ([`list`]).
//!
//! What is decided — the id, the idempotency index, the backlog bound — is in
//! [`ballast_core::intake`]; this carries it out:
//!
//! - the same `idempotency_key` with the same signal again: `200 {"signal_id" (the first
//!   one's), "status": "duplicate"}`, nothing journaled; with another signal: 422; while the
//!   first request with it is being made durable: 409 (retry). The newest
//!   [`SIGNALS_DEDUP_KEYS_COUNT`] keys are remembered, rebuilt from the journal at a start.
//! - over `[api] signals_max_backlog` signals not yet taken by the engine (its heartbeat says
//!   what it took): 429 with `Retry-After`, nothing journaled.
//! - a body over [`SIGNALS_BODY_MAX_BYTES`]: 413, unread beyond the bound.

mod list;
mod writer;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use ballast_core::Clock;
use ballast_core::config::{Config, Mode};
use ballast_core::domain::Symbol;
use ballast_core::inbox::{ExternalSignal, parse_signal};
use ballast_core::intake::{self, Backlogged, JournaledSignal, KeyIndex, Lookup};
use ballast_core::limits::{SIGNALS_BODY_MAX_BYTES, SIGNALS_DEDUP_KEYS_COUNT};
use ballast_store::record::RecordRef;
use ballast_store::{Journal, JournalOptions, Layout, OpenPolicy, Storage};
use serde::Serialize;

use crate::error::ApiError;
use crate::routes::{Access, Param, RouteDoc, Routes};

/// How long the engine's heartbeat is trusted before it is read again.
const HEARTBEAT_REREAD: Duration = Duration::from_millis(20);
/// A heartbeat older than this: the engine is not running (`Retry-After` is longer).
const ENGINE_STALE_MS: i64 = 5_000;

/// The signals routes' state: the journal the API writes, the key index, the engine's progress.
#[derive(Clone)]
pub struct SignalsState {
    inner: Arc<Inner>,
}

struct Inner {
    journal: Journal,
    layout: Layout,
    storage: Arc<dyn Storage>,
    clock: Arc<dyn Clock>,
    symbols: Vec<Symbol>,
    max_backlog: u64,
    max_record_bytes: u64,
    intake: Arc<Mutex<Intake>>,
    /// The queue of the one writer of `journal/signals/` ([`writer`]).
    writer: tokio::sync::mpsc::UnboundedSender<writer::Job>,
    taken: Mutex<Taken>,
    engine: Mutex<list::EngineFollow>,
    /// Where the last pages of `GET /v1/signals` stopped.
    pages: Mutex<std::collections::VecDeque<ballast_store::journal::follow::Follower>>,
}

struct Intake {
    keys: KeyIndex,
    /// Appends under way (journaled soon: counted in the backlog).
    in_flight: u64,
}

/// What the engine's heartbeat said, and when it was read.
struct Taken {
    read: Option<Instant>,
    seq: u64,
    running: bool,
}

/// The answer of `POST /v1/signals`.
#[derive(Debug, Clone, Serialize)]
pub struct Accepted {
    pub signal_id: String,
    /// `accepted` (202: journaled now) or `duplicate` (200: journaled before, same key).
    pub status: &'static str,
}

impl SignalsState {
    /// Open `journal/signals/` (repairing a torn tail as every journal writer does; a damaged
    /// journal is salvaged in paper mode and refused in live mode, as the engine's) and
    /// rebuild the key index from it.
    pub fn open(
        layout: &Layout,
        config: &Config,
        storage: Arc<dyn Storage>,
        clock: Arc<dyn Clock>,
    ) -> Result<SignalsState, String> {
        let mut keys = KeyIndex::new(SIGNALS_DEDUP_KEYS_COUNT);
        let dir = layout.signals_journal();
        let policy = match config.general.mode {
            Mode::Paper => OpenPolicy::SalvageDangerous,
            Mode::Live => OpenPolicy::RefuseDangerous,
        };
        let mut visit = |r: &RecordRef<'_>| {
            if r.kind == intake::RECORD {
                if let Ok(j) = serde_json::from_str::<JournaledSignal>(r.body.get()) {
                    if let Some(k) = &j.signal.idempotency_key {
                        keys.remember(k, r.seq, intake::fingerprint(&j.signal));
                    }
                }
            }
            Ok(())
        };
        let (journal, _report) = Journal::open(
            Arc::clone(&storage),
            layout,
            &dir,
            Arc::clone(&clock),
            JournalOptions::from(&config.journal),
            policy,
            &mut visit,
        )
        .map_err(|e| format!("cannot open {}: {e}", layout.display(&dir)))?;
        // The engine took signals up to a seq this journal does not reach: it was replaced or
        // cut. New signals would get seqs the engine believes it took — never taken, silently.
        let last = journal.durable_seq();
        if let Some((taken, _)) = ballast_store::files::heartbeat::signals_taken(&*storage, layout)
            .filter(|(taken, _)| *taken > last)
        {
            return Err(format!(
                "{} ends at seq {last} but the engine took signals up to seq {taken} (its heartbeat says): the journal was replaced or cut, and new signals would never be taken; put the journal back, or move it aside and start the engine on a fresh data directory",
                layout.display(&dir)
            ));
        }
        let intake = Arc::new(Mutex::new(Intake { keys, in_flight: 0 }));
        let writer = writer::start(
            journal.clone(),
            Arc::clone(&intake),
            Arc::clone(&clock),
            layout.clone(),
        )?;
        Ok(SignalsState {
            inner: Arc::new(Inner {
                writer,
                intake,
                journal,
                layout: layout.clone(),
                storage,
                clock,
                symbols: config.feed.symbols.clone(),
                max_backlog: config.api.signals_max_backlog,
                max_record_bytes: config.journal.max_record_bytes,
                taken: Mutex::new(Taken {
                    read: None,
                    seq: 0,
                    running: false,
                }),
                engine: Mutex::new(list::EngineFollow::new(layout, config)),
                pages: Mutex::new(std::collections::VecDeque::new()),
            }),
        })
    }

    /// The last seq durable in `journal/signals/`.
    pub fn appended(&self) -> u64 {
        self.inner.journal.durable_seq()
    }

    /// The backlog as the backpressure sees it (for metrics): signals appended, and the last
    /// seq the engine took (its heartbeat, read at most every 20 ms).
    pub fn backlog(&self) -> (u64, u64) {
        (self.appended(), self.inner.engine_progress().0)
    }
}

/// `POST /v1/signals` (operator) and `GET /v1/signals` (viewer).
pub fn routes(state: SignalsState) -> Routes {
    Routes::default()
        .add(
            RouteDoc {
                access: Access::Operator,
                body: Some(signal_schema),
                answer: Some(accepted_schema),
                ..RouteDoc::new(
                    "POST",
                    "/v1/signals",
                    "Submit a signal: 202 once it is durable in journal/signals/ (200 for a repeat of an idempotency_key), 422 naming the bad field, 429 with Retry-After when the engine is behind by [api] signals_max_backlog",
                )
            },
            post(submit),
        )
        .add(
            RouteDoc {
                access: Access::Viewer,
                query: LIST_PARAMS,
                answer: Some(list::page_schema),
                ..RouteDoc::new(
                    "GET",
                    "/v1/signals",
                    "The signals accepted over HTTP, oldest first, with their state as the engine's journal tells it",
                )
            },
            get(list::list),
        )
        .with_state(state)
}

const LIST_PARAMS: &[Param] = &[
    Param {
        name: "limit",
        description: "signals in the page, 1 to 1000 (default 100)",
    },
    Param {
        name: "after",
        description: "the `next` cursor of the previous page (a signal id, api-<seq>)",
    },
    Param {
        name: "status",
        description: "only signals in this state (NEW, APPROVED, REJECTED, SUBMITTED, PARTIALLY_FILLED, FILLED, CANCELLED, EXPIRED, FAILED)",
    },
    Param {
        name: "symbol",
        description: "only signals for this symbol",
    },
    Param {
        name: "strategy",
        description: "only signals of this strategy",
    },
];

async fn submit(
    State(s): State<SignalsState>,
    body: Body,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let bytes = axum::body::to_bytes(body, SIGNALS_BODY_MAX_BYTES)
        .await
        .map_err(|_| {
            ApiError::new(
                413,
                "too_large",
                format!(
                    "the body is larger than {SIGNALS_BODY_MAX_BYTES} bytes (or was cut off); send one signal of at most that size"
                ),
            )
        })?;
    let signal = parse(&bytes, &s.inner.symbols)?;
    let print = intake::fingerprint(&signal);
    let key = signal.idempotency_key.clone();
    if let Some(done) = s.reserve(key.as_deref(), print)? {
        return Ok((StatusCode::OK, Json(done)));
    }
    // Queued at once (no await before it: the reserved place and key are always settled by
    // the writer, even if the client goes away now).
    let (reply, answer) = tokio::sync::oneshot::channel();
    let job = writer::Job {
        signal,
        key: key.clone(),
        print,
        reply,
    };
    if s.inner.writer.send(job).is_err() {
        s.inner.unreserve(key.as_deref());
        return Err(ApiError::unavailable(
            "the journal/signals writer has stopped; nothing was taken: restart Ballast",
        ));
    }
    let appended = answer.await.map_err(|_| {
        ApiError::internal("the journal append did not finish; retry with the same idempotency_key")
    })??;
    Ok((
        StatusCode::ACCEPTED,
        Json(Accepted {
            signal_id: intake::signal_id(appended),
            status: "accepted",
        }),
    ))
}

/// The body as a signal, or the error that names the field.
pub(crate) fn parse(bytes: &[u8], symbols: &[Symbol]) -> Result<ExternalSignal, ApiError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| ApiError::bad_request("the body is not UTF-8 text; send a JSON object"))?;
    parse_signal(text, symbols).map_err(|e| match e.field {
        Some(field) => ApiError::invalid(field, e.message),
        None => ApiError::bad_request(format!(
            "{}; send a JSON object such as {{\"symbol\":\"AAPL\",\"side\":\"buy\",\"qty\":\"10\",\"idempotency_key\":\"my-1\"}}",
            e.message
        )),
    })
}

impl SignalsState {
    /// Under the index lock: the answer for a repeated key, or a refusal, or a place taken in
    /// the backlog (and the key reserved) for a new signal.
    fn reserve(&self, key: Option<&str>, print: u64) -> Result<Option<Accepted>, ApiError> {
        let (taken, running) = self.inner.engine_progress();
        let mut st = self.inner.lock_intake();
        if let Some(k) = key {
            match st.keys.look(k, print) {
                Lookup::New => {}
                Lookup::Duplicate(seq) => {
                    return Ok(Some(Accepted {
                        signal_id: intake::signal_id(seq),
                        status: "duplicate",
                    }));
                }
                Lookup::Conflict(seq) => {
                    return Err(ApiError::invalid(
                        "idempotency_key",
                        format!(
                            "idempotency_key {k} was used for another signal ({}); use a new key for a new signal",
                            intake::signal_id(seq)
                        ),
                    ));
                }
                Lookup::InProgress => {
                    return Err(ApiError::new(
                        409,
                        "conflict",
                        format!(
                            "a request with idempotency_key {k} is being made durable now; retry it in a moment for its answer"
                        ),
                    ));
                }
            }
        }
        let appended = self.inner.journal.durable_seq();
        intake::admit(
            appended,
            st.in_flight,
            taken,
            self.inner.max_backlog,
            running,
        )
        .map_err(backlogged)?;
        st.in_flight += 1;
        if let Some(k) = key {
            st.keys.reserve(k, print);
        }
        Ok(None)
    }
}

fn backlogged(b: Backlogged) -> ApiError {
    ApiError::too_many(
        format!(
            "{} signals wait for the engine ([api] signals_max_backlog = {}): nothing was journaled; retry after {} s{}",
            b.backlog,
            b.bound,
            b.retry_after_secs,
            if b.retry_after_secs > 1 {
                " (the engine is not running: its heartbeat is stale or missing)"
            } else {
                ""
            }
        ),
        b.retry_after_secs,
    )
}

impl Inner {
    fn lock_intake(&self) -> std::sync::MutexGuard<'_, Intake> {
        self.intake.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Give back a reserved place and key (the signal was not queued).
    fn unreserve(&self, key: Option<&str>) {
        let mut st = self.lock_intake();
        st.in_flight = st.in_flight.saturating_sub(1);
        if let Some(k) = key {
            st.keys.release(k);
        }
    }

    /// The last seq the engine took and whether it runs (its heartbeat, read at most every
    /// [`HEARTBEAT_REREAD`]).
    fn engine_progress(&self) -> (u64, bool) {
        let mut t = self.taken.lock().unwrap_or_else(PoisonError::into_inner);
        if t.read.is_none_or(|r| r.elapsed() >= HEARTBEAT_REREAD) {
            let hb = ballast_store::files::heartbeat::signals_taken(&*self.storage, &self.layout);
            let now = self.clock.now();
            // A heartbeat that says less than before (an engine of an older build) keeps the
            // newer figure; none at all: nothing taken that we know of.
            t.seq = t.seq.max(hb.map_or(0, |h| h.0));
            t.running = hb.is_some_and(|(_, at)| now.ms_since(at) < ENGINE_STALE_MS);
            t.read = Some(Instant::now());
        }
        (t.seq, t.running)
    }
}

fn signal_schema() -> serde_json::Value {
    let dec = serde_json::json!({"oneOf": [{"type": "string"}, {"type": "number"}]});
    serde_json::json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["symbol"],
        "description": "Either side and qty (an order), side and notional (that much money's worth, at the limit price or the last price), or target_qty (a signed target position).",
        "properties": {
            "symbol": {"type": "string", "description": "a symbol of [feed] symbols"},
            "side": {"type": "string", "enum": ["buy", "sell"]},
            "qty": dec,
            "target_qty": dec,
            "notional": dec,
            "reason": {"type": "string", "maxLength": 200},
            "strategy": {"type": "string", "maxLength": 200},
            "limit_price": dec,
            "idempotency_key": {"type": "string", "minLength": 1, "maxLength": 64},
            "ttl_secs": {"type": "integer", "minimum": 1, "maximum": 86400, "description": "seconds after acceptance within which the engine must take it; past them it is EXPIRED, never traded late"},
        }
    })
}

fn accepted_schema() -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "required": ["signal_id", "status"],
        "properties": {
            "signal_id": {"type": "string", "description": "api-<seq>: the record's seq in journal/signals/"},
            "status": {"type": "string", "enum": ["accepted", "duplicate"]},
        }
    })
}

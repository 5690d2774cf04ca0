//! The HTTP client: every request through the rate budget, with connect and request timeouts,
//! the auth headers, a bounded body read, and retries per the backoff policy for idempotent
//! calls only. It carries out the pure decisions of `ballast_core::venue`; every error comes
//! out as a [`VenueError`] in words with its SPEC §7 class — never with the secret in it.

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use ballast_core::Clock;
use ballast_core::heal::FailureClass;
use ballast_core::venue::backoff::{self, BackoffPolicy, Retry};
use ballast_core::venue::budget::{Budget, BudgetConfig, Priority, ServerHint};
use ballast_core::venue::classify::{self, Action, Call, Failure, Verdict, class_name};
use reqwest::Method;

use crate::model::ErrorBody;
use crate::secrets::Credentials;
use crate::wire::clip;

/// The largest body read from the venue; a longer one is a contract break (4 MiB: a page of
/// 500 orders is about 0.5 MiB).
pub const MAX_BODY_BYTES: u64 = 4 << 20;
/// The largest page the venue serves (`limit` of `GET /v2/orders`).
pub const MAX_PAGE_SIZE: u32 = 500;
/// Pages one call reads at most (`orders_since`, the bars): more are left for the next call.
pub const MAX_PAGES_BOUND: u32 = 100;

/// The adapter's settings (P4 maps `[broker.alpaca]` and the credentials into it).
#[derive(Debug, Clone)]
pub struct AlpacaSettings {
    /// The Trading API: `https://paper-api.alpaca.markets` or `https://api.alpaca.markets`.
    pub base_url: String,
    /// The Market Data API: `https://data.alpaca.markets`.
    pub data_url: String,
    pub credentials: Credentials,
    /// Live trading (the live endpoint and a live key) or paper.
    pub live: bool,
    /// Establishing a connection, at most (default 5 s).
    pub connect_timeout_ms: u64,
    /// One request from send to the end of its body, at most (default 10 s).
    pub request_timeout_ms: u64,
    /// Requests a minute the client allows itself (default 180, below Alpaca's 200).
    pub rate_limit_per_min: u32,
    /// Retries of a transient failure of an idempotent call (default 3; never a submit).
    pub max_retries: u32,
    /// Orders per page asked of `GET /v2/orders` (default 100, at most 500).
    pub page_size: u32,
    /// Pages read per call at most (default 10).
    pub max_pages: u32,
    /// The longest a call waits for the rate budget (or a server's `Retry-After`) before it
    /// gives up with a transient error (default 5 s: the engine's loop is not held longer).
    pub max_wait_ms: u64,
    /// The longest one call takes across all its tries, backoffs and budget waits (default
    /// 15 s): the engine is synchronous, so no call holds it longer. A try is sent with at
    /// most what is left as its timeout; a retry or a wait that would pass the deadline is
    /// not made (the call fails transient, or unknown for a submit, as a timeout would).
    pub call_deadline_ms: u64,
}

/// The longest a read (not a submit or a cancel) waits for the budget or a server's pause:
/// the engine's loop is never held longer by one.
const POLLING_WAIT_MS: u64 = 250;

/// The default [`AlpacaSettings::call_deadline_ms`].
pub const DEFAULT_CALL_DEADLINE_MS: u64 = 15_000;

impl AlpacaSettings {
    /// The defaults for `base_url`, `data_url` and the credentials.
    pub fn new(base_url: &str, data_url: &str, credentials: Credentials, live: bool) -> Self {
        AlpacaSettings {
            base_url: base_url.trim_end_matches('/').to_owned(),
            data_url: data_url.trim_end_matches('/').to_owned(),
            credentials,
            live,
            connect_timeout_ms: 5_000,
            request_timeout_ms: 10_000,
            rate_limit_per_min: 180,
            max_retries: 3,
            page_size: 100,
            max_pages: 10,
            max_wait_ms: 5_000,
            call_deadline_ms: DEFAULT_CALL_DEADLINE_MS,
        }
    }

    /// The settings' bounds, in words when broken.
    pub fn validate(&self) -> Result<(), String> {
        for (name, url) in [("base_url", &self.base_url), ("data_url", &self.data_url)] {
            check_url(name, url)?;
        }
        let bounds = [
            ("connect_timeout_ms", self.connect_timeout_ms, 1, 60_000),
            ("request_timeout_ms", self.request_timeout_ms, 1, 120_000),
            ("call_deadline_ms", self.call_deadline_ms, 1, 300_000),
            (
                "page_size",
                u64::from(self.page_size),
                1,
                u64::from(MAX_PAGE_SIZE),
            ),
            (
                "max_pages",
                u64::from(self.max_pages),
                1,
                u64::from(MAX_PAGES_BOUND),
            ),
            ("max_retries", u64::from(self.max_retries), 0, 10),
            (
                "max_wait_ms",
                self.max_wait_ms,
                0,
                backoff::MAX_SERVER_WAIT_MS,
            ),
        ];
        for (name, value, min, max) in bounds {
            if value < min || value > max {
                return Err(format!(
                    "[broker.alpaca] {name} = {value}: must be {min} to {max}"
                ));
            }
        }
        BudgetConfig::per_minute(self.rate_limit_per_min)
            .validate()
            .map_err(|e| format!("[broker.alpaca] rate_limit_per_min: {e}"))
    }
}

/// A venue call that failed, classified (SPEC §7) and in words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text}")]
pub struct VenueError {
    /// `METHOD path`.
    pub call: String,
    pub kind: Call,
    pub verdict: Verdict,
    /// The venue's status, when it answered.
    pub status: Option<u16>,
    /// The venue's message, when it gave one.
    pub message: String,
    /// The whole text: what, where, the class and what to do.
    pub text: String,
}

impl VenueError {
    pub fn class(&self) -> FailureClass {
        self.verdict.class
    }

    pub fn action(&self) -> Action {
        self.verdict.action
    }
}

/// What to do, in words, after a failure of this kind.
fn advice(action: Action) -> &'static str {
    match action {
        Action::Retry => "the next pass asks again",
        Action::SettleByLookup => {
            "the order's outcome is unknown: it stays in flight and is looked up by client_order_id, never sent again blind"
        }
        Action::NotSent => {
            "the venue did not take the order: it may be sent again with the same client_order_id"
        }
        Action::Rejected => "the venue refused it",
        Action::LookUp => "the client_order_id is already used: the order is looked up",
        Action::Absent => "the venue does not know it",
        Action::NotCancelable => "the order is no longer open",
        Action::StopTrading => {
            "trading stops (FAILED_CONFIG): check the key id and secret, their permissions and the base URL; no retry loop"
        }
        Action::Halt => {
            "trading stops (FAILED_API_SCHEMA): the venue's answer no longer matches the contract this build knows"
        }
    }
}

/// A successful answer: its status and body (at most [`MAX_BODY_BYTES`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Which API a request goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Trading,
    Data,
}

/// One request.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub kind: Call,
    pub method: Method,
    pub api: Api,
    pub path: &'a str,
    pub query: Vec<(&'a str, String)>,
    pub body: Option<Vec<u8>>,
    /// Part of a submit or a cancel (a lookup that settles one): may use the budget's reserve.
    pub urgent: bool,
}

impl<'a> Request<'a> {
    pub fn get(kind: Call, path: &'a str) -> Self {
        Request {
            kind,
            method: Method::GET,
            api: Api::Trading,
            path,
            query: Vec::new(),
            body: None,
            urgent: false,
        }
    }
}

/// The HTTP client (see the module doc).
pub struct Client {
    http: reqwest::blocking::Client,
    settings: AlpacaSettings,
    budget: Budget,
    policy: BackoffPolicy,
    clock: Arc<dyn Clock>,
    /// Counts requests: with the key id, the jitter's seed.
    sent: u64,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.settings.base_url)
            .field("credentials", &self.settings.credentials)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client for `settings`, on `clock` (the wall clock in production:
    /// `ballast_store::SystemClock`).
    pub fn new(settings: AlpacaSettings, clock: Arc<dyn Clock>) -> Result<Client, String> {
        settings.validate()?;
        let http = reqwest::blocking::Client::builder()
            .connect_timeout(Duration::from_millis(settings.connect_timeout_ms))
            .timeout(Duration::from_millis(settings.request_timeout_ms))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("ballast/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("the Alpaca HTTP client could not be built: {e}"))?;
        let budget = Budget::new(BudgetConfig::per_minute(settings.rate_limit_per_min))?;
        let policy = BackoffPolicy {
            max_retries: settings.max_retries,
            ..BackoffPolicy::default()
        };
        Ok(Client {
            http,
            settings,
            budget,
            policy,
            clock,
            sent: 0,
        })
    }

    pub fn settings(&self) -> &AlpacaSettings {
        &self.settings
    }

    /// Send `req` (through the budget, retried per the policy when idempotent) and return the
    /// 2xx answer, or the classified failure.
    pub fn send(&mut self, req: &Request<'_>) -> Result<Answer, VenueError> {
        let call = format!("{} {}", req.method, req.path);
        let mut retries = 0u32;
        let started = self.clock.now();
        loop {
            let left = self.left_ms(started);
            self.wait_for_budget(req, &call, left)?;
            let left = self.left_ms(started);
            if left == 0 {
                return Err(self.past_deadline(req, &call));
            }
            let outcome = self.once(req, left);
            let now = self.clock.now();
            let (verdict, status, message, server_wait) = match outcome {
                Outcome::Answer(answer) => return Ok(answer),
                Outcome::Status { status, body, hint } => {
                    let failure = Failure::Status {
                        status,
                        code: body.code,
                        message: &body.message,
                    };
                    let verdict = classify::classify(req.kind, failure);
                    (verdict, Some(status), body.message, hint.wait_ms(now))
                }
                Outcome::Transport { text, failure } => {
                    (classify::classify(req.kind, failure), None, text, None)
                }
            };
            let seed = ballast_core::hash::fnv1a(
                self.settings
                    .credentials
                    .key_id()
                    .bytes()
                    .chain(self.sent.to_le_bytes()),
            );
            let why = match backoff::decide(
                &self.policy,
                req.kind,
                verdict,
                retries,
                seed,
                server_wait,
            ) {
                Retry::After { delay_ms } if delay_ms >= self.left_ms(started) => format!(
                    "not retried: the next try would wait {delay_ms} ms, past the call's deadline (call_deadline_ms = {})",
                    self.settings.call_deadline_ms
                ),
                // A polling read never holds the engine's loop for a server-requested
                // pause: it fails fast as transient and is asked again at its next turn.
                Retry::After { delay_ms }
                    if server_wait.is_some()
                        && delay_ms > POLLING_WAIT_MS
                        && Self::priority(req) == Priority::Polling =>
                {
                    format!(
                        "rate limited, retry after {} s: a polling read does not wait (skipped until then)",
                        delay_ms.div_ceil(1000)
                    )
                }
                Retry::After { delay_ms } if delay_ms <= self.settings.max_wait_ms => {
                    retries += 1;
                    std::thread::sleep(Duration::from_millis(delay_ms));
                    continue;
                }
                Retry::After { delay_ms } => format!(
                    "not retried: the next try would wait {delay_ms} ms, over max_wait_ms = {}",
                    self.settings.max_wait_ms
                ),
                Retry::No(why) if verdict.action == Action::Retry => why,
                Retry::No(_) => String::new(),
            };
            return Err(self.error(&call, req.kind, verdict, status, &message, &why));
        }
    }

    /// Milliseconds left of a call started at `started` (0: its deadline passed).
    fn left_ms(&self, started: ballast_core::Timestamp) -> u64 {
        let spent = u64::try_from(self.clock.now().ms_since(started)).unwrap_or(0);
        self.settings.call_deadline_ms.saturating_sub(spent)
    }

    /// The call's deadline passed before a try could be sent: classified as a timeout (for
    /// a submit nothing was sent, so it is refused before the venue saw it).
    fn past_deadline(&self, req: &Request<'_>, call: &str) -> VenueError {
        let verdict = not_sent(req);
        let message = format!(
            "the call's deadline (call_deadline_ms = {}) passed before the next try; not sent",
            self.settings.call_deadline_ms
        );
        self.error(call, req.kind, verdict, None, &message, "")
    }

    fn priority(req: &Request<'_>) -> Priority {
        match req.kind {
            Call::Submit | Call::Cancel => Priority::Urgent,
            _ if req.urgent => Priority::Urgent,
            _ => Priority::Polling,
        }
    }

    /// Take the budget's slot for `req`, waiting up to `max_wait_ms` and at most `left_ms`
    /// (what is left of the call's deadline).
    fn wait_for_budget(
        &mut self,
        req: &Request<'_>,
        call: &str,
        left_ms: u64,
    ) -> Result<(), VenueError> {
        let priority = Self::priority(req);
        // Only submits and cancels wait (bounded by max_wait_ms); a read does not hold the
        // engine's loop for the budget.
        let bound = match priority {
            Priority::Urgent => self.settings.max_wait_ms.min(left_ms),
            Priority::Polling => POLLING_WAIT_MS.min(left_ms),
        };
        let mut waited = 0u64;
        loop {
            match self.budget.take(priority, self.clock.now()) {
                Ok(()) => return Ok(()),
                Err(wait) if waited + wait <= bound => {
                    waited += wait;
                    std::thread::sleep(Duration::from_millis(wait));
                }
                Err(wait) => {
                    let verdict = not_sent(req);
                    let message = format!(
                        "the client-side rate budget ({} requests a minute, or the venue's X-RateLimit/Retry-After) has no slot for {wait} ms more, over max_wait_ms = {} (or the call's deadline, call_deadline_ms = {}); not sent",
                        self.settings.rate_limit_per_min,
                        self.settings.max_wait_ms,
                        self.settings.call_deadline_ms
                    );
                    return Err(self.error(call, req.kind, verdict, None, &message, ""));
                }
            }
        }
    }

    /// One HTTP exchange, within `left_ms` (and `request_timeout_ms`).
    fn once(&mut self, req: &Request<'_>, left_ms: u64) -> Outcome {
        self.sent += 1;
        let base = match req.api {
            Api::Trading => &self.settings.base_url,
            Api::Data => &self.settings.data_url,
        };
        let creds = &self.settings.credentials;
        let mut builder = self
            .http
            .request(req.method.clone(), format!("{base}{}", req.path))
            .header("APCA-API-KEY-ID", creds.key_id())
            .header("APCA-API-SECRET-KEY", creds.secret_key());
        builder = builder.timeout(Duration::from_millis(
            self.settings.request_timeout_ms.min(left_ms).max(1),
        ));
        if !req.query.is_empty() {
            builder = builder.query(&req.query);
        }
        if let Some(body) = &req.body {
            builder = builder
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        let resp = match builder.send() {
            Ok(resp) => resp,
            Err(e) => return transport(&e),
        };
        let status = resp.status().as_u16();
        let hint = ServerHint::from_headers(
            |name| resp.headers().get(name).and_then(|v| v.to_str().ok()),
            status,
        );
        self.budget.observe(&hint, self.clock.now());
        let body = match read_bounded(resp) {
            Ok(body) => body,
            Err(outcome) => return outcome,
        };
        if (200..300).contains(&status) {
            return Outcome::Answer(Answer { status, body });
        }
        Outcome::Status {
            status,
            body: ErrorBody::read(&body),
            hint,
        }
    }

    /// A [`VenueError`] in words, the credentials kept out of it.
    fn error(
        &self,
        call: &str,
        kind: Call,
        verdict: Verdict,
        status: Option<u16>,
        message: &str,
        more: &str,
    ) -> VenueError {
        let what = match status {
            Some(s) if message.is_empty() => format!("answered {s}"),
            Some(s) => format!("answered {s} ({:?})", clip(message)),
            None => message.to_owned(),
        };
        let more = if more.is_empty() {
            String::new()
        } else {
            format!("; {more}")
        };
        let text = format!(
            "Alpaca {call}: {what} — {}: {}{more}",
            class_name(verdict.class),
            advice(verdict.action)
        );
        let creds = &self.settings.credentials;
        VenueError {
            call: call.to_owned(),
            kind,
            verdict,
            status,
            message: creds.redact(message),
            text: creds.redact(&text),
        }
    }

    /// A contract break of a 2xx answer (`detail` names the field and the value).
    pub fn contract_error(&self, call: &str, kind: Call, detail: &str) -> VenueError {
        let verdict = classify::classify(kind, Failure::Contract);
        let detail = detail
            .strip_prefix(call)
            .and_then(|d| d.strip_prefix(": "))
            .unwrap_or(detail);
        self.error(call, kind, verdict, None, detail, "")
    }
}

/// `url` is https, or plain http to this machine only (the keys travel in headers: in clear
/// only to the fake or a local proxy); parsed as a URL, so `http://127.0.0.1:1@evil.example/`
/// (user info before another host) is refused and `http://[::1]:8080` is accepted.
fn check_url(name: &str, url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| {
        format!(
            "[broker.alpaca] {name} = {:?}: not a URL ({e}); write it like https://paper-api.alpaca.markets",
            clip(url)
        )
    })?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(format!(
            "[broker.alpaca] {name} = {:?}: a URL with user info (`…@host`) is refused: the keys go in headers, the host is what follows `@`",
            clip(url)
        ));
    }
    match (parsed.scheme(), parsed.host_str()) {
        ("https", Some(_)) => Ok(()),
        ("http", Some("127.0.0.1" | "localhost" | "[::1]")) => Ok(()),
        ("http", _) => Err(format!(
            "[broker.alpaca] {name} = {:?}: plain http sends the keys in clear; use https (http only to 127.0.0.1, [::1] or localhost)",
            clip(url)
        )),
        _ => Err(format!(
            "[broker.alpaca] {name} = {:?}: not an http(s) URL",
            clip(url)
        )),
    }
}

/// How one exchange ended.
enum Outcome {
    Answer(Answer),
    Status {
        status: u16,
        body: ErrorBody,
        hint: ServerHint,
    },
    Transport {
        text: String,
        failure: Failure<'static>,
    },
}

/// A transport failure's kind: no connection (nothing sent), a timeout, or a dropped one.
fn transport(e: &reqwest::Error) -> Outcome {
    let failure = if e.is_connect() {
        Failure::Connect
    } else if e.is_timeout() {
        Failure::Timeout
    } else {
        Failure::Dropped
    };
    let words = match failure {
        Failure::Connect => "no connection could be made (nothing was sent)",
        Failure::Timeout => "no answer within the request timeout",
        _ => "the connection broke before the answer was complete",
    };
    // reqwest's text carries the URL (never a header): no secret in it.
    let mut text = format!("{words}: {e}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    Outcome::Transport { text, failure }
}

/// The body, at most [`MAX_BODY_BYTES`]; more is a contract break, a broken read a dropped
/// connection.
fn read_bounded(resp: reqwest::blocking::Response) -> Result<Vec<u8>, Outcome> {
    let mut body = Vec::new();
    if let Err(e) = resp.take(MAX_BODY_BYTES + 1).read_to_end(&mut body) {
        return Err(Outcome::Transport {
            text: format!("the connection broke while the answer's body was read: {e}"),
            failure: Failure::Dropped,
        });
    }
    if body.len() as u64 > MAX_BODY_BYTES {
        return Err(Outcome::Transport {
            text: format!(
                "the answer's body is over {MAX_BODY_BYTES} bytes, the most this client reads"
            ),
            failure: Failure::Contract,
        });
    }
    Ok(body)
}

/// The verdict on a request Ballast did not send (no budget slot, or its deadline passed): as
/// a 429 would be — transient, and for a submit certain that the venue never saw it.
fn not_sent(req: &Request<'_>) -> Verdict {
    classify::classify(
        req.kind,
        Failure::Status {
            status: 429,
            code: None,
            message: "",
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(url: &str) -> AlpacaSettings {
        AlpacaSettings::new(
            url,
            "https://data.alpaca.markets",
            Credentials::new("PKX", "s").unwrap(),
            false,
        )
    }

    #[test]
    fn keys_travel_in_clear_only_to_this_machine() {
        assert!(
            settings("https://paper-api.alpaca.markets")
                .validate()
                .is_ok()
        );
        assert!(settings("http://127.0.0.1:8080").validate().is_ok());
        assert!(settings("http://localhost:1/").validate().is_ok());
        assert!(settings("http://[::1]:8080").validate().is_ok());
        assert!(settings("http://[::1]/").validate().is_ok());
        let e = settings("http://127.0.0.1:1@evil.example/")
            .validate()
            .unwrap_err();
        assert!(e.contains("user info"), "{e}");
        assert!(
            settings("http://127.0.0.1.evil.example/")
                .validate()
                .is_err()
        );
        assert!(
            settings("http://localhost.evil.example:80/")
                .validate()
                .is_err()
        );
        let e = settings("http://paper-api.alpaca.markets")
            .validate()
            .unwrap_err();
        assert!(e.contains("https") && e.contains("base_url"), "{e}");
        assert!(settings("ftp://x").validate().is_err());
        let mut s = settings("https://paper-api.alpaca.markets");
        s.page_size = 501;
        assert!(s.validate().unwrap_err().contains("page_size = 501"));
    }

    #[test]
    fn the_broker_can_move_to_another_thread() {
        fn send<T: Send>() {}
        send::<Client>();
        send::<crate::broker::AlpacaBroker>();
    }
}

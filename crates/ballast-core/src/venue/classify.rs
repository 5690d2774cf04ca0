//! A venue call's failure → its SPEC §7 class and what to do (ALPACA.md, "Errors →
//! classification"). Pure: the adapter observes the status, the error body or the transport
//! failure, and carries out the [`Action`].
//!
//! | failure | submit | cancel | lookup | query | account |
//! |---|---|---|---|---|---|
//! | 401 | config, stop | config, stop | config, stop | config, stop | config, stop |
//! | 403 | rejected (risk) | refused (risk) | config, stop | config, stop | config, stop |
//! | 404 | config (endpoint) | absent | absent | config (endpoint) | config (endpoint) |
//! | 422 | rejected (risk); duplicate id → look up | not cancelable | bug, halt | bug, halt | bug, halt |
//! | 429 | not sent (transient) | retry | retry | retry | retry |
//! | 5xx, timeout, dropped | unknown → settle by lookup | retry | retry | retry | retry |
//! | connect failed (nothing sent) | not sent (transient) | retry | retry | retry | retry |
//! | 2xx outside the contract, other 4xx | schema, halt | schema, halt | schema, halt | schema, halt | schema, halt |

use crate::heal::FailureClass;

/// Alpaca's code for a `client_order_id` already used (seen in third-party clients).
pub const DUPLICATE_CLIENT_ORDER_ID_CODE: i64 = 40_010_001;

/// What kind of venue call failed (it decides what a status means).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Call {
    /// `POST /v2/orders`: not idempotent.
    Submit,
    /// `DELETE /v2/orders/{id}` or `DELETE /v2/orders`.
    Cancel,
    /// `GET /v2/orders:by_client_order_id`.
    Lookup,
    /// Every other read: orders, positions, the clock, bars.
    Query,
    /// `GET /v2/account`.
    Account,
}

impl Call {
    /// May the same request be sent again without changing what the venue holds? Everything
    /// but a submit (a cancel sent twice answers 404/422 the second time, which is handled).
    pub fn is_idempotent(self) -> bool {
        !matches!(self, Call::Submit)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Call::Submit => "submit",
            Call::Cancel => "cancel",
            Call::Lookup => "lookup",
            Call::Query => "query",
            Call::Account => "account",
        }
    }
}

/// How a call failed, as observed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure<'a> {
    /// The venue answered with a status outside 2xx, and its error body (`code` may be
    /// absent; `message` is empty when the body had none).
    Status {
        status: u16,
        code: Option<i64>,
        message: &'a str,
    },
    /// The connection could not be made: nothing was sent.
    Connect,
    /// No answer within the timeout after the request was (maybe) sent.
    Timeout,
    /// The connection closed, or broke, after the request was (maybe) sent.
    Dropped,
    /// A 2xx answer whose body breaks the contract (a missing field, a wrong type, too big).
    Contract,
}

/// What the caller does about a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Transient, on an idempotent call: back off ([`super::backoff`]) and send it again.
    Retry,
    /// A submit whose outcome is unknown: the order may be at the venue. Settle it by a lookup
    /// by `client_order_id`; never send it again before the venue said it does not have it.
    SettleByLookup,
    /// A submit the venue refused before accepting it (429) or that never left (no
    /// connection): the order is not there; it may be sent later with the same id.
    NotSent,
    /// The venue refused the order (its word: it does not have it).
    Rejected,
    /// The `client_order_id` was used already: look the order up, never a rejection.
    LookUp,
    /// The venue does not know it (404 on a lookup or a cancel).
    Absent,
    /// A cancel of an order that is no longer open (422).
    NotCancelable,
    /// Credentials or configuration are wrong: stop trading (`FAILED_CONFIG`), no retry loop.
    StopTrading,
    /// The venue's answer no longer matches the contract, or our request is malformed:
    /// stop trading (`FAILED_API_SCHEMA`).
    Halt,
}

/// A classified failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    pub class: FailureClass,
    pub action: Action,
}

impl Verdict {
    const fn of(class: FailureClass, action: Action) -> Verdict {
        Verdict { class, action }
    }
}

/// The SPEC §7 class's name as operators read it.
pub fn class_name(class: FailureClass) -> &'static str {
    match class {
        FailureClass::Transient => "TRANSIENT",
        FailureClass::PersistentConfig => "PERSISTENT_CONFIG",
        FailureClass::CodeSchema => "CODE_SCHEMA",
        FailureClass::LogicRisk => "LOGIC_RISK",
    }
}

/// Is this 422 Alpaca's "client_order_id must be unique"?
pub fn is_duplicate_client_order_id(code: Option<i64>, message: &str) -> bool {
    code == Some(DUPLICATE_CLIENT_ORDER_ID_CODE)
        || message
            .to_ascii_lowercase()
            .contains("client_order_id must be unique")
}

/// Classify `failure` of a `call` (the table in the module doc).
pub fn classify(call: Call, failure: Failure<'_>) -> Verdict {
    use Action as A;
    use FailureClass as C;
    match failure {
        Failure::Status {
            status,
            code,
            message,
        } => classify_status(call, status, code, message),
        Failure::Connect if call == Call::Submit => Verdict::of(C::Transient, A::NotSent),
        Failure::Timeout | Failure::Dropped if call == Call::Submit => {
            Verdict::of(C::Transient, A::SettleByLookup)
        }
        Failure::Connect | Failure::Timeout | Failure::Dropped => {
            Verdict::of(C::Transient, A::Retry)
        }
        Failure::Contract => Verdict::of(C::CodeSchema, A::Halt),
    }
}

fn classify_status(call: Call, status: u16, code: Option<i64>, message: &str) -> Verdict {
    use Action as A;
    use FailureClass as C;
    match (status, call) {
        (401, _) => Verdict::of(C::PersistentConfig, A::StopTrading),
        (403, Call::Submit | Call::Cancel) => Verdict::of(C::LogicRisk, A::Rejected),
        (403, _) => Verdict::of(C::PersistentConfig, A::StopTrading),
        (404, Call::Lookup | Call::Cancel) => Verdict::of(C::LogicRisk, A::Absent),
        (404, _) => Verdict::of(C::PersistentConfig, A::StopTrading),
        (422, Call::Submit) if is_duplicate_client_order_id(code, message) => {
            Verdict::of(C::Transient, A::LookUp)
        }
        (422, Call::Submit) => Verdict::of(C::LogicRisk, A::Rejected),
        (422, Call::Cancel) => Verdict::of(C::LogicRisk, A::NotCancelable),
        (429, Call::Submit) => Verdict::of(C::Transient, A::NotSent),
        (429, _) => Verdict::of(C::Transient, A::Retry),
        (500..=599, Call::Submit) => Verdict::of(C::Transient, A::SettleByLookup),
        (500..=599, _) => Verdict::of(C::Transient, A::Retry),
        // A request timeout the server reports is a timeout.
        (408, Call::Submit) => Verdict::of(C::Transient, A::SettleByLookup),
        (408, _) => Verdict::of(C::Transient, A::Retry),
        // 422 on a read, any other 4xx (our request is malformed), 1xx/3xx (a redirect is not
        // followed: the base URL is not the venue's) or a 2xx seen here: outside the contract.
        _ => Verdict::of(C::CodeSchema, A::Halt),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Action as A;
    use FailureClass as C;

    const ALL: [Call; 5] = [
        Call::Submit,
        Call::Cancel,
        Call::Lookup,
        Call::Query,
        Call::Account,
    ];

    fn status(call: Call, status: u16, code: Option<i64>, message: &str) -> Verdict {
        classify(
            call,
            Failure::Status {
                status,
                code,
                message,
            },
        )
    }

    #[test]
    fn a_401_is_configuration_on_every_call() {
        for call in ALL {
            assert_eq!(
                status(call, 401, None, "unauthorized"),
                Verdict::of(C::PersistentConfig, A::StopTrading),
                "{call:?}"
            );
        }
    }

    #[test]
    fn a_403_rejects_an_order_but_is_configuration_on_the_account() {
        let msg = "insufficient buying power";
        assert_eq!(
            status(Call::Submit, 403, Some(40310000), msg),
            Verdict::of(C::LogicRisk, A::Rejected)
        );
        assert_eq!(
            status(Call::Account, 403, None, "forbidden").class,
            C::PersistentConfig
        );
        assert_eq!(
            status(Call::Query, 403, None, "forbidden").action,
            A::StopTrading
        );
    }

    #[test]
    fn a_422_rejects_an_order_except_a_duplicate_id_which_is_looked_up() {
        assert_eq!(
            status(Call::Submit, 422, Some(40010000), "qty must be > 0"),
            Verdict::of(C::LogicRisk, A::Rejected)
        );
        assert_eq!(
            status(Call::Submit, 422, Some(DUPLICATE_CLIENT_ORDER_ID_CODE), "").action,
            A::LookUp
        );
        assert_eq!(
            status(Call::Submit, 422, None, "client_order_id must be unique").action,
            A::LookUp,
            "by its message when the code is absent"
        );
        assert_eq!(
            status(Call::Cancel, 422, None, "order is not cancelable").action,
            A::NotCancelable
        );
        assert_eq!(
            status(Call::Query, 422, None, "invalid limit").action,
            A::Halt
        );
    }

    #[test]
    fn not_found_is_an_answer_on_a_lookup_and_a_cancel_only() {
        assert_eq!(
            status(Call::Lookup, 404, None, "order not found").action,
            A::Absent
        );
        assert_eq!(
            status(Call::Cancel, 404, None, "order not found").action,
            A::Absent
        );
        assert_eq!(status(Call::Account, 404, None, "").action, A::StopTrading);
    }

    #[test]
    fn rate_limits_and_outages_are_transient_and_a_submit_is_never_retried() {
        for failure in [
            Failure::Status {
                status: 429,
                code: None,
                message: "rate limit exceeded",
            },
            Failure::Status {
                status: 500,
                code: None,
                message: "",
            },
            Failure::Status {
                status: 503,
                code: None,
                message: "",
            },
            Failure::Timeout,
            Failure::Dropped,
            Failure::Connect,
        ] {
            for call in ALL {
                let v = classify(call, failure);
                assert_eq!(v.class, C::Transient, "{call:?} {failure:?}");
                assert_eq!(
                    v.action == A::Retry,
                    call.is_idempotent(),
                    "{call:?} {failure:?}"
                );
            }
        }
        assert_eq!(status(Call::Submit, 429, None, "").action, A::NotSent);
        assert_eq!(
            status(Call::Submit, 504, None, "").action,
            A::SettleByLookup
        );
        assert_eq!(
            classify(Call::Submit, Failure::Timeout).action,
            A::SettleByLookup
        );
        assert_eq!(
            classify(Call::Submit, Failure::Dropped).action,
            A::SettleByLookup
        );
        assert_eq!(classify(Call::Submit, Failure::Connect).action, A::NotSent);
    }

    #[test]
    fn no_answer_is_never_a_rejection() {
        for failure in [Failure::Timeout, Failure::Dropped, Failure::Connect] {
            for call in ALL {
                assert_ne!(classify(call, failure).action, A::Rejected);
            }
        }
        for s in 500..600 {
            assert_ne!(status(Call::Submit, s, None, "").action, A::Rejected);
        }
    }

    #[test]
    fn a_broken_contract_halts() {
        for call in ALL {
            assert_eq!(
                classify(call, Failure::Contract),
                Verdict::of(C::CodeSchema, A::Halt)
            );
            assert_eq!(status(call, 400, None, "").class, C::CodeSchema);
            assert_eq!(status(call, 302, None, "").action, A::Halt);
        }
        assert_eq!(class_name(C::CodeSchema), "CODE_SCHEMA");
    }
}

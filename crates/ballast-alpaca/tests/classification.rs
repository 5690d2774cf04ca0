//! One test per row of ALPACA.md's "Errors → classification", against the fake over HTTP.

mod common;

use ballast_alpaca::compat::{self, CompatError};
use ballast_core::broker::{Broker, BrokerError, VenueStatus};
use ballast_fake_alpaca::{FakeConfig, Fault, Route};
use common::*;

fn status(route: Route, status: u16, body: &str, times: u32) -> Fault {
    Fault::Status {
        route,
        status,
        body: body.to_owned(),
        headers: Vec::new(),
        times,
    }
}

#[test]
fn a_401_is_a_configuration_failure_and_is_not_retried() {
    let fake = fake();
    let mut s = settings(&fake);
    s.credentials =
        ballast_alpaca::secrets::Credentials::new("PKWRONGKEY0000", "wrong-secret-value").unwrap();
    let mut b = broker_with(s);
    let e = b.account().unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, BrokerError::Unavailable(_)), "{e:?}");
    assert!(
        text.contains("401")
            && text.contains("PERSISTENT_CONFIG")
            && text.contains("FAILED_CONFIG"),
        "{text}"
    );
    assert!(
        !text.contains("wrong-secret-value") && !text.contains("PKWRONGKEY0000"),
        "no secret: {text}"
    );
    assert_eq!(statuses(&fake, "/v2/account"), [401], "no retry loop");
    let e = compat::check(b.client()).unwrap_err();
    assert_eq!(e.class(), Some("FAILED_CONFIG"), "{e}");
    let e = b.submit(&market("bl-1-1", 1), 1).unwrap_err();
    assert!(
        !matches!(e, BrokerError::Rejected { .. }),
        "a 401 is not the venue refusing the order: {e:?}"
    );
}

#[test]
fn a_403_rejects_the_order_with_the_venues_message_and_is_config_on_the_account() {
    let fake = fake();
    let mut b = broker(&fake);
    fake.fault(status(
        Route::SubmitOrder,
        403,
        r#"{"code":40310000,"message":"insufficient buying power"}"#,
        1,
    ));
    match b.submit(&market("bl-1-1", 1), 1) {
        Err(BrokerError::Rejected { reason }) => {
            assert!(reason.contains("insufficient buying power"), "{reason}")
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert_eq!(fake.orders_created_of("bl-1-1"), 0);
    fake.fault(status(Route::Account, 403, r#"{"message":"forbidden"}"#, 1));
    let e = compat::check(b.client()).unwrap_err();
    assert!(matches!(e, CompatError::Config(_)), "{e}");
    assert!(e.to_string().contains("403"), "{e}");
}

#[test]
fn a_422_rejects_the_order() {
    let fake = fake();
    let mut b = broker(&fake);
    fake.fault(status(
        Route::SubmitOrder,
        422,
        r#"{"code":40010000,"message":"qty must be > 0"}"#,
        1,
    ));
    match b.submit(&market("bl-1-1", 1), 1) {
        Err(BrokerError::Rejected { reason }) => {
            assert!(reason.contains("qty must be > 0"), "{reason}")
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn a_422_duplicate_id_is_looked_up_never_a_rejection() {
    let fake = fake();
    let mut b = broker(&fake);
    b.submit(&resting("bl-2-1", 1), 1).unwrap();
    // The same id again (a resend after an unknown outcome): the venue's 422 "must be
    // unique" means it has the order.
    assert_eq!(b.submit(&resting("bl-2-1", 1), 2), Ok(()));
    assert_eq!(fake.submits_of("bl-2-1"), 2);
    assert_eq!(fake.orders_created_of("bl-2-1"), 1);
    assert_eq!(statuses(&fake, "/v2/orders"), [200, 422]);
    assert_eq!(statuses(&fake, "/v2/orders:by_client_order_id"), [200]);
}

#[test]
fn a_500_on_submit_is_no_answer_and_the_engine_style_resend_after_a_404_makes_one_order() {
    let fake = fake();
    let mut b = broker(&fake);
    fake.fault(status(
        Route::SubmitOrder,
        500,
        r#"{"message":"internal server error"}"#,
        1,
    ));
    let e = b.submit(&market("bl-3-1", 1), 1).unwrap_err();
    assert!(
        matches!(
            e,
            BrokerError::NoAnswer {
                venue_received: false,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(fake.submits_of("bl-3-1"), 1, "never retried blind");
    assert_eq!(b.lookup(&id("bl-3-1")), Ok(None), "the venue says 404");
    b.submit(&market("bl-3-1", 1), 2).unwrap();
    assert_eq!(fake.orders_created_of("bl-3-1"), 1);
}

#[test]
fn a_500_on_a_read_is_retried_with_backoff_and_recovers() {
    let fake = fake();
    let mut b = broker(&fake);
    fake.fault(status(Route::Positions, 500, "", 2));
    assert_eq!(b.positions(), Ok(Vec::new()));
    assert_eq!(statuses(&fake, "/v2/positions"), [500, 500, 200]);
    fake.fault(status(Route::Positions, 503, "", u32::MAX));
    let e = b.positions().unwrap_err();
    assert!(e.to_string().contains("gave up after 3 retries"), "{e}");
    assert_eq!(
        statuses(&fake, "/v2/positions").len(),
        3 + 4,
        "bounded: one try and three retries"
    );
}

#[test]
fn a_submit_timeout_is_no_answer_and_the_lookup_finds_the_order() {
    let fake = fake();
    let mut s = settings(&fake);
    s.request_timeout_ms = 300;
    let mut b = broker_with(s);
    fake.fault(Fault::Delay {
        route: Route::SubmitOrder,
        ms: 1_500,
        times: 1,
    });
    let e = b.submit(&market("bl-4-1", 1), 1).unwrap_err();
    match &e {
        BrokerError::NoAnswer { error, .. } => assert!(
            error.contains("timeout") && error.contains("looked up"),
            "{error}"
        ),
        other => panic!("expected no answer, got {other:?}"),
    }
    assert_eq!(fake.submits_of("bl-4-1"), 1, "never retried blind");
    let found = b.lookup(&id("bl-4-1")).unwrap().expect("the venue has it");
    assert_eq!(found.order.client_order_id.as_str(), "bl-4-1");
    assert_eq!(fake.orders_created_of("bl-4-1"), 1);
}

#[test]
fn a_connection_dropped_after_accept_never_yields_a_duplicate() {
    let fake = fake();
    let mut b = broker(&fake);
    fake.fault(Fault::DropAfterAccept { times: 1 });
    let e = b.submit(&market("bl-5-1", 1), 1).unwrap_err();
    assert!(matches!(e, BrokerError::NoAnswer { .. }), "{e:?}");
    // The engine: look it up, resend with the same id only on a 404.
    match b.lookup(&id("bl-5-1")).unwrap() {
        Some(_) => {}
        None => b.submit(&market("bl-5-1", 1), 2).unwrap(),
    }
    // Even a resend regardless is safe: the id is single-use, the answer is looked up.
    assert_eq!(b.submit(&market("bl-5-1", 1), 3), Ok(()));
    assert_eq!(fake.orders_created_of("bl-5-1"), 1);
}

#[test]
fn a_connection_dropped_before_anything_is_no_answer_and_the_resend_goes_through() {
    let fake = fake();
    let mut b = broker(&fake);
    fake.fault(Fault::DropBefore {
        route: Route::SubmitOrder,
        times: 1,
    });
    assert!(matches!(
        b.submit(&market("bl-6-1", 1), 1),
        Err(BrokerError::NoAnswer { .. })
    ));
    assert_eq!(b.lookup(&id("bl-6-1")), Ok(None));
    assert_eq!(b.submit(&market("bl-6-1", 1), 2), Ok(()));
    assert_eq!(fake.orders_created_of("bl-6-1"), 1);
}

#[test]
fn a_missing_required_field_is_a_schema_error_naming_it() {
    let fake = fake();
    let mut b = broker(&fake);
    b.submit(&resting("bl-7-1", 1), 1).unwrap();
    fake.fault(Fault::MissingField {
        route: Route::OrderByClientId,
        field: "submitted_at".into(),
        times: 1,
    });
    match b.lookup(&id("bl-7-1")) {
        Err(BrokerError::Schema(text)) => {
            assert!(
                text.contains("submitted_at")
                    && text.contains("CODE_SCHEMA")
                    && text.contains("FAILED_API_SCHEMA"),
                "{text}"
            )
        }
        other => panic!("expected a schema error, got {other:?}"),
    }
    fake.fault(Fault::MissingField {
        route: Route::Account,
        field: "account_number".into(),
        times: 1,
    });
    let e = compat::check(b.client()).unwrap_err();
    assert_eq!(e.class(), Some("FAILED_API_SCHEMA"));
    assert!(e.to_string().contains("account_number"), "{e}");
}

#[test]
fn an_unknown_status_is_kept_and_in_flight_not_terminal() {
    let fake = fake();
    let mut b = broker(&fake);
    b.submit(&resting("bl-8-1", 1), 1).unwrap();
    fake.fault(Fault::EnumValue {
        route: Route::OrderByClientId,
        field: "status".into(),
        value: "frozen".into(),
        times: 1,
    });
    let o = b.lookup(&id("bl-8-1")).unwrap().expect("found");
    assert_eq!(o.status, VenueStatus::Unknown("frozen".into()));
    assert!(!o.status.is_terminal());
}

#[test]
fn the_key_and_secret_never_appear_in_any_error() {
    let cfg = FakeConfig {
        key_id: "PKDISTINCTIVEKEY77".into(),
        secret_key: "distinctive-secret-99".into(),
        ..FakeConfig::default()
    };
    let fake = fake_with(cfg.clone());
    let mut s = settings(&fake);
    s.credentials =
        ballast_alpaca::secrets::Credentials::new(&cfg.key_id, &cfg.secret_key).unwrap();
    s.request_timeout_ms = 300;
    let mut b = broker_with(s);
    // Errors whose bodies echo the credentials (a hostile or buggy server) are redacted too.
    let echo = format!(
        r#"{{"message":"bad key {} / {}"}}"#,
        cfg.key_id, cfg.secret_key
    );
    let faults = [
        status(Route::SubmitOrder, 403, &echo, 1),
        status(Route::SubmitOrder, 500, &echo, 1),
        Fault::Delay {
            route: Route::SubmitOrder,
            ms: 1_000,
            times: 1,
        },
        Fault::DropAfterAccept { times: 1 },
        status(Route::SubmitOrder, 401, &echo, 1),
        Fault::MissingField {
            route: Route::SubmitOrder,
            field: "status".into(),
            times: 1,
        },
    ];
    let mut texts = Vec::new();
    for (i, f) in faults.into_iter().enumerate() {
        fake.fault(f);
        texts.push(format!(
            "{:?} {}",
            b.submit(&market(&format!("bl-9{i}-1"), 1), 1),
            ""
        ));
    }
    fake.fault(status(Route::Account, 401, &echo, 1));
    texts.push(compat::check(b.client()).unwrap_err().to_string());
    texts.push(format!("{:?}", b.client()));
    for t in &texts {
        assert!(
            !t.contains(&cfg.key_id) && !t.contains(&cfg.secret_key),
            "a secret leaked: {t}"
        );
    }
    assert!(
        texts[0].contains("***"),
        "the echo was redacted: {}",
        texts[0]
    );
}

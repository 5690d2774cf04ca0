//! `[broker]` and `[broker.alpaca]`: the cross-field rules of an external venue — its URLs are
//! http(s) with a host, plain http only for a loopback host (the fake Alpaca of the tests and
//! demos), a request's timeout covers its connection's, and the Alpaca feed needs the Alpaca
//! broker (its keys and data URL).

use std::net::IpAddr;

use super::model::{BrokerKind, Config, FeedKind};
use super::rules::KeyRef;

/// A broker URL's problem, in words (`None`: usable).
pub fn url_problem(url: &str) -> Option<String> {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) if s.eq_ignore_ascii_case("https") || s.eq_ignore_ascii_case("http") => {
            (s.to_ascii_lowercase(), r)
        }
        _ => return Some("is not an http:// or https:// URL".into()),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return Some(
            "carries credentials in the URL (the keys come from the environment or secrets_file)"
                .into(),
        );
    }
    let host = host_of(authority);
    if host.is_empty() {
        return Some("has no host".into());
    }
    if let Some(why) = port_problem(authority) {
        return Some(why);
    }
    if scheme == "http" && !is_loopback(host) {
        return Some(format!(
            "is plain http to {host}, which is not a loopback host (plain http only reaches a local fake)"
        ));
    }
    None
}

/// The port of `host[:port]` or `[v6][:port]`, when one is given, is a number 1..=65535 (the
/// HTTP client refuses anything else at the engine's start, far from the key).
fn port_problem(authority: &str) -> Option<String> {
    let port = match authority.strip_prefix('[') {
        Some(v6) => v6
            .split_once(']')
            .map(|(_, rest)| rest)?
            .strip_prefix(':')?,
        None => authority.split_once(':')?.1,
    };
    if port.is_empty() {
        return None;
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => None,
        _ => Some(format!(
            "has the port {port:?}, which is not a port (a number from 1 to 65535)"
        )),
    }
}

/// The host of `host[:port]` or `[v6][:port]`.
fn host_of(authority: &str) -> &str {
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split(']').next().unwrap_or("");
    }
    authority.split(':').next().unwrap_or("")
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Requests one poll of the changed orders takes (its open and recent lists), and one
/// reconciliation (account, positions, open orders, the changed orders' two lists).
const REQUESTS_PER_POLL: u64 = 2;
const REQUESTS_PER_RECONCILIATION: u64 = 5;

/// The rules; each failure is `(keys, message, help)` (the first key is the one pointed at).
pub fn check(config: &Config) -> Vec<(Vec<KeyRef>, String, String)> {
    let mut out = Vec::new();
    let a = &config.broker.alpaca;
    let alpaca = config.broker.kind == BrokerKind::Alpaca;
    let feed_alpaca = config.feed.kind == FeedKind::Alpaca;
    for (key, url) in [
        ("paper_url", &a.paper_url),
        ("live_url", &a.live_url),
        ("data_url", &a.data_url),
    ] {
        // Only the URLs that are used are judged (a paper broker never reads them).
        let used = match key {
            "data_url" => feed_alpaca,
            _ => alpaca,
        };
        if let Some(p) = url_problem(url).filter(|_| used) {
            out.push((
                vec![("broker.alpaca", key)],
                format!("[broker.alpaca] {key} = {url:?} {p}"),
                "use https://… (Alpaca's URLs are the defaults), or http://127.0.0.1:PORT for `ballast dev fake-alpaca`".into(),
            ));
        }
    }
    if alpaca && a.request_timeout_ms < a.connect_timeout_ms {
        out.push((
            vec![
                ("broker.alpaca", "request_timeout_ms"),
                ("broker.alpaca", "connect_timeout_ms"),
            ],
            format!(
                "[broker.alpaca] request_timeout_ms = {} is below connect_timeout_ms = {}",
                a.request_timeout_ms, a.connect_timeout_ms
            ),
            "a request's timeout includes its connection: raise request_timeout_ms".into(),
        ));
    }
    if alpaca && a.call_deadline_ms < a.request_timeout_ms {
        out.push((
            vec![
                ("broker.alpaca", "call_deadline_ms"),
                ("broker.alpaca", "request_timeout_ms"),
            ],
            format!(
                "[broker.alpaca] call_deadline_ms = {} is below request_timeout_ms = {}",
                a.call_deadline_ms, a.request_timeout_ms
            ),
            "a call's deadline covers at least one whole request: raise call_deadline_ms or lower request_timeout_ms".into(),
        ));
    }
    if alpaca && u64::from(a.poll_interval_ms) > u64::from(a.reconcile_interval_secs) * 1000 {
        out.push((
            vec![
                ("broker.alpaca", "poll_interval_ms"),
                ("broker.alpaca", "reconcile_interval_secs"),
            ],
            format!(
                "[broker.alpaca] poll_interval_ms = {} is longer than reconcile_interval_secs = {}",
                a.poll_interval_ms, a.reconcile_interval_secs
            ),
            "orders are polled more often than the account is reconciled: lower poll_interval_ms"
                .into(),
        ));
    }
    if alpaca {
        let (polls, runs) = (
            60_000 / u64::from(a.poll_interval_ms.max(1)),
            60 / u64::from(a.reconcile_interval_secs.max(1)),
        );
        // The Alpaca feed asks for each symbol's bars once every bars_poll_secs, from the
        // same budget (rounded up: 7 symbols every 60 s still ask 7 a minute).
        let symbols = if feed_alpaca {
            config.feed.symbols.len() as u64
        } else {
            0
        };
        let bars = (symbols * 60).div_ceil(u64::from(a.bars_poll_secs.max(1)));
        let (polling, reconciling) = (
            polls * REQUESTS_PER_POLL,
            runs * REQUESTS_PER_RECONCILIATION,
        );
        let asked = polling + reconciling + bars;
        let room = u64::from(a.rate_limit_per_min) * 3 / 4;
        if asked > room {
            let mut keys = vec![
                ("broker.alpaca", "poll_interval_ms"),
                ("broker.alpaca", "rate_limit_per_min"),
                ("broker.alpaca", "reconcile_interval_secs"),
            ];
            let mut terms = format!(
                "polling (poll_interval_ms = {}) {polling} + reconciliation (reconcile_interval_secs = {}) {reconciling}",
                a.poll_interval_ms, a.reconcile_interval_secs
            );
            if feed_alpaca {
                keys.push(("broker.alpaca", "bars_poll_secs"));
                keys.push(("feed", "symbols"));
                terms.push_str(&format!(
                    " + bars ({symbols} symbols every bars_poll_secs = {}) {bars}",
                    a.bars_poll_secs
                ));
            }
            out.push((
                keys,
                format!(
                    "[broker.alpaca] {terms} ask about {asked} requests a minute, over three quarters of rate_limit_per_min = {} ({room}; the rest is kept for orders, cancels and lookups)",
                    a.rate_limit_per_min
                ),
                "poll less often (a larger poll_interval_ms, reconcile_interval_secs or bars_poll_secs, or fewer symbols): the engine would otherwise spend its request budget before it could send an order".into(),
            ));
        }
    }
    if feed_alpaca && !alpaca {
        out.push((
            vec![("feed", "kind"), ("broker", "kind")],
            "[feed] kind = \"alpaca\" needs [broker] kind = \"alpaca\"".into(),
            "the Alpaca bars use the broker's keys and [broker.alpaca] data_url: set [broker] kind = \"alpaca\", or use a replay or synthetic feed".into(),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{BrokerKind, Source, load};
    use crate::reconcile::OnDangerous;

    fn file(text: &str) -> Result<Config, String> {
        load(
            Some(Source {
                path: "ballast.toml",
                text,
            }),
            &[],
        )
        .map_err(|e| e.to_string())
    }

    #[test]
    fn the_broker_is_paper_by_default_and_alpaca_is_read_from_the_file_and_the_environment() {
        let c = file("").unwrap();
        assert_eq!(c.broker.kind, BrokerKind::Paper);
        assert_eq!(c.broker.on_dangerous, OnDangerous::Halted);
        let a = &c.broker.alpaca;
        assert_eq!(a.paper_url, "https://paper-api.alpaca.markets");
        assert_eq!(a.live_url, "https://api.alpaca.markets");
        assert_eq!(a.data_url, "https://data.alpaca.markets");
        assert_eq!((a.rate_limit_per_min, a.reconcile_interval_secs), (180, 60));
        let c = file(
            "[broker]\nkind = \"alpaca\"\non_dangerous = \"reducing\"\n\n[broker.alpaca]\npaper_url = \"http://127.0.0.1:4010\"\npoll_interval_ms = 1500\n",
        )
        .unwrap();
        assert_eq!(c.broker.kind, BrokerKind::Alpaca);
        assert_eq!(c.broker.on_dangerous, OnDangerous::Reducing);
        assert_eq!(c.broker.alpaca.paper_url, "http://127.0.0.1:4010");
        assert_eq!(c.broker.alpaca.poll_interval_ms, 1500);
        let env = vec![(
            "BALLAST_BROKER_ALPACA__RECONCILE_INTERVAL_SECS".to_owned(),
            "30".to_owned(),
        )];
        assert_eq!(
            load(None, &env)
                .unwrap()
                .broker
                .alpaca
                .reconcile_interval_secs,
            30
        );
    }

    #[test]
    fn the_rate_limit_stays_below_alpacas_and_urls_timeouts_and_the_feed_are_judged_together() {
        let e = file("[broker.alpaca]\nrate_limit_per_min = 200\n").unwrap_err();
        assert!(
            e.contains("rate_limit_per_min") && e.contains("1 to 199"),
            "{e}"
        );
        let e = file(
            "[broker]\nkind = \"alpaca\"\n[broker.alpaca]\nlive_url = \"http://api.alpaca.markets\"\n",
        )
        .unwrap_err();
        assert!(
            e.contains("[broker.alpaca] live_url") && e.contains("not a loopback host"),
            "{e}"
        );
        // A paper broker never reads the URLs: not judged.
        assert!(file("[broker.alpaca]\nlive_url = \"http://x\"\n").is_ok());
        let e = file(
            "[broker]\nkind = \"alpaca\"\n[broker.alpaca]\nconnect_timeout_ms = 5000\nrequest_timeout_ms = 1000\n",
        )
        .unwrap_err();
        assert!(e.contains("request_timeout_ms = 1000 is below"), "{e}");
        let e = file("[broker]\nkind = \"alpaca\"\n[broker.alpaca]\npoll_interval_ms = 200\n")
            .unwrap_err();
        assert!(
            e.contains("ask about 605 requests a minute") && e.contains("(135;"),
            "{e}"
        );
        assert!(
            file("[broker]\nkind = \"alpaca\"\n").is_ok(),
            "the defaults fit"
        );
        let e = file("[feed]\nkind = \"alpaca\"\n").unwrap_err();
        assert!(e.contains("needs [broker] kind = \"alpaca\""), "{e}");
        assert!(file("[feed]\nkind = \"alpaca\"\n[broker]\nkind = \"alpaca\"\n").is_ok());
        // The feed's bars count: 2 symbols every second are 120 a minute on their own.
        let e = file(
            "[feed]\nkind = \"alpaca\"\nsymbols = [\"AAPL\", \"MSFT\"]\n[broker]\nkind = \"alpaca\"\n[broker.alpaca]\nbars_poll_secs = 1\n",
        )
        .unwrap_err();
        assert!(
            e.contains("polling (poll_interval_ms = ")
                && e.contains("+ reconciliation (reconcile_interval_secs = ")
                && e.contains("+ bars (2 symbols every bars_poll_secs = 1) 120"),
            "{e}"
        );
    }

    #[test]
    fn a_call_deadline_below_one_request_is_refused_by_name() {
        let e = file(
            "[broker]\nkind = \"alpaca\"\n[broker.alpaca]\nrequest_timeout_ms = 20000\ncall_deadline_ms = 5000\n",
        )
        .unwrap_err();
        assert!(
            e.contains("call_deadline_ms = 5000 is below request_timeout_ms = 20000"),
            "{e}"
        );
    }

    #[test]
    fn no_broker_key_changes_while_ballast_runs() {
        let old = file("").unwrap();
        let new = file("[broker]\nkind = \"alpaca\"\n[broker.alpaca]\npoll_interval_ms = 2000\n")
            .unwrap();
        let plan = crate::config::reload::plan(&old, &new);
        let refused: Vec<_> = plan.refused.iter().map(|r| r.key.as_str()).collect();
        assert_eq!(
            refused,
            ["broker.kind", "broker.alpaca.poll_interval_ms"],
            "{plan:?}"
        );
    }

    #[test]
    fn a_broker_url_is_https_or_plain_http_to_a_loopback_host() {
        for ok in [
            "https://paper-api.alpaca.markets",
            "https://api.alpaca.markets/",
            "http://127.0.0.1:8080",
            "http://localhost:1",
            "http://[::1]:9000/v2",
        ] {
            assert_eq!(url_problem(ok), None, "{ok}");
        }
        for (bad, says) in [
            ("ftp://x", "not an http"),
            ("paper-api.alpaca.markets", "not an http"),
            ("https://", "no host"),
            ("http://paper-api.alpaca.markets", "not a loopback host"),
            ("http://10.0.0.1:80", "not a loopback host"),
            ("https://key:secret@api.alpaca.markets", "credentials"),
            ("http://127.0.0.1:99999", "\"99999\", which is not a port"),
            ("http://127.0.0.1:0", "not a port"),
            ("http://[::1]:70000/v2", "not a port"),
            ("http://localhost:http", "not a port"),
        ] {
            let p = url_problem(bad).unwrap_or_default();
            assert!(p.contains(says), "{bad}: {p}");
        }
    }
}

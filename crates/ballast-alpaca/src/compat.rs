//! The startup compatibility check (ALPACA.md): before any order, the keys must fit the mode
//! (a paper key at the live endpoint, or the reverse, is refused by name), and
//! `GET /v2/account` (ACTIVE, not blocked, of the mode's kind: paper account numbers start
//! with `PA`), `GET /v2/clock` and one page of `GET /v2/orders` must answer within the
//! contract. A failure is `FAILED_CONFIG` (credentials, permissions, the wrong account kind)
//! or `FAILED_API_SCHEMA` (the field and the value named); a venue that cannot be reached is
//! neither (transient: the check runs again).

use ballast_core::heal::FailureClass;
use ballast_core::venue::classify::Call;

use crate::client::{AlpacaSettings, Client, Request, VenueError};
use crate::model::{Account, AccountStatus, Clock, Order};
use crate::wire::{clip, decode};

/// The live and paper endpoints Alpaca publishes.
pub const LIVE_URL: &str = "https://api.alpaca.markets";
pub const PAPER_URL: &str = "https://paper-api.alpaca.markets";

/// What a passing check saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompatSummary {
    pub account_number: String,
    pub live: bool,
    pub market_open: bool,
    pub open_orders_seen: usize,
}

impl std::fmt::Display for CompatSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Alpaca {} account {} is ACTIVE; clock answered (market {}); {} open order(s) on the first page",
            if self.live { "live" } else { "paper" },
            self.account_number,
            if self.market_open { "open" } else { "closed" },
            self.open_orders_seen
        )
    }
}

/// Why the check failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompatError {
    /// `FAILED_CONFIG`: credentials, permissions, the mode.
    #[error("FAILED_CONFIG: {0}")]
    Config(String),
    /// `FAILED_API_SCHEMA`: the venue's answer does not match the contract.
    #[error("FAILED_API_SCHEMA: {0}")]
    Schema(String),
    /// The venue could not be reached or asked to wait (transient: run the check again).
    #[error("the compatibility check could not complete (transient, it runs again): {0}")]
    Unreachable(String),
}

impl CompatError {
    /// `FAILED_CONFIG` / `FAILED_API_SCHEMA` (`None`: transient).
    pub fn class(&self) -> Option<&'static str> {
        match self {
            CompatError::Config(_) => Some("FAILED_CONFIG"),
            CompatError::Schema(_) => Some("FAILED_API_SCHEMA"),
            CompatError::Unreachable(_) => None,
        }
    }

    fn of(e: VenueError) -> CompatError {
        match e.class() {
            FailureClass::PersistentConfig | FailureClass::LogicRisk => CompatError::Config(e.text),
            FailureClass::CodeSchema => CompatError::Schema(e.text),
            FailureClass::Transient => CompatError::Unreachable(e.text),
        }
    }
}

/// The keys' kind against the mode (a paper key's id starts with PK), before any request
/// (pure): what `ballast check` and the engine's start both refuse.
pub fn key_mismatch(live: bool, credentials: &crate::secrets::Credentials) -> Option<String> {
    let paper_key = credentials.is_paper_key();
    if live && paper_key {
        return Some("live mode with a paper key (its id starts with PK): use the live key of the live account".into());
    }
    if !live && !paper_key {
        return Some("paper mode with a live key (its id does not start with PK): use the paper account's key".into());
    }
    None
}

/// The keys and the endpoint against the mode, before any request (pure).
pub fn mode_mismatch(settings: &AlpacaSettings) -> Option<String> {
    let url = settings.base_url.trim_end_matches('/');
    if let Some(why) = key_mismatch(settings.live, &settings.credentials) {
        return Some(why);
    }
    if settings.live && url == PAPER_URL {
        return Some(format!(
            "live mode pointed at the paper endpoint {PAPER_URL}: set base_url = {LIVE_URL:?}"
        ));
    }
    if !settings.live && url == LIVE_URL {
        return Some(format!(
            "paper mode pointed at the live endpoint {LIVE_URL}: set base_url = {PAPER_URL:?}"
        ));
    }
    None
}

fn get<T: serde::de::DeserializeOwned>(
    client: &mut Client,
    kind: Call,
    path: &str,
    query: Vec<(&str, String)>,
) -> Result<T, CompatError> {
    let mut req = Request::get(kind, path);
    req.query = query;
    let answer = client.send(&req).map_err(CompatError::of)?;
    decode(&format!("GET {path}"), &answer.body).map_err(CompatError::Schema)
}

/// Run the check (see the module doc).
pub fn check(client: &mut Client) -> Result<CompatSummary, CompatError> {
    if let Some(why) = mode_mismatch(client.settings()) {
        return Err(CompatError::Config(why));
    }
    let live = client.settings().live;
    let account: Account = get(client, Call::Account, "/v2/account", Vec::new())?;
    let number = clip(&account.account_number);
    if account.status != AccountStatus::Active {
        return Err(CompatError::Config(format!(
            "GET /v2/account: field `status` = {:?}: the account is not ACTIVE; trading needs an active account",
            account.status.as_str()
        )));
    }
    for (field, blocked) in [
        ("trading_blocked", account.trading_blocked),
        ("account_blocked", account.account_blocked),
    ] {
        if blocked == Some(true) {
            return Err(CompatError::Config(format!(
                "GET /v2/account: field `{field}` = true: account {number} may not trade"
            )));
        }
    }
    let paper_account = account.account_number.starts_with("PA");
    if paper_account == live {
        return Err(CompatError::Config(format!(
            "GET /v2/account: field `account_number` = {number:?}: a {} account, but the mode is {}; the keys belong to the other kind of account",
            if paper_account { "paper" } else { "live" },
            if live { "live" } else { "paper" }
        )));
    }
    let clock: Clock = get(client, Call::Query, "/v2/clock", Vec::new())?;
    let query = vec![("status", "open".to_owned()), ("limit", "50".to_owned())];
    let orders: Vec<Order> = get(client, Call::Query, "/v2/orders", query)?;
    for o in &orders {
        o.to_venue("GET /v2/orders").map_err(CompatError::Schema)?;
    }
    Ok(CompatSummary {
        account_number: account.account_number,
        live,
        market_open: clock.is_open,
        open_orders_seen: orders.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::Credentials;

    fn settings(url: &str, key: &str, live: bool) -> AlpacaSettings {
        AlpacaSettings::new(
            url,
            "https://data.alpaca.markets",
            Credentials::new(key, "s").unwrap(),
            live,
        )
    }

    #[test]
    fn a_key_or_an_endpoint_of_the_other_mode_is_refused_by_name() {
        assert!(
            mode_mismatch(&settings(LIVE_URL, "PKX", true))
                .unwrap()
                .contains("paper key")
        );
        assert!(
            mode_mismatch(&settings(PAPER_URL, "AKX", false))
                .unwrap()
                .contains("live key")
        );
        assert!(
            mode_mismatch(&settings(PAPER_URL, "AKX", true))
                .unwrap()
                .contains("paper endpoint")
        );
        assert!(
            mode_mismatch(&settings(LIVE_URL, "PKX", false))
                .unwrap()
                .contains("live endpoint")
        );
        assert_eq!(mode_mismatch(&settings(PAPER_URL, "PKX", false)), None);
        assert_eq!(mode_mismatch(&settings(LIVE_URL, "AKX", true)), None);
        assert_eq!(
            mode_mismatch(&settings("http://127.0.0.1:9", "PKX", false)),
            None
        );
    }
}

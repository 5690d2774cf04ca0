//! [`ChaosBroker`]: any [`Broker`] with the broker chaos modes injected at the seam — the
//! engine above it sees only what a real venue could answer (no answer, unavailable, a 401, a
//! 429 with Retry-After, a broken contract naming a field, a late answer, a partial fill).

use rust_decimal::Decimal;

use super::schedule;
use super::{ChaosMode, ChaosPlan};
use crate::broker::{
    Broker, BrokerError, FillsPage, OrdersPage, VenueAccount, VenueOrder, VenuePosition,
};
use crate::domain::{ClientOrderId, Notional, Order, Quantity};
use crate::time::Timestamp;

/// What a run of the chaos broker counted and met (kept by the caller across calls: the engine
/// builds a broker view per call).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChaosCalls {
    /// Broker calls so far (every method counts one).
    pub calls: u64,
    /// Fills seen so far (the partial-fill schedule counts them).
    pub fills: u64,
    /// Faults injected so far, per mode.
    pub injected: std::collections::BTreeMap<ChaosMode, u64>,
    /// The first persistent failure met (`invalid_creds`, `schema_drift`): what the engine
    /// must stop on, in words.
    pub persistent: Option<String>,
}

impl ChaosCalls {
    fn count(&mut self, mode: ChaosMode) {
        *self.injected.entry(mode).or_default() += 1;
    }
}

/// `inner` with the broker modes of `plan` injected. `sleep_ms` carries out `slow_broker`'s
/// delays (the caller's injected sleeper: a real one in the engine, a manual clock in tests).
pub struct ChaosBroker<'a, B: Broker> {
    pub inner: B,
    plan: &'a ChaosPlan,
    calls: &'a mut ChaosCalls,
    sleep_ms: &'a mut dyn FnMut(u64),
}

/// The error a call meets, if any (the call is counted first).
enum Fault {
    None,
    Fail(BrokerError),
}

impl<'a, B: Broker> ChaosBroker<'a, B> {
    pub fn new(
        inner: B,
        plan: &'a ChaosPlan,
        calls: &'a mut ChaosCalls,
        sleep_ms: &'a mut dyn FnMut(u64),
    ) -> Self {
        ChaosBroker {
            inner,
            plan,
            calls,
            sleep_ms,
        }
    }

    /// Count this call and decide its fault (`submit`: whether it is a send).
    fn fault(&mut self, call: &str, submit: bool) -> Fault {
        self.calls.calls += 1;
        let n = self.calls.calls;
        let (p, k) = (self.plan, &self.plan.knobs);
        if p.is_active(ChaosMode::InvalidCreds) {
            self.calls.count(ChaosMode::InvalidCreds);
            let text = format!(
                "FAILED_CONFIG: {call}: 401 Unauthorized (chaos invalid_creds): the broker refused the credentials"
            );
            self.calls.persistent.get_or_insert_with(|| text.clone());
            return Fault::Fail(BrokerError::Unavailable(text));
        }
        if p.is_active(ChaosMode::BrokerDown) && schedule::broker_down(k.seed, n, k.outage_calls) {
            self.calls.count(ChaosMode::BrokerDown);
            let error = format!("{call}: connection refused (chaos broker_down, call {n})");
            return Fault::Fail(match submit {
                // A send into an outage: nobody knows whether it arrived until a lookup.
                true => BrokerError::NoAnswer {
                    error,
                    venue_received: false,
                },
                false => BrokerError::Unavailable(error),
            });
        }
        if p.is_active(ChaosMode::SlowBroker)
            && schedule::fires(k.seed, ChaosMode::SlowBroker, n, k.every)
        {
            self.calls.count(ChaosMode::SlowBroker);
            (self.sleep_ms)(u64::from(k.slow_ms));
        }
        if p.is_active(ChaosMode::RateLimited)
            && schedule::fires(k.seed, ChaosMode::RateLimited, n, k.every)
        {
            self.calls.count(ChaosMode::RateLimited);
            return Fault::Fail(BrokerError::Unavailable(format!(
                "{call}: 429 Too Many Requests, Retry-After: 1 (chaos rate_limited, call {n})"
            )));
        }
        if p.is_active(ChaosMode::SchemaDrift)
            && schedule::fires(k.seed, ChaosMode::SchemaDrift, n, k.every)
        {
            self.calls.count(ChaosMode::SchemaDrift);
            let text = format!(
                "{call}: field \"status\" of the answer is 42 where the contract says a string (chaos schema_drift, call {n})"
            );
            self.calls
                .persistent
                .get_or_insert_with(|| format!("FAILED_API_SCHEMA: {text}"));
            return Fault::Fail(BrokerError::Schema(text));
        }
        Fault::None
    }
}

macro_rules! pass {
    ($self:ident, $call:literal, $submit:expr, $body:expr) => {
        match $self.fault($call, $submit) {
            Fault::Fail(e) => Err(e),
            Fault::None => $body,
        }
    };
}

impl<B: Broker> Broker for ChaosBroker<'_, B> {
    fn submit(&mut self, order: &Order, attempt: u32) -> Result<(), BrokerError> {
        pass!(
            self,
            "POST /v2/orders",
            true,
            self.inner.submit(order, attempt)
        )
    }

    fn cancel(&mut self, id: &ClientOrderId) -> Result<Option<Decimal>, BrokerError> {
        pass!(self, "DELETE /v2/orders/{id}", false, self.inner.cancel(id))
    }

    fn cancel_all(&mut self) -> Result<Vec<ClientOrderId>, BrokerError> {
        pass!(self, "DELETE /v2/orders", false, self.inner.cancel_all())
    }

    fn lookup(&mut self, id: &ClientOrderId) -> Result<Option<VenueOrder>, BrokerError> {
        pass!(
            self,
            "GET /v2/orders:by_client_order_id",
            false,
            self.inner.lookup(id)
        )
    }

    fn open_orders(&mut self) -> Result<Vec<VenueOrder>, BrokerError> {
        pass!(self, "GET /v2/orders", false, self.inner.open_orders())
    }

    fn positions(&mut self) -> Result<Vec<VenuePosition>, BrokerError> {
        pass!(self, "GET /v2/positions", false, self.inner.positions())
    }

    fn account(&mut self) -> Result<VenueAccount, BrokerError> {
        pass!(self, "GET /v2/account", false, self.inner.account())
    }

    /// `partial_fills`: see [`partial_fills`].
    fn fills_since(&mut self, cursor: u64) -> Result<FillsPage, BrokerError> {
        let mut page = pass!(
            self,
            "GET /v2/account/activities",
            false,
            self.inner.fills_since(cursor)
        )?;
        partial_fills(self.plan, self.calls, &mut page.fills);
        Ok(page)
    }

    fn orders_since(
        &mut self,
        since: Option<Timestamp>,
        limit: usize,
    ) -> Result<OrdersPage, BrokerError> {
        pass!(
            self,
            "GET /v2/orders?after",
            false,
            self.inner.orders_since(since, limit)
        )
    }
}

/// `partial_fills`: a fill the schedule picks comes through at 25, 50 or 75 % of its quantity
/// (its fee in proportion; the rest stays open at the venue, filled by later bars). The paper
/// engine applies it to a bar's fills directly (they are booked with the bar, not polled).
pub fn partial_fills(plan: &ChaosPlan, calls: &mut ChaosCalls, fills: &mut [crate::domain::Fill]) {
    if !plan.is_active(ChaosMode::PartialFills) {
        return;
    }
    let k = &plan.knobs;
    for fill in fills {
        calls.fills += 1;
        let n = calls.fills;
        if !schedule::fires(k.seed, ChaosMode::PartialFills, n, k.every) {
            continue;
        }
        let part = (fill.qty.value() * Decimal::from(schedule::partial_pct(k.seed, n))
            / Decimal::ONE_HUNDRED)
            .trunc();
        if part <= Decimal::ZERO || part >= fill.qty.value() {
            continue;
        }
        let (Ok(qty), Ok(fee)) = (
            Quantity::new(part),
            Notional::new(fill.fee.value() * part / fill.qty.value()),
        ) else {
            continue;
        };
        fill.qty = qty;
        fill.fee = fee;
        calls.count(ChaosMode::PartialFills);
    }
}

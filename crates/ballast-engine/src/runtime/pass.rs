//! One pass of the engine after a bar (and at a start): the core decides what comes next
//! ([`EngineState::poll`]: kill switch, policy, expiry, auto-trim, decisions, lookups, sends);
//! this carries it out — asks the venue where a record needs its answer, journals and applies
//! each record ([`Writer::commit`]), and stops at once when the engine must halt.

use std::time::Duration;

use ballast_core::broker::{Broker, BrokerError, PaperVenue};
use ballast_core::chaos::ChaosBroker;
use ballast_core::engine::{
    Cancels, EngineRecord, EngineState, Inputs, Next, SendOutcome, SentRecord, SettleRecord,
};

use super::controls::{follow_policy, kill_switch, kill_switch_journaled};
use super::{EngineError, Writer, wait};

/// Everything the pass has to do, each record journaled, then applied. Halting: no new intent
/// and no send (intents already journaled are sent by the next start's recovery).
pub(super) fn pass(
    state: &mut EngineState,
    w: &mut Writer<'_>,
    log: &mut dyn FnMut(&str),
) -> Result<(), EngineError> {
    if w.halting() {
        return Ok(());
    }
    super::choices::take_choice(state, w, log)?;
    let (limits, trim) = (w.limits, &w.opts.trim);
    let mut inputs = Inputs::new(limits, trim);
    inputs.settings = super::settings::follow_settings(state, w, log);
    inputs.kill_switch = kill_switch(state, w, log);
    inputs.policy = follow_policy(state, w, log);
    // An external venue that may not be traded on now (live not armed, a broken contract):
    // every decision is refused with the reason, and nothing is sent.
    let refusal = w
        .venue
        .as_ref()
        .and_then(|v| v.refusal())
        .or_else(|| super::chaos::refusal(w));
    let closing_refusal = w.venue.as_ref().and_then(|v| v.closing_refusal());
    inputs.mode_refusal = refusal.clone();
    while let Some(next) = state.poll(&mut inputs) {
        if w.halting() {
            return Ok(());
        }
        let record = match next {
            Next::Record(r) => r,
            Next::Lookup {
                client_order_id,
                at,
            } => match on_venue(state, w, "GET /v2/orders:by_client_order_id", log, |v| {
                v.lookup(&client_order_id)
            }) {
                Ok(found) => EngineRecord::Settle(SettleRecord {
                    client_order_id,
                    at,
                    found: found.is_some(),
                }),
                Err(e) => {
                    // An external venue's failure is said once while it lasts (`on_venue`).
                    // (A chaos fault of the paper venue is said by `paper_failed`.)
                    if w.venue.is_none() && w.chaos.plan.is_empty() {
                        log(&format!(
                            "warning: order {client_order_id} could not be looked up ({e}); it stays in flight until the next pass"
                        ));
                    }
                    return Ok(());
                }
            },
            Next::Send { order, attempt, at } => {
                let held = if state.is_closing_choice(&order.client_order_id) {
                    closing_refusal.is_some()
                } else {
                    refusal.is_some()
                };
                if held {
                    // The intent is journaled; it is sent once the venue may be traded on.
                    // The next intent may be one that goes (a closing order the operator or
                    // the kill switch chose goes under the live hold).
                    continue;
                }
                stall_before_send(w, &order.client_order_id, log);
                if w.halting() {
                    return Ok(());
                }
                let outcome = match on_venue(state, w, "POST /v2/orders", log, |v| {
                    v.submit(&order, attempt)
                }) {
                    Ok(()) => SendOutcome::Accepted,
                    Err(BrokerError::Rejected { reason }) => SendOutcome::Rejected { reason },
                    Err(BrokerError::NoAnswer {
                        error,
                        venue_received,
                    }) => SendOutcome::Unknown {
                        error,
                        paper_venue_received: venue_received,
                    },
                    // Refused before the venue took it (a 429, its rate budget, no connection):
                    // not sent — nothing is journaled, the pass stops, the next one sends it
                    // (the failure is said once, in the log and the heartbeat).
                    Err(BrokerError::Unavailable(_)) => return Ok(()),
                    // An answer outside the contract: the order may be there (looked up).
                    Err(e @ BrokerError::Schema(_)) => SendOutcome::Unknown {
                        error: e.to_string(),
                        paper_venue_received: false,
                    },
                };
                EngineRecord::Sent(SentRecord {
                    client_order_id: order.client_order_id,
                    attempt,
                    at,
                    outcome,
                })
            }
        };
        let kill = matches!(record, EngineRecord::KillSwitch(_));
        let cancels = state.cancels(&record);
        w.commit(state, record, log)?;
        if kill {
            kill_switch_journaled(w);
        }
        cancel(state, w, cancels, log);
    }
    Ok(())
}

/// The cancels a journaled record stands for, asked of the venue. The paper venue's book
/// moved when the record was applied (its answers change nothing); a venue that does not
/// answer is said, and the order stays for reconciliation to settle.
fn cancel(state: &EngineState, w: &mut Writer<'_>, cancels: Cancels, log: &mut dyn FnMut(&str)) {
    let mut failed = Vec::new();
    match cancels {
        Cancels::None => {}
        Cancels::All => failed.extend(
            on_venue(state, w, "DELETE /v2/orders", log, |v| v.cancel_all())
                .err()
                .map(|e| ("every open order".to_owned(), e)),
        ),
        Cancels::These(ids) => {
            for id in ids {
                if let Err(e) = on_venue(state, w, "DELETE /v2/orders/{id}", log, |v| v.cancel(&id))
                {
                    failed.push((format!("order {id}"), e));
                }
            }
        }
    }
    for (what, e) in failed {
        log(&format!(
            "warning: the venue did not cancel {what} ({e}); reconciliation settles it"
        ));
    }
}

/// `call` asked of the venue — the external one the runtime holds, or the paper broker seen
/// through the [`Broker`] trait — its failure said (an external venue's in the heartbeat; a
/// broken contract stops trading).
fn on_venue<T>(
    state: &EngineState,
    w: &mut Writer<'_>,
    call: &str,
    log: &mut dyn FnMut(&str),
    f: impl FnOnce(&mut dyn Broker) -> Result<T, BrokerError>,
) -> Result<T, BrokerError> {
    let now = w.clock.now();
    // Chaos (paper mode only): the broker faults of the plan, injected at this seam; a slowed
    // answer waits on the engine's own wait (a stop ends it at once).
    let opts = w.opts;
    let mut sleep = |ms| wait(opts, Duration::from_millis(ms));
    let chaos = &mut w.chaos;
    let faulty = !chaos.plan.is_empty();
    match w.venue.as_mut() {
        Some(ext) => {
            let r = match faulty {
                true => f(&mut ChaosBroker::new(
                    ext.broker(),
                    &chaos.plan,
                    &mut chaos.calls,
                    &mut sleep,
                )),
                false => f(ext.broker()),
            };
            if let Err(e) = &r {
                ext.failed(call, e, now, log);
            }
            r
        }
        None => {
            let paper = PaperVenue::new(&state.broker, &state.portfolio, opts.paper_chaos());
            let r = match faulty {
                true => f(&mut ChaosBroker::new(
                    paper,
                    &chaos.plan,
                    &mut chaos.calls,
                    &mut sleep,
                )),
                false => f(&mut { paper }),
            };
            if let Err(e) = &r {
                paper_failed(call, e, &mut chaos.calls, log);
            }
            r
        }
    }
}

/// A paper venue's failure (only chaos makes one): said once per kind of failure while it
/// lasts, a persistent one (FAILED_CONFIG, FAILED_API_SCHEMA) as CRITICAL.
fn paper_failed(
    call: &str,
    e: &BrokerError,
    calls: &mut ballast_core::chaos::ChaosCalls,
    log: &mut dyn FnMut(&str),
) {
    if matches!(e, BrokerError::Rejected { .. }) {
        return;
    }
    let total: u64 = calls.injected.values().sum();
    if calls.persistent.is_some() && total == 1 {
        log(&format!(
            "CRITICAL: the paper venue: {call}: {e}: trading stops (nothing more is sent)"
        ));
    } else if total.is_power_of_two() {
        log(&format!(
            "warning: the paper venue: {call}: {e} ({total} chaos faults so far)"
        ));
    }
}

/// Chaos (paper only): the first send waits, once (a slow decision path).
fn stall_before_send(
    w: &mut Writer<'_>,
    id: &ballast_core::domain::ClientOrderId,
    log: &mut dyn FnMut(&str),
) {
    if let Some(ms) = w.opts.stall_before_send_ms.filter(|_| !w.stalled) {
        w.stalled = true;
        log(&format!(
            "chaos: stalling {ms} ms before sending order {id}"
        ));
        wait(w.opts, Duration::from_millis(ms));
    }
}

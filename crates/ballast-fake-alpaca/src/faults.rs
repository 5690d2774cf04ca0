//! Scripted faults (fakeapi14.md): what a test asks the fake to do wrong, and the queue that
//! hands them out. Each fault applies to the first `times` requests of its route, in the order
//! queued; `times: u32::MAX` is every time. Pure: the server asks [`FaultQueue::take`] what to
//! do with a request and does it.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// At most this many faults wait in the queue; [`FaultQueue::push`] refuses more (a test that
/// queues this many has a bug).
pub const MAX_QUEUED_FAULTS: usize = 1_000;

/// An endpoint of the fake, as faults name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    SubmitOrder,
    ListOrders,
    OrderByClientId,
    GetOrder,
    CancelOrder,
    CancelAll,
    Account,
    Positions,
    Clock,
    Bars,
    /// Every route.
    Any,
}

impl Route {
    fn covers(self, route: Route) -> bool {
        self == Route::Any || self == route
    }
}

/// A scripted fault. Over HTTP (`POST /_fake/fault`) it is JSON tagged by `kind`:
/// `{"kind": "status", "route": "submit_order", "status": 500, "body": "…", "headers": [],
/// "times": 1}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// Answer `status` with `body` and `headers` instead of doing anything (401, 403, 422, 429
    /// with its headers, 500…). The request is counted, nothing else happens.
    Status {
        route: Route,
        status: u16,
        body: String,
        #[serde(default)]
        headers: Vec<(String, String)>,
        times: u32,
    },
    /// Do the request, then answer `ms` late (a client timeout: the work is done).
    Delay { route: Route, ms: u64, times: u32 },
    /// `POST /v2/orders`: the order is created, then the connection is closed with no answer.
    DropAfterAccept { times: u32 },
    /// The connection is closed before anything is done.
    DropBefore { route: Route, times: u32 },
    /// Schema drift: `field` is removed from the answer (from each element of an array).
    MissingField {
        route: Route,
        field: String,
        times: u32,
    },
    /// Schema drift: `field` is set to `value`, a value outside its enum (e.g. status
    /// "frozen").
    EnumValue {
        route: Route,
        field: String,
        value: String,
        times: u32,
    },
    /// From now on each tick fills only `fraction` of each matching order's quantity (1 goes
    /// back to whole fills). Not queued: it changes the market.
    PartialFill { fraction: Decimal },
}

/// What happens to one request, decided before it is served.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Close the connection before doing anything.
    pub drop_before: bool,
    /// Answer this instead of serving the request.
    pub status: Option<Scripted>,
    /// Serve, then answer this many ms late.
    pub delay_ms: u64,
    /// Serve, create the order, close the connection (submit only).
    pub drop_after_accept: bool,
    /// Remove these fields from the answer.
    pub missing: Vec<String>,
    /// Set these fields to these values in the answer.
    pub enums: Vec<(String, String)>,
}

/// A scripted answer: status, body, headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scripted {
    pub status: u16,
    pub body: String,
    pub headers: Vec<(String, String)>,
}

/// Queued faults.
#[derive(Debug, Default)]
pub struct FaultQueue {
    queued: Vec<Fault>,
}

/// Why a fault was not queued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FaultError {
    #[error(
        "the fake's fault queue is full ({MAX_QUEUED_FAULTS} faults): use `times` on one fault instead of queueing copies"
    )]
    Full,
    #[error(
        "a partial fill fraction must be above 0 and at most 1, got {0}: 0.5 fills half of each order per tick"
    )]
    Fraction(Decimal),
}

impl FaultQueue {
    /// Queue a fault (a `PartialFill` is refused here: the market takes it).
    pub fn push(&mut self, fault: Fault) -> Result<(), FaultError> {
        if self.queued.len() >= MAX_QUEUED_FAULTS {
            return Err(FaultError::Full);
        }
        self.queued.push(fault);
        Ok(())
    }

    /// The plan for a request on `route`: the first queued fault of each kind that covers the
    /// route is used once (its `times` goes down; at zero it leaves the queue).
    /// `DropAfterAccept` is only taken by [`FaultQueue::take_drop_after_accept`].
    pub fn take(&mut self, route: Route) -> Plan {
        let mut plan = Plan::default();
        let mut used = [false; 5];
        for fault in &mut self.queued {
            let (slot, times) = match fault {
                Fault::DropBefore { route: r, times } if r.covers(route) => (0, times),
                Fault::Status {
                    route: r, times, ..
                } if r.covers(route) => (1, times),
                Fault::Delay {
                    route: r, times, ..
                } if r.covers(route) => (2, times),
                Fault::MissingField {
                    route: r, times, ..
                } if r.covers(route) => (3, times),
                Fault::EnumValue {
                    route: r, times, ..
                } if r.covers(route) => (4, times),
                _ => continue,
            };
            // One of each kind per request, except schema drift, which may remove or change
            // several fields at once.
            if (slot < 3 && used[slot]) || *times == 0 {
                continue;
            }
            used[slot] = true;
            if *times != u32::MAX {
                *times -= 1;
            }
            apply(fault, &mut plan);
        }
        self.forget_spent();
        plan
    }

    /// Whether this accepted submit's connection is to be dropped (uses one `times`).
    pub fn take_drop_after_accept(&mut self) -> bool {
        let found = self.queued.iter_mut().find_map(|f| match f {
            Fault::DropAfterAccept { times } if *times > 0 => Some(times),
            _ => None,
        });
        let Some(times) = found else {
            return false;
        };
        if *times != u32::MAX {
            *times -= 1;
        }
        self.forget_spent();
        true
    }

    /// Drop every queued fault; how many there were.
    pub fn clear(&mut self) -> usize {
        let n = self.queued.len();
        self.queued.clear();
        n
    }

    /// Faults still queued.
    pub fn pending(&self) -> &[Fault] {
        &self.queued
    }

    fn forget_spent(&mut self) {
        self.queued.retain(|f| match f {
            Fault::Status { times, .. }
            | Fault::Delay { times, .. }
            | Fault::DropAfterAccept { times }
            | Fault::DropBefore { times, .. }
            | Fault::MissingField { times, .. }
            | Fault::EnumValue { times, .. } => *times > 0,
            Fault::PartialFill { .. } => false,
        });
    }
}

fn apply(fault: &Fault, plan: &mut Plan) {
    match fault {
        Fault::DropBefore { .. } => plan.drop_before = true,
        Fault::Status {
            status,
            body,
            headers,
            ..
        } => {
            plan.status = Some(Scripted {
                status: *status,
                body: body.clone(),
                headers: headers.clone(),
            })
        }
        Fault::Delay { ms, .. } => plan.delay_ms = *ms,
        Fault::MissingField { field, .. } => plan.missing.push(field.clone()),
        Fault::EnumValue { field, value, .. } => plan.enums.push((field.clone(), value.clone())),
        Fault::DropAfterAccept { .. } | Fault::PartialFill { .. } => {}
    }
}

/// Check a partial fill fraction: above 0, at most 1.
pub fn check_fraction(fraction: Decimal) -> Result<Decimal, FaultError> {
    if fraction > Decimal::ZERO && fraction <= Decimal::ONE {
        Ok(fraction)
    } else {
        Err(FaultError::Fraction(fraction))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_is_used_its_times_then_leaves() {
        let mut q = FaultQueue::default();
        q.push(Fault::Status {
            route: Route::Account,
            status: 500,
            body: "{}".into(),
            headers: vec![],
            times: 2,
        })
        .unwrap();
        assert_eq!(q.take(Route::Clock), Plan::default());
        assert_eq!(q.take(Route::Account).status.map(|s| s.status), Some(500));
        assert_eq!(q.take(Route::Account).status.map(|s| s.status), Some(500));
        assert_eq!(q.take(Route::Account), Plan::default());
        assert!(q.pending().is_empty());
    }

    #[test]
    fn any_covers_every_route_and_max_is_forever() {
        let mut q = FaultQueue::default();
        q.push(Fault::Delay {
            route: Route::Any,
            ms: 5,
            times: u32::MAX,
        })
        .unwrap();
        for _ in 0..3 {
            assert_eq!(q.take(Route::Bars).delay_ms, 5);
        }
        assert_eq!(q.pending().len(), 1);
    }

    #[test]
    fn drop_after_accept_is_taken_only_by_an_accepted_submit() {
        let mut q = FaultQueue::default();
        q.push(Fault::DropAfterAccept { times: 1 }).unwrap();
        assert_eq!(q.take(Route::SubmitOrder), Plan::default());
        assert!(q.take_drop_after_accept());
        assert!(!q.take_drop_after_accept());
    }

    #[test]
    fn the_queue_is_bounded() {
        let mut q = FaultQueue::default();
        for _ in 0..MAX_QUEUED_FAULTS {
            q.push(Fault::DropAfterAccept { times: 1 }).unwrap();
        }
        assert_eq!(
            q.push(Fault::DropAfterAccept { times: 1 }),
            Err(FaultError::Full)
        );
        assert!(check_fraction(Decimal::ZERO).is_err());
        assert!(check_fraction(Decimal::ONE).is_ok());
    }
}

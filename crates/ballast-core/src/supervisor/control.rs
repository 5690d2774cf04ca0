//! What an operator's control request does to one service, decided by the service's state
//! alone — so the whole request × state matrix is tested here, without processes.
//!
//! The invariant every plan keeps: the supervisor's state of a service matches the process it
//! holds — STARTING or RUNNING exactly while it holds a process, every other state without
//! one. No request changes the recorded state of a service whose process is up; a service that
//! is up is only ever restarted by stopping its process first (the state then follows the
//! reaped exit). `reset` exists to clear a FAILED service's failure budget and means nothing
//! for one that is not FAILED: it is refused there, naming `ballast restart`.

use super::{Service, ServiceState};

/// A request that acts on one service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlRequest {
    /// `ballast restart NAME`: stop it if it is up, then start it; start a waiting one now.
    Restart,
    /// `ballast reset NAME`: clear a FAILED (or FAILED_CONFIG) service and start it.
    Reset,
    /// A restart the supervisor carries out for someone else — an approved restart
    /// recommendation, the healer's restart of a stale heartbeat: like `restart`, and a FAILED
    /// service is cleared first (the approval is the operator's decision).
    Recover,
}

impl ControlRequest {
    pub const ALL: [ControlRequest; 3] = [
        ControlRequest::Restart,
        ControlRequest::Reset,
        ControlRequest::Recover,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ControlRequest::Restart => "restart",
            ControlRequest::Reset => "reset",
            ControlRequest::Recover => "recover",
        }
    }
}

/// What the supervisor must do for a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlPlan {
    /// Its process is up: send its stop signal (SIGKILL after the stop timeout) and start it
    /// again once the exit is reaped. The state stays as it is until then.
    StopThenStart,
    /// It is down and waiting (BACKOFF's delay, STOPPED): start it now (once its dependencies
    /// run).
    StartNow,
    /// It is FAILED or FAILED_CONFIG (down): clear its failure budget, then start it.
    ClearThenStart,
    /// Nothing changes; the message says why and what to do instead.
    Refuse(String),
}

/// Does this state say a process is held? (STARTING and RUNNING do; no other state does.)
pub fn holds_process(state: ServiceState) -> bool {
    matches!(state, ServiceState::Starting | ServiceState::Running)
}

/// The plan for `request` on the service `name`, now in `state`.
pub fn plan_control(request: ControlRequest, name: &str, state: ServiceState) -> ControlPlan {
    plan_control_shown(request, name, state, state.as_str())
}

/// As [`plan_control`]; the messages name the state as `status` shows it (`shown`: `WAITING
/// (for my-bot)`, `HELD`), the decision is the state's alone.
pub fn plan_control_shown(
    request: ControlRequest,
    name: &str,
    state: ServiceState,
    shown: &str,
) -> ControlPlan {
    use ServiceState as S;
    match state {
        S::Starting | S::Running | S::Backoff | S::Stopped if request == ControlRequest::Reset => {
            ControlPlan::Refuse(format!(
                "{name} is {shown}, not FAILED: `ballast reset` only clears a FAILED service; to stop and start it again use `ballast restart {name}`"
            ))
        }
        S::Starting | S::Running => ControlPlan::StopThenStart,
        S::Backoff | S::Stopped => ControlPlan::StartNow,
        S::Failed if request == ControlRequest::Restart => ControlPlan::Refuse(format!(
            "{name} is {shown}: its failure budget is spent, so `ballast restart {name}` does not start it; `ballast reset {name}` clears it and starts it"
        )),
        S::FailedConfig if request == ControlRequest::Restart => ControlPlan::Refuse(format!(
            "{name} is {shown}: its configuration is wrong (see `ballast status` and `ballast logs {name}`); fix it, then `ballast reset {name}` starts it"
        )),
        S::Failed | S::FailedConfig => ControlPlan::ClearThenStart,
    }
}

impl Service {
    /// Carry out the state side of a plan for a service that holds no process: the restart
    /// delay is skipped (BACKOFF → STOPPED, which the runtime starts), a FAILED service is
    /// cleared (budget, delay and reason). A service that holds a process is never changed
    /// here: its state follows its reaped exit. Returns whether the service may be started now.
    pub fn make_startable(&mut self, plan: &ControlPlan) -> bool {
        match plan {
            ControlPlan::StartNow
                if matches!(self.state, ServiceState::Backoff | ServiceState::Stopped) =>
            {
                self.state = ServiceState::Stopped;
                true
            }
            ControlPlan::ClearThenStart
                if matches!(
                    self.state,
                    ServiceState::Failed | ServiceState::FailedConfig
                ) =>
            {
                self.reset();
                true
            }
            _ => false,
        }
    }
}

//! The control requests, one function each (rust-analyzer's `handlers/`): what `ballast
//! status`, `restart`, `reset`, `heal`, `health`, `approve`, `reject` and `resume` do, decided
//! on the core's state. Each ends in exactly one [`Output::Reply`], at once or after the
//! sweep or write it asked for.

use ballast_core::health::{Recommendation, RecoveryAction};
use ballast_core::policy::{Policy, Transition};
use ballast_core::supervisor::{ControlPlan, ControlRequest, plan_control_shown};

use super::events::OpsEvent;
use super::{
    After, AfterSweep, ControlError, FileWrite, KillSwitchFiles, Now, Output, SupervisorCore,
    Token, View,
};
use crate::control::Request;
use ballast_core::health::SubsystemId;

impl SupervisorCore {
    pub(super) fn control(
        &mut self,
        token: Token,
        request: Request,
        kill_switch: KillSwitchFiles,
        now: Now,
    ) {
        match request {
            Request::Status => self.status(token, now),
            Request::Health => self.health(token),
            Request::Approve { id } => self.decide(token, &id, true, now),
            Request::Reject { id } => self.decide(token, &id, false, now),
            Request::Release => self.release_request(token, kill_switch, now),
            Request::Heal { dry_run } => self.heal(token, dry_run, now),
            Request::Restart { service } => {
                let r = self.control_service(ControlRequest::Restart, &service, "operator", now);
                self.reply(token, r.map(View::Done));
            }
            Request::Reset { service } => {
                let r = self.control_service(ControlRequest::Reset, &service, "operator", now);
                self.reply(token, r.map(View::Done));
            }
            Request::Disable { name } => self.disable_request(token, &name, now),
            Request::Enable { name } => self.enable_request(token, &name),
            // The shell answers a health check after the cycle it forces; asked here, the
            // newest report is the answer.
            Request::HealthCheck => self.health(token),
            Request::Kill {
                reason,
                flatten,
                by,
            } => {
                // Any client of the socket: the reason is journaled and logged, one line.
                let reason = match ballast_core::engine::kill_switch::check_reason(&reason) {
                    Ok(r) => r,
                    Err(why) => {
                        return self.reply(
                            token,
                            Err(ControlError::InvalidState(format!("reason: {why}"))),
                        );
                    }
                };
                let file = FileWrite::KillSwitch {
                    reason,
                    flatten,
                    by,
                    at: now.wall,
                };
                self.write(file, After::Engaged { token });
            }
            Request::Reconcile {
                finding,
                choice,
                reason,
                by,
                seen,
            } => self.reconcile_choice(token, (&finding, seen), choice, (&reason, &by), now),
            Request::Reload { .. } => {
                // The shell reads the file and hands `Input::Reload`; a bare request has nothing
                // to apply.
                let e = ControlError::Failed("the configuration could not be read again".into());
                self.reply(token, Err(e));
            }
        }
    }

    /// `ballast reconcile adopt|flatten|stay`: the finding named (its id or its symbol) must be
    /// open in the engine's last report and offer the choice; then the choice is written for
    /// the engine, which judges it again against its state and journals it.
    fn reconcile_choice(
        &mut self,
        token: Token,
        (target, seen): (&str, Option<ballast_core::reconcile::Seen>),
        choice: ballast_core::reconcile::Choice,
        (reason, by): (&str, &str),
        now: Now,
    ) {
        use ballast_core::resolve::{self, Refusal};
        let reason = match resolve::check_reason(reason) {
            Ok(r) => r,
            Err(r) => {
                let e = ControlError::InvalidState(format!("reason: {}", r.message()));
                return self.reply(token, Err(e));
            }
        };
        let Some(engine) = self.governor.engine.as_ref() else {
            let e = ControlError::Unavailable(
                "the engine has not reported yet: its findings are not known; try again once it runs".into(),
            );
            return self.reply(token, Err(e));
        };
        let findings = engine
            .venue
            .reconcile
            .as_ref()
            .map_or(&[][..], |r| r.findings.as_slice());
        let f = match resolve::pick(findings, target, choice) {
            Ok(f) => f,
            Err(Refusal::NotFound(m)) => return self.reply(token, Err(ControlError::NotFound(m))),
            Err(r) => {
                let e = ControlError::InvalidState(r.message().to_owned());
                return self.reply(token, Err(e));
            }
        };
        let now_seen = ballast_core::reconcile::Seen::of(f);
        let seen = match seen {
            None => now_seen,
            Some(seen) => match ballast_core::reconcile::changed_since(&seen, f) {
                None => seen,
                Some(why) => return self.reply(token, Err(ControlError::Conflict(why))),
            },
        };
        let finding = f.id.clone();
        let file = ballast_store::files::reconcile_choice::ChoiceFile {
            version: ballast_store::files::VERSION,
            finding: finding.clone(),
            choice,
            by: format!("{by}: {reason}"),
            at: now.wall,
            seen: Some(seen),
        };
        self.write(
            FileWrite::ReconcileChoice(Box::new(file)),
            After::Chosen {
                token,
                finding,
                choice,
            },
        );
    }

    /// What an approved `resolve_finding` recommendation was made on: the finding as the
    /// engine's last report shows it, when its digest is the recommendation's (it changed
    /// since: a conflict — the new recommendation is the one to look at).
    fn seen_for_recommendation(
        &self,
        id: &str,
        finding: &str,
        digest: Option<&str>,
    ) -> Result<Option<ballast_core::reconcile::Seen>, ControlError> {
        let Some(digest) = digest else {
            return Ok(None);
        };
        let now = self
            .governor
            .engine
            .as_ref()
            .and_then(|e| e.venue.reconcile.as_ref())
            .and_then(|r| r.findings.iter().find(|f| f.id == finding))
            .map(ballast_core::reconcile::Seen::of);
        match now {
            Some(seen) if seen.digest() == digest => Ok(Some(seen)),
            Some(_) => Err(ControlError::Conflict(format!(
                "{id}: the finding {finding} changed since the recommendation was made — look again with `ballast reconcile` or `ballast status`"
            ))),
            None => Err(ControlError::NotFound(format!(
                "{id}: the finding {finding} is no longer open"
            ))),
        }
    }

    fn status(&mut self, token: Token, now: Now) {
        let view = self.status_view(now.at);
        self.reply(token, Ok(View::Status(Box::new(view))));
    }

    fn health(&mut self, token: Token) {
        let report = self.governor.health_file();
        self.reply(token, Ok(View::Health(report)));
    }

    /// `ballast heal`: the operator asked, so everything is read again now, the engine's files
    /// too; a dry run only plans.
    fn heal(&mut self, token: Token, dry_run: bool, now: Now) {
        if dry_run {
            self.sweeping = Some(AfterSweep::DryRun(token));
            self.out.push_back(Output::Sweep {
                startup: false,
                dry_run: true,
                forget: true,
                report: true,
            });
        } else {
            self.sweep(false, true, AfterSweep::Heal(token), now);
        }
    }

    /// `ballast resume`'s release, judged on what is there now: a dangerous finding of the
    /// last sweep that is gone since (the engine salvaged at its start) does not hold it.
    fn release_request(&mut self, token: Token, kill_switch: KillSwitchFiles, now: Now) {
        if self.governor.dangerous > 0 {
            self.sweep(false, true, AfterSweep::Release(token, kill_switch), now);
        } else {
            self.release(token, kill_switch, now);
        }
    }

    pub(super) fn release(&mut self, token: Token, kill_switch: KillSwitchFiles, now: Now) {
        match self.governor.release(kill_switch, now.wall) {
            Err(None) => self.reply(
                token,
                Err(ControlError::Unavailable(
                    "no health report yet: try again in a moment".into(),
                )),
            ),
            Err(Some(why)) => self.reply(token, Err(ControlError::Refused(why))),
            Ok(transition) => {
                let step = self
                    .governor
                    .write_policy(After::Release { token, transition });
                self.steps(vec![step]);
            }
        }
    }

    /// The release's policy file was written (or not).
    pub(super) fn released(
        &mut self,
        token: Token,
        transition: Option<Transition>,
        written: Result<String, String>,
    ) {
        if let Err(e) = written {
            let why = format!("cannot persist the policy: {e}");
            return self.reply(token, Err(ControlError::Failed(why)));
        }
        let report = self.governor.write_report(After::Nothing);
        self.steps(vec![report]);
        self.ops(OpsEvent::PolicyReleased { by: "operator" });
        let message = match &transition {
            Some(t) => format!("safety policy {} -> {}", t.from.as_str(), t.to.as_str()),
            None => "latches and operator floors cleared; the policy is unchanged".into(),
        };
        if let Some(t) = transition {
            self.recorded(OpsEvent::policy_changed(&t));
        }
        self.reply(token, Ok(View::Done(message)));
    }

    /// An operator approves (and the supervisor carries out) or rejects a recommendation.
    fn decide(&mut self, token: Token, id: &str, approve: bool, now: Now) {
        let approvals = &self.governor.approvals;
        let class: fn(String) -> ControlError = if approvals.open.iter().any(|r| r.id == id) {
            ControlError::InvalidState
        } else if approvals.decided.iter().any(|r| r.id == id) {
            ControlError::Conflict
        } else {
            ControlError::NotFound
        };
        let decided = if approve {
            self.governor.approve(id, now.wall)
        } else {
            self.governor.reject(id, now.wall)
        };
        let r = match decided {
            Err(message) => return self.reply(token, Err(class(message))),
            Ok(r) => r,
        };
        if !approve {
            let report = self.governor.write_report(After::Nothing);
            self.steps(vec![report]);
            self.ops(OpsEvent::RecommendationRejected(r));
            return self.reply(token, Ok(View::Done(format!("{id} rejected"))));
        }
        self.ops(OpsEvent::RecommendationApproved(r.clone()));
        self.approved(token, &r, now);
    }

    /// Carry out an approved recommendation.
    fn approved(&mut self, token: Token, r: &Recommendation, now: Now) {
        let id = r.id.clone();
        let floor = match r.advice.action {
            RecoveryAction::RestartSubsystem => None,
            RecoveryAction::DisableModule => {
                return self.disable_approved(token, &id, &r.advice.target, now);
            }
            RecoveryAction::SwitchToBackup => {
                let why = format!("{id}: the supervisor switches to the fallback by itself");
                return self.reply(token, Err(ControlError::InvalidState(why)));
            }
            RecoveryAction::ClearCache => return self.clear_approved(token, r),
            RecoveryAction::PauseTrading | RecoveryAction::NoNewTrades => Some(Policy::NoNewTrades),
            RecoveryAction::SwitchToSafeRiskProfile => Some(Policy::SafeRiskProfile),
            RecoveryAction::DefensiveExit => Some(Policy::DefensiveExit),
            RecoveryAction::ReloadConfig => return self.approved_reload(token, id),
            RecoveryAction::ResolveFinding => {
                let Some((finding, choice, digest)) =
                    ballast_core::health::venue::choice_of_target(&r.advice.target)
                else {
                    let why = format!("{id}: its target {:?} names no choice", r.advice.target);
                    return self.reply(token, Err(ControlError::InvalidState(why)));
                };
                let seen = match self.seen_for_recommendation(&id, finding, digest) {
                    Ok(seen) => seen,
                    Err(e) => return self.reply(token, Err(e)),
                };
                let reason = format!("approved recommendation {id}");
                return self.reconcile_choice(
                    token,
                    (finding, seen),
                    choice,
                    (&reason, "ballast approve"),
                    now,
                );
            }
            RecoveryAction::CloseAllPositions => {
                let file = FileWrite::KillSwitch {
                    reason: format!("approved recommendation {id}"),
                    flatten: true,
                    by: "ballast approve".to_owned(),
                    at: now.wall,
                };
                return self.write(file, After::KillSwitch { token, id });
            }
        };
        if let Some(floor) = floor {
            let transition = self.governor.set_floor(floor, now.wall);
            let step = self.governor.write_policy(After::Floor {
                token,
                id,
                floor,
                transition,
            });
            return self.steps(vec![step]);
        }
        let target = SubsystemId::parse(&r.advice.target);
        let name = target.service().unwrap_or(&r.advice.target).to_owned();
        let reply = match self.control_service(
            ControlRequest::Recover,
            &name,
            "approved recommendation",
            now,
        ) {
            Ok(message) => Ok(View::Done(format!("{id} approved: {message}"))),
            Err(e) => Err(ControlError::Failed(format!("{id} approved, but {e}"))),
        };
        self.reply(token, reply);
    }

    /// An approved floor's policy file was written (or not).
    pub(super) fn floored(
        &mut self,
        token: Token,
        id: &str,
        floor: Policy,
        transition: Option<Transition>,
        written: Result<String, String>,
    ) {
        if let Err(e) = written {
            let why = format!("{id} approved, but cannot persist the policy: {e}");
            return self.reply(token, Err(ControlError::Failed(why)));
        }
        let report = self.governor.write_report(After::Nothing);
        self.steps(vec![report]);
        if let Some(t) = transition {
            self.recorded(OpsEvent::policy_changed(&t));
        }
        let message = format!(
            "{id} approved: policy is at least {} until `ballast resume`",
            floor.as_str()
        );
        self.reply(token, Ok(View::Done(message)));
    }

    /// One path for every request that acts on a service — `restart`, `reset`, an approved
    /// restart recommendation: the core's plan for the service's state, carried out. A
    /// service whose process is up is only ever stopped (and started again once reaped); its
    /// recorded state is never changed under it.
    fn control_service(
        &mut self,
        request: ControlRequest,
        service: &str,
        by: &str,
        now: Now,
    ) -> Result<String, ControlError> {
        let Some(i) = self.slot_of(service) else {
            let known = self.service_names().join(", ");
            return Err(ControlError::NotFound(format!(
                "no service named \"{service}\"; the services are: {known}"
            )));
        };
        // The state as `status` shows it (WAITING (for …), HELD), for the messages.
        let view = self.view(i, now.at);
        let was = view.shown();
        if view.disabled.is_some() || view.standby {
            let why = match &view.disabled {
                Some(why) => {
                    format!("{service} is DISABLED ({why}): `ballast enable {service}` starts it")
                }
                None => format!(
                    "{service} is a fallback standing by: it starts by itself when the service it covers is FAILED or disabled"
                ),
            };
            return Err(ControlError::InvalidState(why));
        }
        let slot = &self.slots[i];
        // The plan follows the process actually held: a process that is up is stopped first,
        // whatever the recorded state says.
        let plan = match (
            slot.proc,
            plan_control_shown(request, service, slot.svc.state, &was),
        ) {
            (Some(_), ControlPlan::StartNow | ControlPlan::ClearThenStart) => {
                ControlPlan::StopThenStart
            }
            (_, plan) => plan,
        };
        let reset = request == ControlRequest::Reset;
        let (by, service) = (by.to_owned(), service.to_owned());
        match plan {
            ControlPlan::Refuse(why) => {
                self.log(format!("{service}: {} refused: {why}", request.as_str()));
                Err(ControlError::InvalidState(why))
            }
            ControlPlan::StopThenStart => {
                let pid = slot.proc.map_or(0, |p| p.pid);
                self.slots[i].wanted = true;
                self.stop_slot(i, true, now);
                self.ops(OpsEvent::ServiceControl {
                    reset,
                    service: service.clone(),
                    was: was.clone(),
                    by,
                    pid: Some(pid),
                });
                Ok(format!(
                    "{service}: restarting (was {was}, pid {pid}: stopping it, then starting it again)"
                ))
            }
            ControlPlan::StartNow | ControlPlan::ClearThenStart => {
                let slot = &mut self.slots[i];
                slot.restart_at = None;
                slot.wanted = true;
                slot.svc.make_startable(&plan);
                self.ops(OpsEvent::ServiceControl {
                    reset,
                    service: service.clone(),
                    was: was.clone(),
                    by,
                    pid: None,
                });
                let doing = if reset { "reset" } else { "restarting" };
                if let Some(why) = self.held.get(&service) {
                    return Ok(format!(
                        "{service}: {doing} (was {was}); it stays held until this clears: {why}"
                    ));
                }
                let waits = self.waiting_for(i);
                Ok(if waits.is_empty() {
                    format!("{service}: {doing} (was {was}); starting")
                } else {
                    format!(
                        "{service}: {doing} (was {was}); it starts once {} runs",
                        waits.join(", ")
                    )
                })
            }
        }
    }
}

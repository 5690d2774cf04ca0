//! The control socket's answers: each reply of the core rendered as the wire's [`Response`]
//! (the protocol's text is the [`crate::core::ControlError`]'s), with what only the shell can
//! measure (a heartbeat file's age) filled in.

use crate::control::{Response, ServiceStatus};
use crate::core::{ControlError, StatusView, View};
use crate::{ServiceSpec, readiness};

/// The wire answer of a reply; `specs` are the services (for their heartbeat files).
pub(crate) fn response<'a>(
    reply: Result<View, ControlError>,
    specs: impl Iterator<Item = &'a ServiceSpec> + Clone,
) -> Response {
    match reply {
        Ok(View::Status(status)) => status_response(*status, specs),
        Ok(View::Health(report)) => Response::Health { report },
        Ok(View::Heal(Some(report))) => Response::Heal { report },
        Ok(View::Heal(None)) => ControlError::Failed("the healer made no report".into()).into(),
        Ok(View::Done(message)) => Response::Done { message },
        Ok(View::Reload(answer)) => Response::Reload(answer),
        Err(e) => e.into(),
    }
}

fn status_response<'a>(
    status: StatusView,
    specs: impl Iterator<Item = &'a ServiceSpec> + Clone,
) -> Response {
    let services = status
        .services
        .into_iter()
        .map(|v| {
            let heartbeat = specs
                .clone()
                .find(|s| s.name == v.name)
                .and_then(|s| s.heartbeat_file.as_deref());
            ServiceStatus {
                state: v.shown(),
                name: v.name,
                critical: v.critical,
                pid: v.pid,
                restarts: v.restarts,
                uptime_secs: v.uptime.map(|d| d.as_secs()),
                last_exit: v.last_exit,
                failures_in_window: v.failures_in_window,
                max_restarts: v.max_restarts,
                heartbeat_age_ms: readiness::heartbeat_age_ms(heartbeat),
                covering: v.covering,
                covered_by: v.covered_by,
            }
        })
        .collect();
    Response::Status {
        supervisor_pid: status.supervisor_pid,
        overall: status.overall.to_owned(),
        services,
        health: Box::new(status.health),
        config: status.config,
        loaded: status.loaded,
        // Filled in by the loop, which knows where the API listens.
        api: None,
    }
}

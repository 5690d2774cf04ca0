//! Names as types: the health subsystem a service is (`engine`, or `service:NAME` for a user's
//! service) — the `service:` prefix is spelled here only.

/// A health subsystem the supervisor acts on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SubsystemId {
    /// The built-in trading engine (the service named `engine`).
    Engine,
    /// A service declared in `[[services]]`.
    Service(String),
    /// Any other subsystem (data feed, journal, resources, a `[[checks]]` entry, …).
    Other(String),
}

/// The prefix of a declared service's subsystem name.
const SERVICE_PREFIX: &str = "service:";

/// The name of the built-in engine's service and subsystem.
pub const ENGINE: &str = "engine";

impl SubsystemId {
    /// The subsystem of the service named `name`.
    pub fn of_service(name: &str) -> SubsystemId {
        if name == ENGINE {
            SubsystemId::Engine
        } else {
            SubsystemId::Service(name.to_owned())
        }
    }

    /// A subsystem's name as the health report spells it.
    pub fn parse(name: &str) -> SubsystemId {
        match name.strip_prefix(SERVICE_PREFIX) {
            _ if name == ENGINE => SubsystemId::Engine,
            Some(service) => SubsystemId::Service(service.to_owned()),
            None => SubsystemId::Other(name.to_owned()),
        }
    }

    /// The service this subsystem is, if it is one.
    pub fn service(&self) -> Option<&str> {
        match self {
            SubsystemId::Engine => Some(ENGINE),
            SubsystemId::Service(s) => Some(s),
            SubsystemId::Other(_) => None,
        }
    }
}

impl std::fmt::Display for SubsystemId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SubsystemId::Engine => f.write_str(ENGINE),
            SubsystemId::Service(s) => write!(f, "{SERVICE_PREFIX}{s}"),
            SubsystemId::Other(s) => f.write_str(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_subsystem_reads_back_as_itself() {
        for id in [
            SubsystemId::Engine,
            SubsystemId::Service("bot".into()),
            SubsystemId::Other("data_feed".into()),
        ] {
            assert_eq!(SubsystemId::parse(&id.to_string()), id);
        }
        assert_eq!(SubsystemId::of_service("bot").to_string(), "service:bot");
        assert_eq!(SubsystemId::of_service("engine").to_string(), "engine");
    }
}

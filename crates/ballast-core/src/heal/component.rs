//! The components a heal plan names (`Action::component`), as a type where they are matched
//! on: which of them the engine owns while it runs, which are a service's declared artifact.

/// A component of the self-heal.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Component {
    DataDirs,
    Locks,
    Journal,
    Snapshots,
    EngineState,
    HealthSnapshot,
    Logs,
    Orphans,
    Permissions,
    Links,
    /// A file a service declared (`artifact:<service>`).
    Artifact(String),
    /// Any other name.
    Other(String),
}

const ARTIFACT_PREFIX: &str = "artifact:";

impl Component {
    /// The component as a plan and the ops journal name it.
    pub fn parse(name: &str) -> Component {
        match name {
            "data_dirs" => Component::DataDirs,
            "locks" => Component::Locks,
            "journal" => Component::Journal,
            "snapshots" => Component::Snapshots,
            "engine_state" => Component::EngineState,
            "health_snapshot" => Component::HealthSnapshot,
            "logs" => Component::Logs,
            "orphans" => Component::Orphans,
            "permissions" => Component::Permissions,
            "links" => Component::Links,
            _ => match name.strip_prefix(ARTIFACT_PREFIX) {
                Some(service) => Component::Artifact(service.to_owned()),
                None => Component::Other(name.to_owned()),
            },
        }
    }

    /// The engine's own files (journal, snapshots, state): read while it runs, healed only at
    /// its next start; a finding there is the engine's integrity, not the healer's.
    pub fn is_engine_owned(&self) -> bool {
        matches!(
            self,
            Component::Journal | Component::Snapshots | Component::EngineState
        )
    }
}

impl std::fmt::Display for Component {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            Component::DataDirs => "data_dirs",
            Component::Locks => "locks",
            Component::Journal => "journal",
            Component::Snapshots => "snapshots",
            Component::EngineState => "engine_state",
            Component::HealthSnapshot => "health_snapshot",
            Component::Logs => "logs",
            Component::Orphans => "orphans",
            Component::Permissions => "permissions",
            Component::Links => "links",
            Component::Artifact(service) => return write!(f, "{ARTIFACT_PREFIX}{service}"),
            Component::Other(name) => name,
        };
        f.write_str(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_component_reads_back_as_itself_and_the_engine_owns_its_files_only() {
        for name in [
            "data_dirs",
            "locks",
            "journal",
            "snapshots",
            "engine_state",
            "health_snapshot",
            "logs",
            "orphans",
            "permissions",
            "links",
            "artifact:bot",
            "something_else",
        ] {
            assert_eq!(Component::parse(name).to_string(), name);
        }
        let owned: Vec<String> = [
            "journal",
            "snapshots",
            "engine_state",
            "locks",
            "artifact:x",
        ]
        .into_iter()
        .filter(|n| Component::parse(n).is_engine_owned())
        .map(str::to_owned)
        .collect();
        assert_eq!(owned, ["journal", "snapshots", "engine_state"]);
    }
}

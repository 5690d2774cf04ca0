use std::fmt;

/// Where a configuration value came from, for messages that say exactly where to look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A position in the config file (1-based line and column).
    File {
        path: String,
        line: usize,
        col: usize,
    },
    /// An environment variable.
    Env { var: String },
    /// The built-in default of `[section] key`.
    Default { section: String, key: String },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File { path, line, col } => write!(f, "{path}:{line}:{col}"),
            Origin::Env { var } => write!(f, "environment variable {var}"),
            Origin::Default { section, key } => write!(f, "[{section}] {key} (built-in default)"),
        }
    }
}

/// One problem with the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub origin: Origin,
    pub message: String,
    pub help: Option<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: error: {}", self.origin, self.message)?;
        if let Some(help) = &self.help {
            write!(f, "\n    help: {help}")?;
        }
        Ok(())
    }
}

/// Every problem found, reported together (never only the first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    /// In the order an operator fixes them: the file's by line and column, then the
    /// environment's, then the defaults' (a stable sort: equal places keep their order) — and
    /// with no secret repeated (every error is sorted before it leaves: its text goes to
    /// terminals, tickets, journals and the health report).
    pub fn sort(&mut self) {
        for e in &mut self.0 {
            e.message = super::secret::mask_message(&e.message);
            e.help = e.help.as_deref().map(super::secret::mask_message);
        }
        let rank = |o: &Origin| match o {
            Origin::File { line, col, .. } => (0, *line, *col, String::new()),
            Origin::Env { var } => (1, 0, 0, var.clone()),
            Origin::Default { section, key } => (2, 0, 0, format!("{section}.{key}")),
        };
        self.0.sort_by_key(|e| rank(&e.origin));
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in &self.0 {
            writeln!(f, "{e}")?;
        }
        let n = self.0.len();
        write!(
            f,
            "{n} configuration error{} found; nothing was started or changed.",
            if n == 1 { "" } else { "s" }
        )
    }
}

impl std::error::Error for ConfigErrors {}

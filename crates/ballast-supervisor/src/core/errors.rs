//! Why a control request was not carried out, by class — so a caller (the control socket
//! today, the HTTP API next) maps each class to its answer in one place (an HTTP status: 404,
//! 409, 422, 403, 503, 500, …). Each knows the words it renders; the control protocol's text is
//! exactly that.

/// A control request's failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    /// What the request names does not exist (a service, a recommendation).
    #[error("{0}")]
    NotFound(String),
    /// It was already decided otherwise (a recommendation approved or rejected before).
    #[error("{0}")]
    Conflict(String),
    /// Not in a state where the request means anything (`reset` of a service that is not
    /// FAILED, `restart` of a FAILED one, approving an automatic recommendation).
    #[error("{0}")]
    InvalidState(String),
    /// A safety rule refuses it (a release while the kill switch is engaged or the
    /// reconciliation is not clean).
    #[error("{0}")]
    Refused(String),
    /// Not possible yet (no health report so far).
    #[error("{0}")]
    Unavailable(String),
    /// Decided, but carrying it out failed (a file could not be written).
    #[error("{0}")]
    Failed(String),
    /// The supervisor is stopping its services.
    #[error("the supervisor is shutting down")]
    ShuttingDown,
    /// Not a request, or too long, or incomplete (the control socket's server).
    #[error("{0}")]
    BadRequest(String),
    /// The server is at its connection limit.
    #[error("{0}")]
    Busy(String),
    /// No answer in time.
    #[error("{0}")]
    Timeout(String),
}

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

impl ControlError {
    /// The class as a stable word (the control protocol's `code`, the API's error code).
    pub fn code(&self) -> &'static str {
        match self {
            ControlError::NotFound(_) => "not_found",
            ControlError::Conflict(_) => "conflict",
            ControlError::InvalidState(_) => "invalid_state",
            ControlError::Refused(_) => "refused",
            ControlError::Unavailable(_) => "unavailable",
            ControlError::Failed(_) => "failed",
            ControlError::ShuttingDown => "shutting_down",
            ControlError::BadRequest(_) => "bad_request",
            ControlError::Busy(_) => "busy",
            ControlError::Timeout(_) => "timeout",
        }
    }

    /// The error of class `code` with `message` (read back from the control protocol);
    /// `None` for a code this Ballast does not know.
    pub fn from_code(code: &str, message: String) -> Option<ControlError> {
        Some(match code {
            "not_found" => ControlError::NotFound(message),
            "conflict" => ControlError::Conflict(message),
            "invalid_state" => ControlError::InvalidState(message),
            "refused" => ControlError::Refused(message),
            "unavailable" => ControlError::Unavailable(message),
            "failed" => ControlError::Failed(message),
            "shutting_down" => ControlError::ShuttingDown,
            "bad_request" => ControlError::BadRequest(message),
            "busy" => ControlError::Busy(message),
            "timeout" => ControlError::Timeout(message),
            _ => return None,
        })
    }

    /// The HTTP status an API answers this with — decided here, and nowhere else.
    pub fn http_status(&self) -> u16 {
        match self {
            ControlError::BadRequest(_) => 400,
            ControlError::Refused(_) => 403,
            ControlError::NotFound(_) => 404,
            ControlError::Conflict(_) | ControlError::InvalidState(_) => 409,
            ControlError::Busy(_) => 429,
            ControlError::Failed(_) => 500,
            ControlError::Unavailable(_) | ControlError::ShuttingDown => 503,
            ControlError::Timeout(_) => 504,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_renders_its_words_and_knows_its_status() {
        let e = ControlError::NotFound("no service named \"x\"; the services are: bot".into());
        assert_eq!(
            e.to_string(),
            "no service named \"x\"; the services are: bot"
        );
        assert_eq!(e.http_status(), 404);
        assert_eq!(
            ControlError::ShuttingDown.to_string(),
            "the supervisor is shutting down"
        );
        assert_eq!(ControlError::ShuttingDown.http_status(), 503);
        assert_eq!(ControlError::InvalidState(String::new()).http_status(), 409);
        assert_eq!(ControlError::Busy(String::new()).http_status(), 429);
        for e in [
            ControlError::NotFound("a".into()),
            ControlError::Conflict("b".into()),
            ControlError::InvalidState("c".into()),
            ControlError::Refused("d".into()),
            ControlError::Unavailable("e".into()),
            ControlError::Failed("f".into()),
            ControlError::ShuttingDown,
            ControlError::BadRequest("g".into()),
            ControlError::Busy("h".into()),
            ControlError::Timeout("i".into()),
        ] {
            let back = ControlError::from_code(e.code(), e.to_string());
            assert_eq!(back.as_ref(), Some(&e), "{}", e.code());
        }
        assert_eq!(ControlError::from_code("newer", "x".into()), None);
    }
}

//! Every JSON body a route accepts, decoded as its handler decodes it — one function per body,
//! for the fuzz targets (`crates/ballast-fuzz`) and anyone who needs a route's reading of a body
//! without a server:
//!
//! | route | body | function |
//! |---|---|---|
//! | `POST /v1/signals` | a signal | [`signal`] (the handler's own parser) |
//! | `POST /v1/kill-switch` (supervisor's and standalone engine's) | `{"reason", "flatten"}` | [`kill`] |
//! | `POST /v1/reconcile/{finding}/{choice}` | `{"reason", "seen"}` | [`reconcile_choice`] |
//!
//! The kill switch and reconciliation routes take their body through axum's `Json` extractor;
//! the functions here run the same [`axum::Json::from_bytes`] that extractor runs (after its
//! `Content-Type` check), then the same rule the handler applies. Approvals, rejections and the
//! release take no body (the id travels in the path and in the control request).
//! Every body is bounded before it is read: [`crate::MAX_BODY_BYTES`] for all routes, and
//! [`ballast_core::limits::SIGNALS_BODY_MAX_BYTES`] for a signal.

use axum::Json;
use ballast_core::domain::Symbol;
use ballast_core::inbox::ExternalSignal;
use ballast_core::reconcile::Seen;

use crate::ApiError;
use crate::control::{KillBody, kill_reason};
use crate::reconcile::ReasonBody;

/// `POST /v1/signals`'s body → the signal (`symbols`: the tradable universe).
pub fn signal(bytes: &[u8], symbols: &[Symbol]) -> Result<ExternalSignal, ApiError> {
    crate::signals::parse(bytes, symbols)
}

/// `POST /v1/kill-switch`'s body → the checked reason and `flatten`.
pub fn kill(bytes: &[u8]) -> Result<(String, bool), ApiError> {
    let Json(body) =
        Json::<KillBody>::from_bytes(bytes).map_err(|e| ApiError::bad_request(e.body_text()))?;
    Ok((kill_reason(&body)?, body.flatten))
}

/// `POST /v1/reconcile/{finding}/{choice}`'s body → the checked reason and what the operator
/// saw (`choice`, the path's word, is checked as the handler checks it).
pub fn reconcile_choice(
    bytes: &[u8],
    choice: &str,
) -> Result<(ballast_core::reconcile::Choice, String, Option<Seen>), ApiError> {
    let Json(body) =
        Json::<ReasonBody>::from_bytes(bytes).map_err(|e| ApiError::bad_request(e.body_text()))?;
    let choice = crate::reconcile::parse_choice(choice)?;
    let reason = crate::reconcile::checked_reason(&body.reason)?;
    Ok((choice, reason, body.seen))
}

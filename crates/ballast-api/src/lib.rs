//! Ballast's operator surfaces over HTTP (SPEC §8): the API, the dashboard, Prometheus metrics
//! and server-sent events, served by `ballast run` for the supervisor and by `ballast engine
//! --standalone` for its own part.
//!
//! Everything here reads typed views and sends typed control inputs: control requests go to
//! the supervisor's loop through [`ballast_supervisor::surface::Surface`] — the control socket's
//! path, one implementation — and the engine's state is read from its journal, the source of
//! truth, never from a second copy. Every error is an [`ApiError`], rendered at one boundary.

#![forbid(unsafe_code)]

pub mod error;
pub mod routes;
pub mod signals;

pub use error::ApiError;

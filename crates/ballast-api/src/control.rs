//! The control routes (next: health, services, recommendations, policy, kill switch,
//! configuration — every call through the supervisor's loop).

use crate::{Context, Routes};

pub fn routes(_ctx: Context) -> Routes {
    Routes::default()
}

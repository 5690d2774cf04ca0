//! `/livez` and `/readyz`.

use crate::{Context, Routes};

pub fn routes(_ctx: Context) -> Routes {
    Routes::default()
}

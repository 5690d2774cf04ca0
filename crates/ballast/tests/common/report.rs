//! Reading the health report (`ballast health --json`) the way an operator's script would.

use serde_json::Value;

/// The safety policy the report states (`""` if none).
pub fn policy(h: &Value) -> &str {
    h["policy"]["policy"].as_str().unwrap_or("")
}

/// The status of subsystem `name` (`""` if the report has no such subsystem).
pub fn status<'a>(h: &'a Value, name: &str) -> &'a str {
    h["subsystems"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["name"] == name))
        .and_then(|s| s["status"].as_str())
        .unwrap_or("")
}

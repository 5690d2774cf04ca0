//! The kill switch's state is the engine's journaled state (`engine.kill_switch`): the
//! `KILL_SWITCH` file is only the request to engage it, and only an explicit release from
//! `ballast resume` (the release token `KILL_SWITCH.release`) releases it. A `KILL_SWITCH`
//! removed by hand (or by another user of a shared directory) releases nothing. Pure: the
//! engine reads the two files and carries out the step.

use serde::{Deserialize, Serialize};

use super::KillSwitchRecord;
use crate::layout::rel::KILL_SWITCH as KILL_SWITCH_FILE;
use crate::time::Timestamp;

/// The longest kill-switch reason taken, in characters.
pub const MAX_REASON_CHARS: usize = 500;

/// An operator's kill-switch reason (HTTP body, `ballast kill --reason`, the control socket),
/// trimmed, or why it is refused, in words: empty, longer than [`MAX_REASON_CHARS`], or with a
/// control character (a line break, NUL, any other C0 or DEL, C1): the reason is journaled
/// and written into log lines, and one event must stay one line.
pub fn check_reason(reason: &str) -> Result<String, String> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(
            "say why the kill switch is engaged (it is journaled): the reason is empty".into(),
        );
    }
    let chars = reason.chars().count();
    if chars > MAX_REASON_CHARS {
        return Err(format!(
            "the reason is {chars} characters, over the limit of {MAX_REASON_CHARS}; say it shorter"
        ));
    }
    if let Some((at, c)) = reason.chars().enumerate().find(|(_, c)| c.is_control()) {
        return Err(format!(
            "the reason has a control character (U+{:04X}) at character {}; say it on one line of printable text (no line breaks, tabs or NUL)",
            u32::from(c),
            at + 1
        ));
    }
    Ok(reason.to_owned())
}

/// The release `ballast resume` writes (`KILL_SWITCH.release`), consumed by the engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseToken {
    /// When `ballast resume` released it (UTC).
    pub released_at: Timestamp,
    /// Who released it (`ballast resume`).
    pub by: String,
    /// The reason of the engagement it releases, as the `KILL_SWITCH` file said, when resume
    /// read one: a release for another engagement releases nothing.
    #[serde(default)]
    pub engaged_reason: Option<String>,
}

/// What the engine sees of the files this loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Release {
    /// No release token.
    None,
    /// A release token that is not one `ballast resume` wrote (why, in words).
    Invalid(String),
    Token(ReleaseToken),
}

/// What to do this loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Nothing,
    /// Journal an engagement (also when flatten is asked for an engaged switch), then remove
    /// any release token (written before this engagement, it releases nothing).
    Engage {
        reason: String,
        flatten: bool,
    },
    /// Journal the release with this reason, then remove the token.
    Release {
        reason: String,
    },
    /// Remove the token: there is nothing (or another engagement) to release; say why.
    DiscardToken {
        why: String,
    },
    /// The file is gone without a release: the switch stays engaged; say so (once).
    StaysEngaged {
        why: String,
    },
}

/// The step for the journaled switch `engaged`, the request (`KILL_SWITCH` present, with its
/// reason and flatten) and the release token.
pub fn step(
    engaged: Option<&KillSwitchRecord>,
    request: Option<(String, bool)>,
    release: &Release,
) -> Step {
    match (engaged, request) {
        (None, Some((reason, flatten))) => Step::Engage { reason, flatten },
        (Some(k), Some((reason, true))) if !k.flatten => Step::Engage {
            reason,
            flatten: true,
        },
        // Engaged and still asked for: a token waits for the file to go (resume writes the
        // token first, then removes the file).
        (Some(_), Some(_)) => Step::Nothing,
        (None, None) => match release {
            Release::None => Step::Nothing,
            _ => Step::DiscardToken {
                why: "the kill switch is not engaged: nothing to release".into(),
            },
        },
        (Some(k), None) => match release {
            Release::None => Step::StaysEngaged {
                why: format!(
                    "{KILL_SWITCH_FILE} was removed but not released by `ballast resume`; the kill switch stays engaged ({}, engaged at bar time {}) — release it with `ballast resume`",
                    k.reason, k.at
                ),
            },
            Release::Invalid(why) => Step::StaysEngaged {
                why: format!(
                    "{KILL_SWITCH_FILE} was removed and the release beside it is not one `ballast resume` wrote ({why}); the kill switch stays engaged ({}) — release it with `ballast resume`",
                    k.reason
                ),
            },
            Release::Token(t) => match &t.engaged_reason {
                Some(r) if *r != k.reason => Step::DiscardToken {
                    why: format!(
                        "the release from {} at {} is for another engagement ({r}), not the engaged one ({}); the kill switch stays engaged — release it with `ballast resume`",
                        t.by, t.released_at, k.reason
                    ),
                },
                _ => Step::Release {
                    reason: format!("released by `{}` at {}", t.by, t.released_at),
                },
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engaged(reason: &str, flatten: bool) -> KillSwitchRecord {
        KillSwitchRecord {
            engaged: true,
            reason: reason.into(),
            at: Timestamp::EPOCH,
            flatten,
            orders: Vec::new(),
        }
    }

    fn token(reason: Option<&str>) -> Release {
        Release::Token(ReleaseToken {
            released_at: Timestamp::EPOCH,
            by: "ballast resume".into(),
            engaged_reason: reason.map(str::to_owned),
        })
    }

    #[test]
    fn only_a_release_token_releases_the_journaled_switch() {
        let k = engaged("drill", false);
        // The file removed by hand: stays engaged.
        assert!(matches!(
            step(Some(&k), None, &Release::None),
            Step::StaysEngaged { why } if why.contains("not released by `ballast resume`")
        ));
        assert!(matches!(
            step(Some(&k), None, &Release::Invalid("not JSON".into())),
            Step::StaysEngaged { .. }
        ));
        // A token while the file is still there waits for it to go.
        assert_eq!(
            step(Some(&k), Some(("drill".into(), false)), &token(None)),
            Step::Nothing
        );
        assert!(matches!(
            step(Some(&k), None, &token(Some("drill"))),
            Step::Release { .. }
        ));
        assert!(matches!(
            step(Some(&k), None, &token(None)),
            Step::Release { .. }
        ));
        // A token for another engagement releases nothing.
        assert!(matches!(
            step(Some(&k), None, &token(Some("another"))),
            Step::DiscardToken { .. }
        ));
        // Nothing engaged: a token is discarded, a request engages.
        assert!(matches!(
            step(None, None, &token(None)),
            Step::DiscardToken { .. }
        ));
        assert_eq!(step(None, None, &Release::None), Step::Nothing);
        assert_eq!(
            step(None, Some(("x".into(), false)), &token(None)),
            Step::Engage {
                reason: "x".into(),
                flatten: false
            }
        );
        // Flatten asked for on an engaged switch: journaled again, with flatten.
        assert_eq!(
            step(Some(&k), Some(("x".into(), true)), &Release::None),
            Step::Engage {
                reason: "x".into(),
                flatten: true
            }
        );
        let f = engaged("x", true);
        assert_eq!(
            step(Some(&f), Some(("x".into(), true)), &Release::None),
            Step::Nothing
        );
    }
}

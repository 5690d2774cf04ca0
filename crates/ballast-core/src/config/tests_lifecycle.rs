//! `on_failure` and `fallback` (issue 12 items 2 and 3): their defaults, their rules with
//! file:line:col, and how a reload classifies a change of them.

use super::{Config, ConfigErrors, OnFailure, Source, load};

fn file(text: &str) -> Result<Config, ConfigErrors> {
    load(
        Some(Source {
            path: "ballast.toml",
            text,
        }),
        &[],
    )
}

#[test]
fn on_failure_and_fallback_default_to_restart_and_none_and_read_as_written() {
    let c = file(
        "[[services]]\nname = \"feed\"\ncommand = \"x\"\non_failure = \"disable\"\nfallback = \"feed-replay\"\n\
         [[services]]\nname = \"feed-replay\"\ncommand = \"y\"\n\
         [[checks]]\nname = \"model\"\nkind = \"files_present\"\npaths = [\"m\"]\non_failure = \"disable\"\n",
    )
    .unwrap();
    assert_eq!(c.services[0].on_failure, OnFailure::Disable);
    assert_eq!(c.services[0].fallback, "feed-replay");
    assert_eq!(c.services[1].on_failure, OnFailure::Restart);
    assert_eq!(c.services[1].fallback, "");
    assert_eq!(c.checks[0].on_failure, OnFailure::Disable);
}

#[test]
fn a_critical_module_cannot_be_disabled_on_failure_and_a_fallback_is_a_plain_supportive_service() {
    let errs = file(
        "[[services]]\nname = \"bot\"\ncommand = \"x\"\nkind = \"critical\"\non_failure = \"disable\"\n\
         [[services]]\nname = \"a\"\ncommand = \"x\"\nfallback = \"a\"\n\
         [[services]]\nname = \"b\"\ncommand = \"x\"\nfallback = \"bot\"\n\
         [[services]]\nname = \"c\"\ncommand = \"x\"\nfallback = \"d\"\n\
         [[services]]\nname = \"d\"\ncommand = \"x\"\nfallback = \"e\"\n\
         [[services]]\nname = \"e\"\ncommand = \"x\"\n\
         [[services]]\nname = \"f\"\ncommand = \"x\"\nfallback = \"nope\"\n\
         [[services]]\nname = \"g\"\ncommand = \"x\"\nfallback = \"e\"\n\
         [[checks]]\nname = \"db\"\nkind = \"tcp\"\naddress = \"127.0.0.1:1\"\ncritical = true\non_failure = \"disable\"\n",
    )
    .unwrap_err()
    .to_string();
    for want in [
        "ballast.toml:5:1: error: [[services]] bot: on_failure = \"disable\" on a critical service",
        "ballast.toml:9:1: error: [[services]] a: fallback \"a\" names the service itself",
        "[[services]] b: fallback \"bot\" is a critical service",
        "[[services]] c: fallback \"d\" has a fallback of its own (\"e\"): fallbacks do not chain",
        "[[services]] d: fallback \"e\" is already the fallback of \"g\"",
        "[[services]] f: fallback \"nope\" is not declared",
        "[[services]] g: fallback \"e\" is already the fallback of \"d\"",
        "[[checks]] db: on_failure = \"disable\" on a critical check",
    ] {
        assert!(errs.contains(want), "{want}:\n{errs}");
    }
    let chain = file(
        "[[services]]\nname = \"p\"\ncommand = \"x\"\nfallback = \"q\"\n\
         [[services]]\nname = \"q\"\ncommand = \"x\"\nfallback = \"r\"\n\
         [[services]]\nname = \"r\"\ncommand = \"x\"\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        chain.contains("[[services]] q: fallback \"r\" is set while \"q\" is itself a fallback"),
        "{chain}"
    );
}

#[test]
fn a_reload_restarts_a_service_whose_on_failure_or_fallback_changed_and_takes_checks_live() {
    let old = file(
        "[[services]]\nname = \"feed\"\ncommand = \"x\"\n[[services]]\nname = \"replay\"\ncommand = \"y\"\n\
         [[checks]]\nname = \"model\"\nkind = \"files_present\"\npaths = [\"m\"]\n",
    )
    .unwrap();
    let new = file(
        "[[services]]\nname = \"feed\"\ncommand = \"x\"\nfallback = \"replay\"\non_failure = \"disable\"\n[[services]]\nname = \"replay\"\ncommand = \"y\"\n\
         [[checks]]\nname = \"model\"\nkind = \"files_present\"\npaths = [\"m\"]\non_failure = \"disable\"\n",
    )
    .unwrap();
    let plan = super::reload::plan(&old, &new);
    assert!(!plan.is_refused(), "{plan:?}");
    assert_eq!(
        plan.actions,
        [
            super::reload::Action::Restart("feed".into()),
            // Its role changes: a running replay stops to STANDBY.
            super::reload::Action::Restart("replay".into()),
            super::reload::Action::Checks
        ]
        .into_iter()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect::<Vec<_>>()
    );
}

/// A dependency on a fallback would wait for a STANDBY service forever (it starts only when
/// its primary fails): refused, naming both and where the fallback is declared.
#[test]
fn a_dependency_on_a_fallback_is_refused_naming_the_fallback_and_its_primary() {
    let errs = file(
        "[[services]]\nname = \"feed\"\ncommand = \"x\"\nfallback = \"replay\"\n\
         [[services]]\nname = \"replay\"\ncommand = \"y\"\n\
         [[services]]\nname = \"bot\"\ncommand = \"z\"\ndepends_on = [\"replay\"]\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        errs.contains("ballast.toml:11:1: error: [[services]] bot: depends_on \"replay\", the fallback of \"feed\" (ballast.toml:4:1)")
            && errs.contains("depend on \"feed\""),
        "{errs}"
    );
    // On the primary it is fine.
    file(
        "[[services]]\nname = \"feed\"\ncommand = \"x\"\nfallback = \"replay\"\n\
         [[services]]\nname = \"replay\"\ncommand = \"y\"\n\
         [[services]]\nname = \"bot\"\ncommand = \"z\"\ndepends_on = [\"feed\"]\n",
    )
    .unwrap();
}

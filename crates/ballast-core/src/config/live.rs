//! Values that reach a running process from elsewhere than the configuration file — the
//! `[guard]` and `[risk]` settings a reload hands the engine in `state/engine-settings.json` —
//! judged by the same rules as the file's: each key's range in the [schema](super::schema) and
//! the cross-field [rules](super::rules) that involve them. The checksum of such a file only
//! says Ballast's format wrote it, not that its values are allowed: they are checked again
//! before anything adopts them.

use serde_json::Value as Json;

use super::error::Origin;
use super::model::Config;
use super::schema::{KEYS, KeySpec, Kind};

/// Every way the keys of `sections` (`["guard", "risk"]`) in `config` break the configuration's
/// rules, each a sentence naming the key, its value and what is allowed (empty: all allowed).
/// The rest of `config` is taken as validated (it is the running configuration with those
/// sections replaced), so only the cross-field rules involving a key of `sections` are judged;
/// a rule involving a key out of range is not (that key's error says it), as at a load.
pub fn check_sections(config: &Config, sections: &[&str]) -> Vec<String> {
    let tree = serde_json::to_value(config).unwrap_or(Json::Null);
    let (mut errors, bad) = check_values(&tree, sections);
    let origin = |section: &'static str, key: &'static str| Origin::Default {
        section: section.into(),
        key: key.into(),
    };
    for (e, keys) in super::rules::check(config, &origin) {
        let involved = keys.iter().any(|(s, _)| sections.contains(s));
        if involved && !keys.iter().any(|k| bad.contains(k)) {
            errors.push(match e.help {
                Some(help) => format!("{} ({help})", e.message),
                None => e.message,
            });
        }
    }
    errors
}

/// The keys of `sections` in `tree` (a configuration as JSON: `{"guard": {…}, …}`) judged by
/// their kind and range in the schema, without the cross-field rules: each problem as a
/// sentence naming the key, its value and what is allowed, and the keys that have one. For a
/// tree that does not even fit the typed configuration (a negative count), to name the key.
pub fn check_values(tree: &Json, sections: &[&str]) -> (Vec<String>, Vec<super::rules::KeyRef>) {
    let mut errors = Vec::new();
    let mut bad = Vec::new();
    for spec in KEYS.iter().filter(|k| sections.contains(&k.section)) {
        let value = spec
            .section
            .split('.')
            .try_fold(tree, |t, part| t.get(part))
            .and_then(|t| t.get(spec.key));
        if let Err(why) = check_value(spec, value) {
            bad.push((spec.section, spec.key));
            errors.push(format!(
                "[{}] {}: {why}; expected {}",
                spec.section,
                spec.key,
                spec.allowed()
            ));
        }
    }
    (errors, bad)
}

/// One value as the typed configuration serializes it, by its key's kind and range.
fn check_value(spec: &KeySpec, value: Option<&Json>) -> Result<(), String> {
    match (spec.kind, value) {
        (_, None) => Err("missing".into()),
        (Kind::Bool, Some(Json::Bool(_))) => Ok(()),
        (Kind::Int { min, max }, Some(Json::Number(n))) => match n.as_i64() {
            Some(n) => super::load::check_int(n, min, max).map(drop),
            None if n.is_f64() => Err(format!("{n} is not an integer")),
            None => Err(format!("{n} is out of range (allowed {min} to {max})")),
        },
        (Kind::Dec { .. }, Some(Json::String(s))) => super::load::check_dec(spec.kind, s).map(drop),
        (Kind::Dec { .. }, Some(Json::Number(n))) => {
            super::load::check_dec(spec.kind, &n.to_string()).map(drop)
        }
        (Kind::Choice(_) | Kind::Text, Some(Json::String(_))) => Ok(()),
        (Kind::Symbols | Kind::Strings, Some(Json::Array(_))) => Ok(()),
        (Kind::StringMap, Some(Json::Object(_))) => Ok(()),
        (_, Some(other)) => Err(format!("{other} is not {}", spec.allowed())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;

    #[test]
    fn the_configured_sections_pass_and_every_forbidden_value_is_named_with_its_range() {
        let mut c = crate::config::builtin().unwrap();
        assert_eq!(check_sections(&c, &["guard", "risk"]), Vec::<String>::new());
        c.guard.daily_loss_limit_pct = Decimal::from(-50);
        c.guard.max_portfolio_exposure_pct = Decimal::from(100_000);
        c.guard.max_position_notional_usd = Decimal::from(-1);
        c.guard.max_orders_per_second = 0;
        let e = check_sections(&c, &["guard", "risk"]);
        assert_eq!(e.len(), 4, "{e:#?}");
        assert!(
            e[0].starts_with("[guard] max_position_notional_usd: -1 is out of range (allowed greater than 0, at most 1000000000000)"),
            "{e:#?}"
        );
        assert!(
            e.iter()
                .any(|m| m.starts_with("[guard] daily_loss_limit_pct: -50 is out of range"))
        );
        assert!(e.iter().any(|m| m.starts_with("[guard] max_portfolio_exposure_pct: 100000 is out of range (allowed greater than 0, at most 1000)")));
        assert!(e.iter().any(|m| {
            m.starts_with("[guard] max_orders_per_second: 0 is out of range (allowed 1 to 10000)")
        }));
        // The rules involving a key out of range are not judged (its own error says it).
        assert!(!e.iter().any(|m| m.contains("exceeds")), "{e:#?}");
    }

    #[test]
    fn a_cross_field_rule_is_judged_as_in_a_file_and_other_sections_are_not() {
        let mut c = crate::config::builtin().unwrap();
        c.guard.max_notional_per_order_usd = c.guard.max_position_notional_usd + Decimal::ONE;
        c.guard.max_portfolio_exposure_pct = c.risk.max_total_at_risk_pct + Decimal::ONE;
        let e = check_sections(&c, &["guard", "risk"]);
        assert_eq!(e.len(), 2, "{e:#?}");
        assert!(e[0].contains("max_notional_per_order_usd") && e[0].contains("exceeds"));
        assert!(e[1].contains("[risk] max_total_at_risk_pct"));
        c.strategy.fast = c.strategy.slow;
        assert_eq!(
            check_sections(&c, &["guard", "risk"]).len(),
            2,
            "[strategy] is not judged"
        );
        assert_eq!(check_sections(&c, &["strategy"]).len(), 1);
    }
}

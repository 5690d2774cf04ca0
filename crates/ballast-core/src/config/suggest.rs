//! "Did you mean" suggestions.

/// Levenshtein distance over characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let subst = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = subst.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The closest candidate, if it is close enough to be a plausible typo. A candidate that
/// contains the input (or the reverse) also counts, so `max_notional` finds
/// `max_notional_per_order_usd`.
pub fn closest<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let input_lower = input.to_ascii_lowercase();
    let limit = (input.chars().count() / 3).max(2);
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let c_lower = c.to_ascii_lowercase();
        let mut d = edit_distance(&input_lower, &c_lower);
        if d > limit
            && input_lower.len() >= 4
            && (c_lower.contains(&input_lower) || input_lower.contains(&c_lower))
        {
            d = limit;
        }
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }

    #[test]
    fn suggests_only_plausible_typos() {
        let keys = ["max_open_orders", "max_notional_per_order_usd", "fee_bps"];
        assert_eq!(closest("max_open_ordrs", keys), Some("max_open_orders"));
        assert_eq!(
            closest("max_notional", keys),
            Some("max_notional_per_order_usd")
        );
        assert_eq!(closest("FEE_BPS", keys), Some("fee_bps"));
        assert_eq!(closest("completely_else", keys), None);
    }
}

//! Segment file names: `<first seq, 20 digits>.jsonl`.

pub const SUFFIX: &str = ".jsonl";

pub fn name(first_seq: u64) -> String {
    format!("{first_seq:020}{SUFFIX}")
}

/// The first seq of a segment file name, or `None` if the name is not a segment's.
pub fn parse(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(SUFFIX)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_round_trip() {
        assert_eq!(super::name(1), "00000000000000000001.jsonl");
        assert_eq!(super::parse(&super::name(u64::MAX)), Some(u64::MAX));
        assert_eq!(super::parse("1.jsonl"), None);
        assert_eq!(super::parse("00000000000000000001.json"), None);
        assert_eq!(super::parse("0000000000000000000x.jsonl"), None);
    }
}

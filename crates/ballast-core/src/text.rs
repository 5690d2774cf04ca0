//! Text as one log line: every line Ballast writes (the text form of its logs, `ballast logs`,
//! a service's output copied into `logs/`) passes through [`one_line`], so a value from
//! outside (a reason, a name, a child's output) can never forge a second line, hide a NUL or
//! move the cursor: one event is always one line.

use std::borrow::Cow;

/// `text` with every control character (`\n`, `\r`, `\t`, NUL, the rest of C0, DEL, C1)
/// written as its escape (`\n`, `\r`, `\t`, `\u{0}`, `\u{1b}`); unchanged (borrowed) when it
/// has none.
pub fn one_line(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `bytes` (a child's output, split at its line breaks by the reader) with every control byte
/// but the line break and the tab escaped (`\r` → `\r`, NUL → `\x00`, ESC → `\x1b`, DEL →
/// `\x7f`); unchanged (borrowed) when it has none. Bytewise: it never splits a UTF-8 sequence.
pub fn output_bytes(bytes: &[u8]) -> Cow<'_, [u8]> {
    let escape = |b: u8| b.is_ascii_control() && b != b'\n' && b != b'\t';
    if !bytes.iter().any(|&b| escape(b)) {
        return Cow::Borrowed(bytes);
    }
    let mut out = Vec::with_capacity(bytes.len() + 8);
    for &b in bytes {
        match b {
            b'\r' => out.extend_from_slice(b"\\r"),
            b if escape(b) => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
            b => out.push(b),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_a_line_stays_one_line() {
        let forged = "x\n2026-12-01T18:21:00.000Z engine: FORGED\r\u{0}\u{1b}[2J\u{7f}\u{85}\tend";
        let line = one_line(forged);
        assert!(!line.chars().any(char::is_control), "{line}");
        assert_eq!(
            line,
            "x\\n2026-12-01T18:21:00.000Z engine: FORGED\\r\\u{0}\\u{1b}[2J\\u{7f}\\u{85}\\tend"
        );
        assert!(matches!(one_line("plain — text"), Cow::Borrowed(_)));
    }

    #[test]
    fn a_child_s_output_keeps_its_line_breaks_and_tabs_and_loses_the_rest() {
        let out = output_bytes(b"a\tb\r\n\x00c\x1b[31m\x7f\n\xc3\xa9");
        assert_eq!(&*out, b"a\tb\\r\n\\x00c\\x1b[31m\\x7f\n\xc3\xa9".as_slice());
        assert!(matches!(output_bytes(b"ok\n"), Cow::Borrowed(_)));
    }
}

//! Subject pattern matching for store filters: tokens split on `.`, `*` matches one token,
//! `>` matches one or more trailing tokens. Kept private and tiny so the store stands alone;
//! it can be swapped for `sluice::core::subject::subject_matches` in the main crate.

/// Whether a filter selects every subject (no filter, empty, or a bare `>`).
pub(crate) fn matches_all(filter: Option<&[u8]>) -> bool {
    match filter {
        None => true,
        Some(f) => f.is_empty() || f == b">",
    }
}

/// Whether `pattern` has no wildcard token, so it names exactly one subject.
pub(crate) fn is_literal(pattern: &[u8]) -> bool {
    !pattern
        .split(|b| *b == b'.')
        .any(|t| t == b"*" || t == b">")
}

/// Whether `subject` (a literal) matches `pattern`.
pub(crate) fn matches(pattern: &[u8], subject: &[u8]) -> bool {
    let mut pat = pattern.split(|b| *b == b'.');
    let mut sub = subject.split(|b| *b == b'.');
    loop {
        match (pat.next(), sub.next()) {
            (None, None) => return true,
            (Some(b">"), Some(_)) => return true,
            (Some(b"*"), Some(_)) => {}
            (Some(p), Some(s)) if p == s => {}
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(matches(b"a.b", b"a.b"));
        assert!(!matches(b"a.b", b"a.c"));
        assert!(matches(b"a.*", b"a.b"));
        assert!(!matches(b"a.*", b"a.b.c"));
        assert!(matches(b"a.>", b"a.b.c"));
        assert!(!matches(b"a.>", b"a"));
        assert!(matches(b">", b"a"));
        assert!(matches(b"*.b.>", b"x.b.c.d"));
        assert!(!matches(b"a", b"a.b"));
        assert!(is_literal(b"a.b"));
        assert!(!is_literal(b"a.*"));
        assert!(is_literal(b"a.b*"));
    }
}

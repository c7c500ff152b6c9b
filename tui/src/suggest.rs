//! "Did you mean ...?": the nearest of a list of names to what someone typed, by edit
//! distance, for the first mistakes a new user makes (a misspelt key, a scenario named
//! without its folder).
//!
//! Must not: decide what is valid; callers pass the names that are.

/// Levenshtein distance: the fewest single-character insertions, deletions and
/// substitutions that turn `a` into `b` (by characters, not bytes).
pub fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    // One row of the classic table at a time: row[j] = distance(a[..i], b[..j]).
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let above = row[j + 1];
            let cost = usize::from(ca != cb);
            row[j + 1] = (diagonal + cost).min(above + 1).min(row[j] + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

/// The name in `names` nearest to `typed`, if it is near enough to be what was meant: at
/// most a third of its length away (and at least 2 edits are always allowed), or `typed` is
/// a part of it. Ties go to the earlier name, so the answer is the same on every run.
pub fn nearest<'a>(typed: &str, names: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let typed_lower = typed.to_lowercase();
    let mut best: Option<(usize, &'a str)> = None;
    for name in names {
        let d = distance(&typed_lower, &name.to_lowercase());
        let close = d <= (name.chars().count() / 3).max(2)
            || (typed_lower.len() >= 4 && name.to_lowercase().contains(&typed_lower));
        if close && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, name));
        }
    }
    best.map(|(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::{distance, nearest};

    #[test]
    fn distance_counts_edits() {
        assert_eq!(distance("", ""), 0);
        assert_eq!(distance("abc", ""), 3);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("think_time_ms_maen", "think_time_ms_mean"), 2);
        assert_eq!(distance("flash-sal", "flash-sale"), 1);
        assert_eq!(distance("é", "e"), 1, "characters, not bytes");
    }

    #[test]
    fn nearest_suggests_only_what_is_close() {
        let keys = ["think_time_ms_mean", "patience_ms_mean", "customers"];
        assert_eq!(
            nearest("think_time_ms_maen", keys),
            Some("think_time_ms_mean")
        );
        assert_eq!(nearest("custmers", keys), Some("customers"));
        assert_eq!(nearest("zzz", keys), None, "nothing close");
        assert_eq!(
            nearest("patience", keys),
            Some("patience_ms_mean"),
            "a part"
        );
        let scenarios = ["black-friday", "flash-sale", "hot-shard"];
        assert_eq!(nearest("flash_sale", scenarios), Some("flash-sale"));
        assert_eq!(nearest("Flash-Sale", scenarios), Some("flash-sale"));
    }
}

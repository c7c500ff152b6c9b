//! How numbers read on screen, in one place for the command line's summaries and the live
//! view: counts, money, shares, latencies.
//!
//! Each comes in a full form (the summaries' tables, where there is room) and, where the live
//! view's narrow panes need it, a brief one. Money is dollars everywhere, as in the scenarios
//! and the README, and it is the same money: the report's cents.
//!
//! Must not: decide what to show or compute a figure; it only says how a figure reads.

/// `1234567` -> `1,234,567`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A count in at most five characters, for a pane: `1234`, `12.3k`, `1.2M`.
pub fn count_brief(n: u64) -> String {
    match n {
        0..=9_999 => n.to_string(),
        10_000..=999_999 => format!("{:.1}k", n as f64 / 1000.0),
        _ => format!("{:.1}M", n as f64 / 1_000_000.0),
    }
}

/// Cents as dollars to the cent: `123456` -> `$1,234.56`.
pub fn dollars(cents: u64) -> String {
    format!("${}.{:02}", thousands(cents / 100), cents % 100)
}

/// Cents as whole dollars, briefly: `1_040_000` -> `$10.4k`.
pub fn dollars_brief(cents: u64) -> String {
    format!("${}", count_brief(cents / 100))
}

/// Milliseconds, to three significant figures or so: `12.3 ms`, `1234 ms`, `12.3 s`.
pub fn ms(v: f64) -> String {
    if v >= 10_000.0 {
        format!("{:.1} s", v / 1000.0)
    } else if v >= 100.0 {
        format!("{v:.0} ms")
    } else {
        format!("{v:.1} ms")
    }
}

/// Milliseconds, briefly: `12 ms`, `987 ms`, `1.2 s`.
pub fn ms_brief(v: f64) -> String {
    if v >= 1000.0 {
        format!("{:.1} s", v / 1000.0)
    } else {
        format!("{v:.0} ms")
    }
}

/// A share as a percentage to two decimals: `0.99984` -> `99.98%`.
pub fn pct(v: f64) -> String {
    format!("{:.2}%", v * 100.0)
}

/// A share to one decimal, for a pane: `0.9876` -> `98.8%`; a whole share is `100%`, one
/// character shorter than `100.0%`.
pub fn pct_brief(v: f64) -> String {
    if v >= 1.0 {
        "100%".into()
    } else {
        format!("{:.1}%", v * 100.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(count_brief(9_999), "9999");
        assert_eq!(count_brief(12_345), "12.3k");
        assert_eq!(count_brief(1_234_567), "1.2M");
        assert_eq!(dollars(123_456), "$1,234.56");
        assert_eq!(dollars(5), "$0.05");
        assert_eq!(dollars_brief(1_040_000), "$10.4k");
        assert_eq!(dollars_brief(50_099), "$500");
        assert_eq!(ms(12.34), "12.3 ms");
        assert_eq!(ms(1234.0), "1234 ms");
        assert_eq!(ms(12_345.0), "12.3 s");
        assert_eq!(ms_brief(12.34), "12 ms");
        assert_eq!(ms_brief(1234.0), "1.2 s");
        assert_eq!(pct(0.99984), "99.98%");
        assert_eq!(pct_brief(0.9876), "98.8%");
        assert_eq!(pct_brief(1.0), "100%");
    }
}

//! `DESIGN.hgrm` (and `DESIGN.KIND.hgrm`): a latency histogram as HdrHistogram's
//! percentile-distribution text, the layout of Java HdrHistogram's
//! `outputPercentileDistribution` (5 ticks per half distance, values in milliseconds), which
//! HdrHistogram's plotter and other .hgrm readers load.
//!
//! Must not: change the histogram or record into it; it prints what the run recorded (in
//! microseconds).

use std::io::{self, Write};

use hdrhistogram::Histogram;

/// Microseconds per millisecond: the files are in milliseconds, the histograms in us.
const SCALE: f64 = 1000.0;

/// Percentile steps per halving of the distance to 100%, as HdrHistogram's tools default.
const TICKS_PER_HALF_DISTANCE: u32 = 5;

/// Writes `h`'s percentile distribution.
pub fn write(w: &mut dyn Write, h: &Histogram<u64>) -> io::Result<()> {
    let digits = usize::from(h.sigfig());
    writeln!(
        w,
        "{:>12} {:>14} {:>10} {:>14}\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    )?;
    let mut total = 0u64;
    if !h.is_empty() {
        for v in h.iter_quantiles(TICKS_PER_HALF_DISTANCE) {
            total += v.count_since_last_iteration();
            let value = v.value_iterated_to() as f64 / SCALE;
            let q = v.quantile_iterated_to();
            if q < 1.0 {
                writeln!(
                    w,
                    "{value:12.digits$} {q:2.12} {total:10} {:14.2}",
                    1.0 / (1.0 - q)
                )?;
            } else {
                writeln!(w, "{value:12.digits$} {q:2.12} {total:10}")?;
                break;
            }
        }
    }
    writeln!(
        w,
        "#[Mean    = {:12.digits$}, StdDeviation   = {:12.digits$}]",
        h.mean() / SCALE,
        h.stdev() / SCALE
    )?;
    writeln!(
        w,
        "#[Max     = {:12.digits$}, Total count    = {:12}]",
        h.max() as f64 / SCALE,
        h.len()
    )?;
    writeln!(
        w,
        "#[Buckets = {:12}, SubBuckets     = {:12}]",
        h.buckets(),
        sub_buckets(h.sigfig())
    )
}

/// Sub-buckets per bucket for `sigfig` significant digits, as HdrHistogram sizes them: the
/// smallest power of two that holds 2 x 10^sigfig.
fn sub_buckets(sigfig: u8) -> u64 {
    let largest = 2 * 10u64.pow(u32::from(sigfig));
    largest.next_power_of_two()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layout_is_hdrhistograms() {
        let mut h = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).expect("bounds");
        for us in 1..=10_000u64 {
            h.saturating_record(us * 100);
        }
        let mut out = Vec::new();
        write(&mut out, &h).expect("written");
        let text = String::from_utf8(out).expect("utf-8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "       Value     Percentile TotalCount 1/(1-Percentile)"
        );
        assert_eq!(lines[1], "");
        // Every row: value, percentile, count, and (but for the last) 1/(1-percentile).
        let rows: Vec<Vec<&str>> = lines[2..]
            .iter()
            .take_while(|l| !l.starts_with('#'))
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert!(rows.len() > 20, "{text}");
        let (last, body) = rows.split_last().expect("rows");
        for row in body {
            assert_eq!(row.len(), 4, "{row:?}");
        }
        assert_eq!(last.len(), 3, "{last:?}");
        assert_eq!(last[1], "1.000000000000");
        assert_eq!(last[2], "10000");
        // The median is 500 ms (5,000 of 10,000 values of 0.1 ms), within 3 digits.
        let median = body
            .iter()
            .find(|r| r[1].parse::<f64>().unwrap_or(0.0) >= 0.5)
            .expect("a median row");
        let v: f64 = median[0].parse().expect("a value");
        assert!((v - 500.0).abs() < 1.0, "{median:?}");
        assert!(
            text.contains("#[Mean    =      500.052, StdDeviation   ="),
            "{text}"
        );
        assert!(text.contains("Total count    =        10000]"), "{text}");
        assert!(text.contains("SubBuckets     =         2048]"), "{text}");
    }
}

//! The faults of a run as spans of virtual time, for the charts to shade and the trace to
//! draw: each fault from when it began to when it ended (or every fault was healed at once,
//! or the run ended).
//!
//! Must not: decide what a fault did; it reads the reports' records (`Report::faults`).

use scalelab_sim::faults::inject::Event;
use scalelab_sim::Report;

/// A fault in force from `from_s` to `to_s` (virtual seconds), in the designs it applied to.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    pub from_s: f64,
    pub to_s: f64,
    /// How the fault reads ("kill app", "slow db 10x", ...).
    pub what: String,
    /// (design, the nodes it hit there), for every design where it applied.
    pub effects: Vec<(&'static str, String)>,
}

/// The spans of every fault applied in any of `reports`, in the order they began. The same
/// fault lands at the same tick in every design, so a fault applied in several designs is
/// one span; a span ends at its design's end of the fault (the latest, if they differ).
pub fn spans(reports: &[Report]) -> Vec<Span> {
    let mut all: Vec<Span> = Vec::new();
    // When each span ended, in whichever design ended it last (`None`: it never ended).
    let mut ends: Vec<Option<f64>> = Vec::new();
    let end_s = reports.iter().map(|r| r.duration_s).fold(0.0, f64::max);
    for r in reports {
        // Faults begun and not yet ended in this design: (id, index into `all`).
        let mut open: Vec<(u64, usize)> = Vec::new();
        for f in r.faults.iter().filter(|f| f.applicable) {
            match &f.event {
                Event::Began { id, fault } => {
                    let what = fault.to_string();
                    let found = all
                        .iter()
                        .position(|s| s.from_s == f.at_s && s.what == what);
                    let i = found.unwrap_or_else(|| {
                        all.push(Span {
                            from_s: f.at_s,
                            to_s: end_s,
                            what,
                            effects: Vec::new(),
                        });
                        ends.push(None);
                        all.len() - 1
                    });
                    all[i].effects.push((r.design, f.effect.clone()));
                    open.push((*id, i));
                }
                Event::Ended { id, .. } => {
                    if let Some(k) = open.iter().position(|(o, _)| o == id) {
                        let (_, i) = open.remove(k);
                        ends[i] = Some(ends[i].map_or(f.at_s, |e| e.max(f.at_s)));
                    }
                }
                Event::HealAll => {
                    for (_, i) in std::mem::take(&mut open) {
                        ends[i] = Some(ends[i].map_or(f.at_s, |e| e.max(f.at_s)));
                    }
                }
            }
        }
    }
    for (span, end) in all.iter_mut().zip(ends) {
        span.to_s = end.unwrap_or(end_s);
    }
    all.sort_by(|a, b| a.from_s.total_cmp(&b.from_s));
    all
}

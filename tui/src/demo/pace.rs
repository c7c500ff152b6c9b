//! Pacing: how many ticks the live session may have run by now, so that virtual time follows
//! the wall clock at the chosen speed; and the speed actually achieved.
//!
//! Owns the speed ladder, pause and single steps. When the simulation falls behind, the pace
//! follows it instead of piling up a debt: after a slow stretch the run goes on at the chosen
//! speed rather than sprinting to catch up, which is what a watcher expects.
//!
//! Must not: read the clock itself (callers pass `now`, so tests can drive it) or touch the
//! simulation (the app turns the target into `Lockstep::allow`).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// A pace: virtual seconds per wall second, or as fast as the machine goes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    Times(u32),
    Max,
}

impl Speed {
    /// The ladder that `+` and `-` climb.
    pub const LADDER: [Speed; 6] = [
        Speed::Times(1),
        Speed::Times(2),
        Speed::Times(5),
        Speed::Times(10),
        Speed::Times(50),
        Speed::Max,
    ];

    /// Reads `1`, `10x`, `max`: for the `--speed` flag.
    pub fn parse(s: &str) -> Result<Speed, String> {
        if s.trim().eq_ignore_ascii_case("max") {
            return Ok(Speed::Max);
        }
        let t = s.trim().trim_end_matches(['x', 'X']);
        let ladder = || {
            Speed::LADDER
                .iter()
                .map(Speed::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let n: u32 = t
            .parse()
            .map_err(|_| format!("'{s}' is not a speed; the speeds are {}", ladder()))?;
        let speed = Speed::Times(n);
        if Speed::LADDER.contains(&speed) {
            Ok(speed)
        } else {
            Err(format!(
                "{n}x is not on the ladder; the speeds are {}",
                ladder()
            ))
        }
    }
}

impl std::fmt::Display for Speed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Speed::Times(n) => write!(f, "{n}x"),
            Speed::Max => f.write_str("max"),
        }
    }
}

/// How far ahead of the slowest design the pace may allow: enough that the designs never wait
/// for the controller between ticks and can use the session's slack (see `app::SLACK_TICKS`),
/// little enough that a key lands within a few ticks.
const LEAD_TICKS: f64 = 4.0;
/// The achieved speed is measured over this much wall time.
const WINDOW: Duration = Duration::from_secs(2);

pub struct Pacer {
    speed: usize,
    paused: bool,
    /// A jump under way: run as fast as the designs go until this tick, then pause there.
    goto: Option<u64>,
    interval_s: f64,
    /// (wall instant, ticks due then): the line virtual time follows.
    anchor: Option<(Instant, f64)>,
    /// Ticks completed, sampled over the last `WINDOW`, for the achieved speed.
    samples: VecDeque<(Instant, u64)>,
}

impl Pacer {
    pub fn new(speed: Speed, paused: bool, interval_s: f64) -> Pacer {
        Pacer {
            speed: Speed::LADDER.iter().position(|s| *s == speed).unwrap_or(3),
            paused,
            goto: None,
            interval_s,
            anchor: None,
            samples: VecDeque::new(),
        }
    }

    pub fn speed(&self) -> Speed {
        Speed::LADDER[self.speed]
    }

    pub fn paused(&self) -> bool {
        self.paused
    }

    /// Runs as fast as the designs go until `tick`, then pauses there (`--start-at`, `g`).
    /// Pausing, stepping or a change of speed ends the jump where the run is.
    pub fn jump_to(&mut self, tick: u64) {
        self.goto = Some(tick);
        self.paused = false;
        self.anchor = None;
    }

    /// The tick a jump under way stops at.
    pub fn jumping(&self) -> Option<u64> {
        self.goto
    }

    /// One step up (`up`) or down the ladder; the pace restarts from where the run is.
    pub fn change(&mut self, up: bool) {
        self.goto = None;
        self.speed = if up {
            (self.speed + 1).min(Speed::LADDER.len() - 1)
        } else {
            self.speed.saturating_sub(1)
        };
        self.anchor = None;
    }

    pub fn set_speed(&mut self, speed: Speed) {
        if let Some(i) = Speed::LADDER.iter().position(|s| *s == speed) {
            self.speed = i;
            self.anchor = None;
        }
    }

    pub fn set_paused(&mut self, paused: bool) {
        self.goto = None;
        self.paused = paused;
        self.anchor = None;
        self.samples.clear();
    }

    /// The ticks that may have started by `now`, given that the slowest design has
    /// completed `completed` and `allowed` were allowed before. `None` while paused.
    pub fn target(&mut self, now: Instant, completed: u64, allowed: u64) -> Option<u64> {
        self.sample(now, completed);
        if let Some(goto) = self.goto {
            if completed < goto {
                return Some((completed + LEAD_TICKS as u64).min(goto));
            }
            // Arrived: pause at the tick asked for.
            self.goto = None;
            self.paused = true;
            self.anchor = None;
        }
        if self.paused {
            return None;
        }
        let per_s = match self.speed() {
            // As fast as the designs go, but never further ahead of them than the lead: an
            // unbounded allowance could not be taken back, so pause, step and a slower speed
            // would have nothing left to hold the run with.
            Speed::Max => return Some(completed + LEAD_TICKS as u64),
            Speed::Times(n) => f64::from(n) / self.interval_s,
        };
        let (t0, k0) = *self.anchor.get_or_insert((now, allowed as f64));
        let mut due = k0 + now.saturating_duration_since(t0).as_secs_f64() * per_s;
        let limit = completed as f64 + LEAD_TICKS;
        if due > limit {
            // Behind: move the line so that it runs on from here at the chosen speed.
            self.anchor = Some((t0, k0 - (due - limit)));
            due = limit;
        }
        Some(due.floor() as u64)
    }

    fn sample(&mut self, now: Instant, completed: u64) {
        self.samples.push_back((now, completed));
        while self
            .samples
            .front()
            .is_some_and(|(t, _)| now.saturating_duration_since(*t) > WINDOW)
        {
            self.samples.pop_front();
        }
    }

    /// Virtual seconds per wall second over the last two seconds, once there is a second of
    /// samples to go by.
    pub fn achieved(&self) -> Option<f64> {
        let (t0, k0) = self.samples.front()?;
        let (t1, k1) = self.samples.back()?;
        let wall = t1.saturating_duration_since(*t0).as_secs_f64();
        (wall >= 1.0).then(|| (k1 - k0) as f64 * self.interval_s / wall)
    }
}

/// Reads a moment of virtual time: `H:MM:SS`, `M:SS` or seconds (`180`, `180s`), for
/// `--start-at`.
pub fn parse_clock(s: &str) -> Result<f64, String> {
    let bad = || {
        format!(
            "'{s}' is not a time; write it as H:MM:SS, M:SS or seconds (e.g. 0:03:00, 3:00, 180)"
        )
    };
    let t = s.trim().trim_end_matches('s');
    let parts: Vec<&str> = t.split(':').collect();
    if parts.is_empty() || parts.len() > 3 {
        return Err(bad());
    }
    let mut total = 0.0;
    for (i, part) in parts.iter().enumerate() {
        let v: f64 = part.trim().parse().map_err(|_| bad())?;
        // Minutes and seconds after the first field are below 60; nothing is negative.
        if !v.is_finite() || v < 0.0 || (i > 0 && v >= 60.0) {
            return Err(bad());
        }
        total = total * 60.0 + v;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jump_runs_at_full_speed_to_its_tick_and_pauses_there() {
        let t0 = Instant::now();
        let mut p = Pacer::new(Speed::Times(1), false, 1.0);
        p.jump_to(180);
        // As fast as the designs go, never past the tick asked for.
        assert_eq!(p.target(t0, 0, 0), Some(4));
        assert_eq!(p.target(t0, 178, 4), Some(180));
        assert_eq!(p.jumping(), Some(180));
        // There: paused, and the speed chosen before is kept for when it resumes.
        assert_eq!(p.target(t0, 180, 180), None);
        assert!(p.paused());
        assert_eq!(p.jumping(), None);
        assert_eq!(p.speed(), Speed::Times(1));
        // Pausing during a jump ends it where the run is.
        p.set_paused(false);
        p.jump_to(400);
        p.set_paused(true);
        assert_eq!(p.target(t0, 200, 204), None);
        assert_eq!(p.jumping(), None);
    }

    #[test]
    fn times_are_read_as_a_clock_or_seconds() {
        assert_eq!(parse_clock("0:03:00"), Ok(180.0));
        assert_eq!(parse_clock("3:00"), Ok(180.0));
        assert_eq!(parse_clock("180"), Ok(180.0));
        assert_eq!(parse_clock("90s"), Ok(90.0));
        assert_eq!(parse_clock("1:02:03"), Ok(3723.0));
        for bad in ["", "3:75", "a:00", "-5", "1:2:3:4"] {
            assert!(parse_clock(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn virtual_time_follows_the_wall_clock_at_the_chosen_speed() {
        let t0 = Instant::now();
        // 1 s ticks at 10x: ten ticks per wall second.
        let mut p = Pacer::new(Speed::Times(10), false, 1.0);
        assert_eq!(p.target(t0, 0, 0), Some(0));
        let half = t0 + Duration::from_millis(150);
        assert_eq!(p.target(half, 0, 0), Some(1));
        // The run keeps up: two seconds later, 20 ticks are due.
        assert_eq!(p.target(t0 + Duration::from_secs(2), 19, 1), Some(20));
    }

    #[test]
    fn a_run_that_falls_behind_is_not_asked_to_sprint_later() {
        let t0 = Instant::now();
        let mut p = Pacer::new(Speed::Times(10), false, 1.0);
        p.target(t0, 0, 0);
        // After 5 s only 3 ticks are done: at most four ahead of them are allowed.
        assert_eq!(p.target(t0 + Duration::from_secs(5), 3, 3), Some(7));
        // It catches up at once; 1 s later, 10 more ticks are due from where it was, not 60.
        assert_eq!(p.target(t0 + Duration::from_secs(6), 7, 7), Some(11));
        assert_eq!(p.target(t0 + Duration::from_secs(7), 20, 11), Some(21));
    }

    #[test]
    fn paused_allows_nothing_and_max_allows_only_the_lead() {
        let t0 = Instant::now();
        let mut p = Pacer::new(Speed::Max, true, 5.0);
        assert_eq!(p.target(t0, 0, 0), None);
        p.set_paused(false);
        assert_eq!(p.target(t0, 0, 0), Some(4));
        // Max keeps the run a few ticks ahead of the slowest design, wherever it is.
        assert_eq!(p.target(t0, 100, 4), Some(104));
    }

    #[test]
    fn the_ladder_goes_from_1x_to_max_and_stops_at_the_ends() {
        let mut p = Pacer::new(Speed::Times(1), false, 1.0);
        p.change(false);
        assert_eq!(p.speed(), Speed::Times(1));
        for _ in 0..10 {
            p.change(true);
        }
        assert_eq!(p.speed(), Speed::Max);
        assert_eq!(Speed::parse("10x"), Ok(Speed::Times(10)));
        assert_eq!(Speed::parse("MAX"), Ok(Speed::Max));
        assert_eq!(
            Speed::parse("3"),
            Err("3x is not on the ladder; the speeds are 1x, 2x, 5x, 10x, 50x, max".into())
        );
        assert!(Speed::parse("fast").is_err());
    }

    #[test]
    fn achieved_speed_is_measured_over_the_last_seconds() {
        let t0 = Instant::now();
        let mut p = Pacer::new(Speed::Times(10), false, 1.0);
        p.target(t0, 0, 0);
        assert_eq!(p.achieved(), None, "not a second of samples yet");
        p.target(t0 + Duration::from_millis(1500), 9, 9);
        let got = p.achieved().expect("measured");
        assert!((got - 6.0).abs() < 1e-9, "{got}");
    }
}

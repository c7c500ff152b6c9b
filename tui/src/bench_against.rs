//! `scalelab bench --against OTHER`: this build and another `scalelab` binary (the previous
//! release, built into another folder), measured side by side on this machine in one command.
//!
//! Every figure comes from child processes of both binaries given the same arguments, round
//! after round, the order swapped every round so that neither always runs on a warmer or
//! quieter machine. It prints the medians of the rounds, this build's beside the other's, as
//! a ratio, with the load average before each round: figures measured apart on a shared
//! machine do not compare, figures measured like this do.
//!
//! Must not: assert anything (it prints figures; people and notes judge them), or simulate in
//! this process (the children do, so each one's peak memory is its own).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use crate::bench::median;

/// Which way is better for a figure.
#[derive(Clone, Copy, PartialEq)]
enum Better {
    Lower,
    Higher,
}

/// One measurement: the arguments given to both binaries, and what to read from the output.
struct Job {
    what: &'static str,
    args: Vec<String>,
    read: fn(&str) -> Vec<(String, f64, Better)>,
}

/// What one child printed, how long it took and the most memory it held.
struct Ran {
    stdout: String,
    wall_s: f64,
    peak_mib: Option<f64>,
}

pub fn main(other: &Path, rounds: u64, quick: bool) -> ExitCode {
    let this = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: cannot find this program: {e}");
            return ExitCode::from(crate::EXIT_INTERNAL);
        }
    };
    if !other.is_file() {
        eprintln!(
            "error: --against {}: no such program (give the path of another build's `scalelab`)",
            other.display()
        );
        return ExitCode::from(crate::EXIT_BAD_INPUT);
    }
    let other = other.to_path_buf();
    let jobs = jobs(quick);
    let rounds = rounds.max(1);
    println!(
        "scalelab bench --against {} · {rounds} round(s), the order swapped each round · medians",
        other.display()
    );
    // figure -> (this build's values, the other's values, better)
    let mut figures: Vec<(String, Vec<f64>, Vec<f64>, Better)> = Vec::new();
    for round in 0..rounds {
        println!("round {}: load average {}", round + 1, load_average());
        for job in &jobs {
            let order: [(&PathBuf, bool); 2] = if round % 2 == 0 {
                [(&this, true), (&other, false)]
            } else {
                [(&other, false), (&this, true)]
            };
            for (exe, is_this) in order {
                let ran = match run(exe, &job.args) {
                    Ok(r) => r,
                    Err(e) => {
                        eprintln!("error: {} ({}): {e}", job.what, exe.display());
                        return ExitCode::from(crate::EXIT_INTERNAL);
                    }
                };
                let mut found = (job.read)(&ran.stdout);
                found.push((format!("{}: wall (s)", job.what), ran.wall_s, Better::Lower));
                if let Some(mib) = ran.peak_mib {
                    found.push((
                        format!("{}: peak memory (MiB)", job.what),
                        mib,
                        Better::Lower,
                    ));
                }
                for (name, value, better) in found {
                    let i = match figures.iter().position(|f| f.0 == name) {
                        Some(i) => i,
                        None => {
                            figures.push((name, Vec::new(), Vec::new(), better));
                            figures.len() - 1
                        }
                    };
                    let slot = &mut figures[i];
                    if is_this {
                        slot.1.push(value);
                    } else {
                        slot.2.push(value);
                    }
                }
            }
        }
    }
    println!("load average at the end: {}\n", load_average());
    println!(
        "{:<58} {:>12} {:>12} {:>8}",
        "figure", "this build", "the other", "ratio"
    );
    for (name, this, other, better) in figures {
        let (a, b) = (median(this), median(other));
        let verdict = if !a.is_finite() || !b.is_finite() || b == 0.0 {
            "(one side did not report it)"
        } else if (a - b).abs() <= 0.02 * b.abs() {
            "(within 2%)"
        } else if (a < b) == (better == Better::Lower) {
            "better"
        } else {
            "worse"
        };
        println!(
            "{name:<58} {:>12} {:>12} {:>7.2}x {verdict}",
            shown(a),
            shown(b),
            a / b
        );
    }
    ExitCode::SUCCESS
}

fn shown(v: f64) -> String {
    if !v.is_finite() {
        "-".into()
    } else if v >= 1000.0 {
        crate::format::thousands(v.round() as u64)
    } else {
        format!("{v:.1}")
    }
}

/// The measurements: each design alone (requests per wall second on its one thread), the four
/// designs at once, black-friday's peak with the simulator's events per request, and the
/// 200-seed hunt. `quick` keeps the short ones (a smoke test, not figures to report).
fn jobs(quick: bool) -> Vec<Job> {
    let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let mut jobs = Vec::new();
    for (design, what) in [
        ("vertical", "vertical alone"),
        ("horizontal", "horizontal alone"),
        ("queued", "queued alone"),
        ("sharded", "sharded alone"),
    ] {
        jobs.push(Job {
            what,
            args: args(&[
                "run",
                "scenarios/flash-sale.toml",
                "--seed",
                "42",
                "--design",
                design,
                "--json",
            ]),
            read: requests_per_s,
        });
    }
    if !quick {
        jobs.push(Job {
            what: "flash-sale, four designs",
            args: args(&["run", "scenarios/flash-sale.toml", "--seed", "42"]),
            read: |_| Vec::new(),
        });
        jobs.push(Job {
            what: "black-friday, four designs",
            args: args(&[
                "bench",
                "--scenario",
                "scenarios/black-friday.toml",
                "--runs",
                "1",
                "--peak-from-s",
                "420",
                "--peak-to-s",
                "780",
            ]),
            read: black_friday,
        });
    }
    let seeds = if quick { "0..10" } else { "0..200" };
    jobs.push(Job {
        what: if quick {
            "hunt, 10 seeds"
        } else {
            "hunt, 200 seeds"
        },
        args: args(&["hunt", "scenarios/swarm.toml", "--seeds", seeds]),
        read: seeds_per_minute,
    });
    jobs
}

/// `run --json` of one design: its simulated requests per wall second (one thread).
fn requests_per_s(stdout: &str) -> Vec<(String, f64, Better)> {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(stdout) else {
        return Vec::new();
    };
    let design = v["designs"][0]["design"].as_str().unwrap_or("?").to_owned();
    v["wall"]["simulated_requests_per_s"]
        .as_f64()
        .map(|rps| {
            vec![(
                format!("{design} alone: simulated requests/s (one thread)"),
                rps,
                Better::Higher,
            )]
        })
        .unwrap_or_default()
}

/// `bench --scenario`'s median line and, per design, its events per request.
fn black_friday(stdout: &str) -> Vec<(String, f64, Better)> {
    let mut found = Vec::new();
    for line in stdout.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("median: ") {
            if let Some(x) = number_before(rest, "x through the peak") {
                found.push((
                    "black-friday's peak: real-time factor".to_owned(),
                    x,
                    Better::Higher,
                ));
            }
        } else if let Some((design, rest)) = line.split_once(" per request: ") {
            if let Some(n) = rest.split_whitespace().next().and_then(|n| n.parse().ok()) {
                found.push((
                    format!("{} events per request", design.trim()),
                    n,
                    Better::Lower,
                ));
            }
        }
    }
    found
}

/// The hunt's first line: "... · N seeds/min".
fn seeds_per_minute(stdout: &str) -> Vec<(String, f64, Better)> {
    stdout
        .lines()
        .next()
        .and_then(|l| number_before(l, "seeds/min"))
        .map(|n| vec![("hunt: seeds per minute".to_owned(), n, Better::Higher)])
        .unwrap_or_default()
}

/// The number just before `marker` in `text` ("· 7.0x through the peak" -> 7.0).
fn number_before(text: &str, marker: &str) -> Option<f64> {
    let head = &text[..text.find(marker)?];
    let word = head.split_whitespace().last()?;
    word.trim_end_matches('x').replace(',', "").parse().ok()
}

/// Runs `exe args` in the current folder; its output, its wall time and its peak memory (read
/// from /proc every 20 ms while it runs: Linux only, `None` elsewhere). A hunt that found
/// failing seeds exits 1, which is still a measurement.
fn run(exe: &Path, args: &[String]) -> Result<Ran, String> {
    let started = Instant::now();
    let mut child = Command::new(exe)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start it: {e}"))?;
    let status_file = format!("/proc/{}/status", child.id());
    // Read the pipes on their own threads, so a child that prints a lot never blocks.
    let mut out = child.stdout.take().ok_or("no stdout")?;
    let mut err = child.stderr.take().ok_or("no stderr")?;
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut out, &mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut err, &mut s);
        s
    });
    let mut peak_kib: Option<u64> = None;
    let status = loop {
        if let Some(kib) = std::fs::read_to_string(&status_file)
            .ok()
            .and_then(|s| high_water_kib(&s))
        {
            peak_kib = Some(peak_kib.map_or(kib, |p| p.max(kib)));
        }
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("cannot wait for it: {e}")),
        }
    };
    let wall_s = started.elapsed().as_secs_f64();
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    if !matches!(status.code(), Some(0 | 1)) {
        let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
        return Err(format!(
            "it failed ({status}): {}",
            tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
        ));
    }
    Ok(Ran {
        stdout,
        wall_s,
        peak_mib: peak_kib.map(|k| k as f64 / 1024.0),
    })
}

/// `VmHWM` (the peak resident set so far) of a /proc status file, in KiB.
fn high_water_kib(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// The machine's load averages over 1, 5 and 15 minutes, as /proc/loadavg says them.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_figures_are_read_off_each_commands_output() {
        let bench = "scalelab bench · black-friday · 4 designs at once\n  run 1: 99.9 s wall, 12.0x real time overall, 7.0x through the peak, 43,146 simulated requests/s\n    sharded    per request: 47.2 simulator events = 11.7 messages + 17.3 timer events + 18.2 task runs\nmedian: 12.0x real time overall · 7.0x through the peak · 43,146 simulated requests/s (all designs together)\n";
        let found = black_friday(bench);
        let names: Vec<(&str, f64)> = found.iter().map(|f| (f.0.as_str(), f.1)).collect();
        assert_eq!(
            names,
            [
                ("sharded events per request", 47.2),
                ("black-friday's peak: real-time factor", 7.0)
            ]
        );
        let hunt =
            "scalelab hunt · swarm · seeds 0..200 · 65.6 s wall · 183.0 seeds/min\ncoverage\n";
        assert_eq!(seeds_per_minute(hunt)[0].1, 183.0);
        assert!(seeds_per_minute("garbage").is_empty());
        let json =
            r#"{"designs":[{"design":"queued"}],"wall":{"simulated_requests_per_s":59022.1}}"#;
        let rps = requests_per_s(json);
        assert_eq!(rps[0].0, "queued alone: simulated requests/s (one thread)");
        assert_eq!(rps[0].1, 59022.1);
        assert!(requests_per_s("not json").is_empty());
        assert_eq!(
            high_water_kib("Name:\tx\nVmHWM:\t  505488 kB\n"),
            Some(505_488)
        );
    }
}

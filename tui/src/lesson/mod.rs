//! `scalelab lesson`: the course. `list` shows the ten lessons and the student's progress,
//! `start N` writes the lesson's answer file, `check N [ANSWER]` grades it, `hint N` shows the
//! next hint of the lesson's ladder.
//!
//! Exit codes of `check`, as Maelstrom's: 0 every target passed, 1 a target was missed, 2 the
//! answer cannot be judged (a missing or malformed file, another lesson's answer, a lesson
//! that does not exist: the message names the file, line and column and what was expected),
//! 3 the simulator itself failed. Same answer, same output, on any machine: the verdict goes
//! to stdout, and anything timed (progress, how long it took) to stderr.
//!
//! Must not: hold simulation logic, or write anywhere but the answers folder.

mod answer;
mod catalog;
mod grade;
mod progress;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Subcommand;
use scalelab_system::exercises::Code;

use crate::{scenario_file, EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_VIOLATION};

/// The folder for everything a lesson asks the student to write (git-ignored).
pub const ANSWERS: &str = "answers";

/// A check that has not finished after this long is stuck (an endless loop in a student's
/// code, say): it is stopped, and says so, rather than hanging forever.
const WATCHDOG: Duration = Duration::from_secs(600);

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: LessonCommand,
}

#[derive(Subcommand)]
enum LessonCommand {
    /// The ten lessons and how far you are with each.
    List,
    /// Start a lesson: write its answer file, answers/NN.toml, with the questions to predict
    /// and the knobs the exercise lets you turn.
    Start {
        /// The lesson's number (1-10).
        lesson: u8,
        /// Write it again even if it exists (your answer is overwritten).
        #[arg(long)]
        force: bool,
    },
    /// Grade your answer: run it on the lesson's seeds and print, for each target, the
    /// figure measured, the target, PASS or FAIL, and what to look at.
    Check {
        /// The lesson's number (1-10).
        lesson: u8,
        /// The answer file (default: answers/NN.toml).
        answer: Option<PathBuf>,
        /// Grade the reference solution of a code exercise instead of your code (only test
        /// builds have it).
        #[arg(long, hide = true)]
        reference: bool,
    },
    /// Show the next hint for a lesson, from a nudge to nearly the answer.
    Hint {
        /// The lesson's number (1-10).
        lesson: u8,
        /// Show again every hint you have seen so far, instead of a new one.
        #[arg(long)]
        all: bool,
    },
}

pub fn main(args: Args) -> ExitCode {
    let exercises = match catalog::all() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: the course's data is broken (a bug in scalelab): {e}");
            return ExitCode::from(EXIT_INTERNAL);
        }
    };
    let answers = Path::new(ANSWERS);
    match args.command {
        LessonCommand::List => list(&exercises, answers),
        LessonCommand::Start { lesson, force } => match find(&exercises, lesson) {
            Ok(ex) => start(ex, answers, force),
            Err(code) => code,
        },
        LessonCommand::Check {
            lesson,
            answer,
            reference,
        } => match find(&exercises, lesson) {
            Ok(ex) => check(ex, answers, answer, reference),
            Err(code) => code,
        },
        LessonCommand::Hint { lesson, all } => match find(&exercises, lesson) {
            Ok(ex) => hint(ex, answers, all),
            Err(code) => code,
        },
    }
}

fn find(exercises: &[catalog::Exercise], lesson: u8) -> Result<&catalog::Exercise, ExitCode> {
    exercises.iter().find(|e| e.lesson == lesson).ok_or_else(|| {
        eprintln!(
            "error: there is no lesson {lesson}; the lessons are 1 to {} (`scalelab lesson list` shows them)",
            exercises.len()
        );
        ExitCode::from(EXIT_BAD_INPUT)
    })
}

fn list(exercises: &[catalog::Exercise], answers: &Path) -> ExitCode {
    let progress = progress::Progress::load(answers);
    let width = exercises
        .iter()
        .map(|e| e.title.chars().count())
        .max()
        .unwrap_or(0);
    println!("  #  {:width$}  status", "lesson");
    for e in exercises {
        let entry = progress.entry(e.lesson);
        let hints = match entry.hints_shown {
            0 => String::new(),
            1 => " (1 hint)".into(),
            n => format!(" ({n} hints)"),
        };
        println!(
            " {:>2}  {:width$}  {}{hints}",
            e.lesson,
            e.title,
            entry.status.describe()
        );
    }
    let next = exercises
        .iter()
        .find(|e| progress.entry(e.lesson).status != progress::Status::Passed);
    match next {
        Some(e) => println!(
            "\nnext: read {}, then: cargo run --release --bin scalelab -- lesson start {}",
            e.page, e.lesson
        ),
        None => println!("\nevery lesson passed."),
    }
    ExitCode::SUCCESS
}

fn start(ex: &catalog::Exercise, answers: &Path, force: bool) -> ExitCode {
    let Some(base) = catalog::scenario_text(&ex.scenario) else {
        eprintln!(
            "error: lesson {} has no scenario (a bug in scalelab)",
            ex.lesson
        );
        return ExitCode::from(EXIT_INTERNAL);
    };
    let file = answers.join(format!("{:02}.toml", ex.lesson));
    if file.exists() && !force {
        eprintln!(
            "error: {} already exists: edit it, and check it with `scalelab lesson check {}`\n(`scalelab lesson start {} --force` writes it again from the start, losing your answer)",
            file.display(),
            ex.lesson,
            ex.lesson
        );
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    let written = std::fs::create_dir_all(answers)
        .and_then(|()| std::fs::write(&file, answer::template(ex, base)));
    if let Err(e) = written {
        eprintln!("error: could not write {}: {e}", file.display());
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    println!("wrote {}", file.display());
    println!(
        "  1. read {} and write your predictions in the file first;",
        ex.page
    );
    match ex.code {
        Some(code) => println!("  2. then change {} as the lesson asks;", code.file()),
        None => println!("  2. then turn the knobs in the file until you think they hold;"),
    }
    println!(
        "  3. check: cargo run --release --bin scalelab -- lesson check {}",
        ex.lesson
    );
    ExitCode::SUCCESS
}

fn hint(ex: &catalog::Exercise, answers: &Path, all: bool) -> ExitCode {
    let mut progress = progress::Progress::load(answers);
    let total = ex.hints.len();
    if all {
        let shown = (progress.entry(ex.lesson).hints_shown as usize).min(total);
        if shown == 0 {
            println!(
                "no hints seen yet for lesson {}; `scalelab lesson hint {}` shows the first",
                ex.lesson, ex.lesson
            );
        }
        for (i, h) in ex.hints.iter().take(shown).enumerate() {
            println!("hint {} of {total}: {}\n", i + 1, h.trim());
        }
        return ExitCode::SUCCESS;
    }
    match progress.next_hint(ex.lesson, total) {
        Some(i) => {
            println!("hint {} of {total}: {}", i + 1, ex.hints[i].trim());
            if i + 1 < total {
                println!(
                    "\n(the next one says more: `scalelab lesson hint {}` again)",
                    ex.lesson
                );
            }
            progress.save(answers);
        }
        None => println!(
            "no more hints for lesson {}: you have seen all {total} (`scalelab lesson hint {} --all` shows them again)",
            ex.lesson, ex.lesson
        ),
    }
    ExitCode::SUCCESS
}

fn check(
    ex: &catalog::Exercise,
    answers: &Path,
    path: Option<PathBuf>,
    reference: bool,
) -> ExitCode {
    let color = std::io::stderr().is_terminal();
    let bad = |e: scenario_file::LoadError| {
        eprint!("{}", e.render(color));
        ExitCode::from(EXIT_BAD_INPUT)
    };
    let default = answers.join(format!("{:02}.toml", ex.lesson));
    let file = path.unwrap_or(default);
    let shown = file.display().to_string();
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) => {
            return bad(scenario_file::unlocated(format!(
                "{shown}: cannot read the answer file: {e}\nstart the lesson with `cargo run --release --bin scalelab -- lesson start {}`, which writes {}",
                ex.lesson,
                ex.answer_path()
            )))
        }
    };
    let answer = match answer::parse(ex, &shown, &text) {
        Ok(a) => a,
        Err(e) => return bad(e),
    };
    let Some(base_text) = catalog::scenario_text(&ex.scenario) else {
        eprintln!(
            "error: lesson {} has no scenario (a bug in scalelab)",
            ex.lesson
        );
        return ExitCode::from(EXIT_INTERNAL);
    };
    let base = match scalelab_sim::parse(base_text) {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "error: lessons/scenarios/{} is broken (a bug in scalelab): {e}",
                ex.scenario
            );
            return ExitCode::from(EXIT_INTERNAL);
        }
    };
    let merged = match answer::merge(base_text, &answer) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_INTERNAL);
        }
    };
    let scenario = match scalelab_sim::parse(&merged.text) {
        Ok(s) => s,
        Err(e) => return bad(point_back(&answer, &merged, &ex.scenario, &e)),
    };
    let code = match (ex.code, reference) {
        (Some(_), false) => Some(Code::Student),
        (Some(_), true) => match Code::reference() {
            Some(r) => Some(r),
            None => {
                eprintln!(
                    "error: this build has no reference solutions: they are compiled only into test builds (the `lesson-solutions` feature of scalelab-system)"
                );
                return ExitCode::from(EXIT_BAD_INPUT);
            }
        },
        (None, true) => {
            eprintln!(
                "error: lesson {} is not a code exercise; --reference grades the reference code of lessons 5 and 10",
                ex.lesson
            );
            return ExitCode::from(EXIT_BAD_INPUT);
        }
        (None, false) => None,
    };
    let case = grade::Case {
        exercise: ex,
        answer: &answer,
        scenario: &scenario,
        base: &base,
        base_text,
        code,
    };
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::spawn(|| {
        std::thread::sleep(WATCHDOG);
        eprintln!(
            "\nerror: the check has not finished after {} s of wall time: an endless loop in the code under test? (a simulation only moves on when the code awaits)",
            WATCHDOG.as_secs()
        );
        std::process::exit(i32::from(EXIT_VIOLATION));
    });
    let started = Instant::now();
    eprintln!("checking lesson {} with {shown} ...", ex.lesson);
    let show_progress = std::io::stderr().is_terminal();
    let outcomes = grade::run_all(&case, threads, &|done, total| {
        if show_progress {
            eprint!("\r  {done} / {total} simulations done ");
        }
    });
    if show_progress {
        eprint!("\r{:40}\r", "");
    }
    let verdict = match outcomes.and_then(|o| grade::verdict(&case, &o)) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    print!("{}", verdict.text);
    eprintln!(
        "(checked in {:.1} s of wall time)",
        started.elapsed().as_secs_f64()
    );
    let mut progress = progress::Progress::load(answers);
    progress.checked(ex.lesson, verdict.passed);
    progress.save(answers);
    if verdict.internal_error {
        eprintln!(
            "error: the simulator failed on a lesson without student code: a bug in scalelab"
        );
        ExitCode::from(EXIT_INTERNAL)
    } else if verdict.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_VIOLATION)
    }
}

/// A scenario rule broken by the answer's knobs, pointed back at the answer: at the value
/// that broke it, or (for a rule between two values, one of them the lesson's) at the first
/// knob the answer set, naming the rule.
fn point_back(
    answer: &answer::Answer,
    merged: &answer::Merged,
    scenario: &str,
    e: &scalelab_sim::ScenarioError,
) -> scenario_file::LoadError {
    if let Some(span) = &e.span {
        for (in_merged, in_answer) in &merged.regions {
            if span.start >= in_merged.start && span.start < in_merged.end.max(in_merged.start + 1)
            {
                return answer.error_at(in_answer.clone(), &e.message);
            }
        }
    }
    let first = answer
        .knobs
        .first()
        .map_or(0..0, |(_, g)| g.key_span.clone());
    answer.error_at(
        first,
        &format!(
            "with this answer, the lesson's scenario (lessons/scenarios/{scenario}) breaks a rule: {}",
            e.message
        ),
    )
}

#[cfg(test)]
mod tests;

//! The student's progress: which lessons were attempted or passed, and how many hints of
//! each were shown, in `answers/.progress.toml` (inside the git-ignored answers folder).
//!
//! Must not: make a check fail or change what it prints. A progress file that cannot be read
//! or written is reported on stderr and otherwise ignored; it is a convenience.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Where the progress file lives, under the answers folder.
pub fn path(answers: &Path) -> PathBuf {
    answers.join(".progress.toml")
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    #[default]
    NotStarted,
    Attempted,
    Passed,
}

impl Status {
    pub fn describe(self) -> &'static str {
        match self {
            Status::NotStarted => "not started",
            Status::Attempted => "attempted",
            Status::Passed => "passed",
        }
    }
}

/// One lesson's progress.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    #[serde(default)]
    pub status: Status,
    /// `lesson check` runs so far.
    #[serde(default)]
    pub checks: u32,
    /// Whether the last check passed (a lesson stays passed once passed).
    #[serde(default)]
    pub last_passed: bool,
    #[serde(default)]
    pub hints_shown: u32,
}

/// Every lesson's progress, by lesson number.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Progress {
    #[serde(default)]
    pub lessons: BTreeMap<String, Entry>,
}

impl Progress {
    /// Reads the progress file; a missing file is no progress, a broken one too (with a
    /// warning, since a student may have edited it).
    pub fn load(answers: &Path) -> Progress {
        let file = path(answers);
        match std::fs::read_to_string(&file) {
            Ok(text) => toml::from_str(&text).unwrap_or_else(|e| {
                eprintln!(
                    "warning: {} is not a progress file ({}); starting from no progress",
                    file.display(),
                    e.message()
                );
                Progress::default()
            }),
            Err(_) => Progress::default(),
        }
    }

    /// Writes the progress file, creating the answers folder if needed. Failing to write is
    /// reported on stderr and otherwise ignored.
    pub fn save(&self, answers: &Path) {
        let file = path(answers);
        let text = match toml::to_string(self) {
            Ok(body) => format!(
                "# Your progress through the lessons, kept by `scalelab lesson`. Safe to delete.\n{}\n",
                body.trim_end()
            ),
            Err(e) => {
                eprintln!("warning: could not write the progress file: {e}");
                return;
            }
        };
        let written = std::fs::create_dir_all(answers).and_then(|()| std::fs::write(&file, text));
        if let Err(e) = written {
            eprintln!("warning: could not write {}: {e}", file.display());
        }
    }

    pub fn entry(&self, lesson: u8) -> Entry {
        self.lessons
            .get(&lesson.to_string())
            .cloned()
            .unwrap_or_default()
    }

    fn entry_mut(&mut self, lesson: u8) -> &mut Entry {
        self.lessons.entry(lesson.to_string()).or_default()
    }

    /// Records a check's result. A passed lesson stays passed.
    pub fn checked(&mut self, lesson: u8, passed: bool) {
        let e = self.entry_mut(lesson);
        e.checks += 1;
        e.last_passed = passed;
        if passed {
            e.status = Status::Passed;
        } else if e.status != Status::Passed {
            e.status = Status::Attempted;
        }
    }

    /// The next hint to show (0-based), counting it as shown; `None` once all `total` were.
    pub fn next_hint(&mut self, lesson: u8, total: usize) -> Option<usize> {
        let e = self.entry_mut(lesson);
        let next = e.hints_shown as usize;
        if next >= total {
            return None;
        }
        e.hints_shown += 1;
        Some(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("scalelab-progress-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_lesson_stays_passed_and_counts_its_checks() {
        let mut p = Progress::default();
        assert_eq!(p.entry(3).status, Status::NotStarted);
        p.checked(3, false);
        assert_eq!(p.entry(3).status, Status::Attempted);
        p.checked(3, true);
        p.checked(3, false);
        let e = p.entry(3);
        assert_eq!(e.status, Status::Passed);
        assert_eq!(e.checks, 3);
        assert!(!e.last_passed);
    }

    #[test]
    fn hints_come_one_at_a_time_and_run_out() {
        let mut p = Progress::default();
        assert_eq!(p.next_hint(1, 3), Some(0));
        assert_eq!(p.next_hint(1, 3), Some(1));
        assert_eq!(p.next_hint(1, 3), Some(2));
        assert_eq!(p.next_hint(1, 3), None);
        assert_eq!(p.entry(1).hints_shown, 3);
        assert_eq!(p.next_hint(2, 3), Some(0), "each lesson has its own ladder");
    }

    #[test]
    fn progress_survives_a_round_trip_and_a_broken_file_is_no_progress() {
        let dir = temp("round-trip");
        let mut p = Progress::default();
        p.checked(10, true);
        let _ = p.next_hint(10, 4);
        p.save(&dir);
        assert_eq!(Progress::load(&dir), p);
        std::fs::write(path(&dir), "lessons = 3").expect("write");
        assert_eq!(Progress::load(&dir), Progress::default());
        assert_eq!(Progress::load(&dir.join("missing")), Progress::default());
        let _ = std::fs::remove_dir_all(&dir);
    }
}

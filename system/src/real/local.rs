//! A mailer for the real world's embedded default: confirmation emails appended to a log file,
//! one JSON object a line, where a developer can read what the shop would have sent.
//!
//! Must not: pretend to deliver. Nothing leaves the machine.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use async_trait::async_trait;

use crate::model::Email;
use crate::ports::{Mailer, PortError};

/// Appends every email to a file. Sending an order's email twice writes it twice (delivery
/// is at least once; a reader de-duplicates by `order_id`, as a customer's mail client would
/// show the same confirmation twice).
pub struct FileMailer {
    path: PathBuf,
    /// One writer at a time, so that lines never interleave.
    file: Mutex<std::fs::File>,
}

impl FileMailer {
    /// Opens (or creates) `path` for appending.
    pub fn open(path: &Path) -> std::io::Result<FileMailer> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(FileMailer {
            path: path.to_owned(),
            file: Mutex::new(file),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[async_trait]
impl Mailer for FileMailer {
    async fn send(&self, email: &Email) -> Result<(), PortError> {
        let mut line = serde_json::to_vec(email)
            .map_err(|e| PortError::Unavailable(format!("mail log: {e}")))?;
        line.push(b'\n');
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        // A small append to a local file: blocking here is shorter than a hop to a thread.
        file.write_all(&line)
            .and_then(|()| file.flush())
            .map_err(|e| PortError::Unavailable(format!("mail log {}: {e}", self.path.display())))
    }
}

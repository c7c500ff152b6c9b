//! `scalelab serve` (real world) refuses, before it starts anything, a flag that the chosen
//! design would silently ignore: exit 2, and one line that names the flag and the designs it
//! applies to. The rules themselves are `serve.rs`'s own tests; this runs the binary, so that
//! the exit code and the exact words an operator reads are pinned.
//!
//! Must not: start a shop (every command here is refused before anything listens).
#![cfg(not(madsim))]

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `scalelab serve` with `args` and no service URLs from the environment: exit code and
/// stderr. A serve that accepted the flags and started is stopped after a few seconds (exit
/// code `None`), so that the test fails rather than waits forever.
fn serve(args: &[&str]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_scalelab"))
        .arg("serve")
        .args(args)
        .args(["--port", "0", "--data-dir"])
        .arg(dir.path())
        .env_remove("SCALELAB_POSTGRES_URL")
        .env_remove("SCALELAB_REDIS_URL")
        .env_remove("SCALELAB_NATS_URL")
        .stderr(Stdio::piped())
        .spawn()
        .expect("run scalelab serve");
    let deadline = Instant::now() + Duration::from_secs(20);
    let code = loop {
        match child.try_wait().expect("wait for scalelab serve") {
            Some(status) => break status.code(),
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = pipe.read_to_string(&mut stderr);
    }
    (code, stderr)
}

#[test]
fn a_flag_the_design_would_ignore_is_refused_naming_the_designs_it_applies_to() {
    let refused: [(&[&str], &str); 5] = [
        (
            &["--design", "vertical", "--replicas", "3"],
            "error: --replicas does not apply to the vertical design: it is one server, with \
             no load balancer in front. Drop it, or choose --design horizontal, queued or \
             sharded.\n",
        ),
        (
            &["--replicas", "3"],
            "error: --replicas does not apply to the vertical design: it is one server, with \
             no load balancer in front. Drop it, or choose --design horizontal, queued or \
             sharded.\n",
        ),
        (
            &["--design", "queued", "--shards", "3"],
            "error: --shards does not apply to the queued design: it has one database. Drop \
             it, or choose --design sharded.\n",
        ),
        (
            &["--design", "horizontal", "--shards", "4"],
            "error: --shards does not apply to the horizontal design: it has one database. \
             Drop it, or choose --design sharded.\n",
        ),
        (
            &[
                "--design",
                "vertical",
                "--redis-url",
                "redis://127.0.0.1:6379",
            ],
            "error: --redis-url (or SCALELAB_REDIS_URL) does not apply to the vertical design: \
             its sessions live in the one server's memory. Drop it, or choose --design \
             horizontal, queued or sharded.\n",
        ),
    ];
    for (args, said) in refused {
        let (code, stderr) = serve(args);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr, said, "{args:?}");
    }
}

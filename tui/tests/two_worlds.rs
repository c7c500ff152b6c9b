//! The `scalelab` binary in each world: each says where the other world's commands are, and
//! the real world's `scalelab serve` answers HTTP and stops cleanly on SIGTERM.

use std::process::Command;

#[cfg(madsim)]
#[test]
fn the_sim_build_sends_serve_to_the_real_world_build() {
    let out = Command::new(env!("CARGO_BIN_EXE_scalelab"))
        .args(["serve", "--design", "sharded"])
        .output()
        .expect("run scalelab");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("cargo xtask serve -- --design sharded"),
        "{stderr}"
    );
}

#[cfg(not(madsim))]
#[test]
fn the_real_build_sends_run_to_the_sim_build() {
    let out = Command::new(env!("CARGO_BIN_EXE_scalelab"))
        .args(["run", "scenarios/flash-sale.toml"])
        .output()
        .expect("run scalelab");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("cargo run --release --bin scalelab -- run"),
        "{stderr}"
    );
}

#[cfg(all(not(madsim), unix))]
#[test]
fn serve_answers_http_and_stops_on_sigterm() {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpStream;

    let dir = std::env::temp_dir().join(format!("scalelab-serve-test-{}", std::process::id()));
    let mut child = serve_queued(&dir);
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    // "scalelab serve: Queued design on http://127.0.0.1:PORT — ..."
    let front = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| {
            l.split("http://")
                .nth(1)
                .filter(|_| l.starts_with("scalelab serve:"))
                .and_then(|rest| rest.split_whitespace().next().map(str::to_owned))
        })
        .expect("the server says where it listens");

    let mut stream = TcpStream::connect(&front).expect("connect");
    stream
        .write_all(b"GET /products HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n")
        .expect("send");
    let mut reply = String::new();
    stream.read_to_string(&mut reply).expect("read");
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.contains("\"price_cents\""), "{reply}");

    sigterm(&child);
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().expect("wait");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(status.success(), "exit {status:?}: {rest:?}");
    assert!(rest.iter().any(|l| l == "stopped."), "{rest:?}");
}

#[cfg(all(not(madsim), unix))]
#[test]
fn serve_stops_gracefully_when_its_stderr_is_gone() {
    // `scalelab serve ... 2>&1 | head`: once the reader has gone, every write to stderr fails.
    // The server must still stop on SIGTERM the graceful way (exit 0), not panic on a write.
    use std::io::{BufRead, BufReader};

    let dir = tempfile::tempdir().expect("temp dir");
    let mut child = serve_queued(dir.path());
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    assert!(
        lines
            .by_ref()
            .map_while(Result::ok)
            .any(|l| l.starts_with("Ctrl-C or SIGTERM")),
        "the server started"
    );
    drop(lines);
    sigterm(&child);
    let status = child.wait().expect("wait");
    assert!(status.success(), "a graceful stop, not a panic: {status:?}");
}

/// `scalelab serve --design queued` on `dir` and a free port, with no service URLs from the
/// environment and its stderr piped to the test.
#[cfg(all(not(madsim), unix))]
fn serve_queued(dir: &std::path::Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_scalelab"))
        .args(["serve", "--design", "queued", "--port", "0", "--data-dir"])
        .arg(dir)
        .env_remove("SCALELAB_POSTGRES_URL")
        .env_remove("SCALELAB_REDIS_URL")
        .env_remove("SCALELAB_NATS_URL")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start scalelab serve")
}

/// Asks `child` to stop the way an operator or a container runtime does.
#[cfg(all(not(madsim), unix))]
fn sigterm(child: &std::process::Child) {
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
}

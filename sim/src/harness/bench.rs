//! Workloads for measuring the simulator itself. The CLI's `bench` command times them; this
//! module never reads the wall clock.
//!
//! Must not: be used by a normal run.

use std::time::Duration;

use madsim::net::{TcpListener, TcpStream};
use madsim::runtime::Runtime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::scenario::{parse, Scenario, ScenarioError};

/// The first scenario's text, shipped in the binary so the benchmark measures the same costs.
pub const FLASH_SALE: &str = include_str!("../../../scenarios/flash-sale.toml");

/// The flash-sale scenario with a flat arrival rate and another length: the same shop and
/// costs, a workload of a chosen size.
pub fn flat_scenario(sessions_per_s: f64, duration_s: f64) -> Result<Scenario, ScenarioError> {
    parse(&flat_text(sessions_per_s, duration_s))
}

/// The text of [`flat_scenario`], for running it in another process.
pub fn flat_text(sessions_per_s: f64, duration_s: f64) -> String {
    let mut text = String::with_capacity(FLASH_SALE.len());
    let mut in_curve = false;
    for line in FLASH_SALE.lines() {
        if line.starts_with("duration_s =") {
            text.push_str(&format!("duration_s = {duration_s}\n"));
        } else if line.starts_with("curve = [") {
            in_curve = true;
            text.push_str(&format!(
                "curve = [{{ at_s = 0, sessions_per_s = {sessions_per_s} }}]\n"
            ));
        } else if in_curve {
            in_curve = line.trim() != "]";
        } else {
            text.push_str(line);
            text.push('\n');
        }
    }
    text
}

/// `round_trips` ping-pongs of 8 bytes over one simulated TCP connection between two nodes,
/// on a fresh thread and runtime: the floor under every simulated HTTP request.
pub fn tcp_ping_pong(round_trips: u64) -> u64 {
    let run = move || {
        let mut config = madsim::Config::default();
        config.net.send_latency = Duration::from_millis(1)..Duration::from_millis(2);
        let rt = Runtime::with_seed_and_config(1, config);
        let server = rt.create_node().ip([10, 0, 0, 1].into()).build();
        let client = rt.create_node().ip([10, 0, 0, 2].into()).build();
        server.spawn(async move {
            let Ok(listener) = TcpListener::bind("10.0.0.1:1").await else {
                return;
            };
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let mut b = [0u8; 8];
            while s.read_exact(&mut b).await.is_ok() {
                if s.write_all(&b).await.is_err() || s.flush().await.is_err() {
                    break;
                }
            }
        });
        let done = client.spawn(async move {
            tokio::time::sleep(Duration::from_millis(1)).await;
            let Ok(mut s) = TcpStream::connect("10.0.0.1:1").await else {
                return 0;
            };
            let mut b = [0u8; 8];
            let mut n = 0;
            for i in 0..round_trips {
                let ok = s.write_all(&i.to_le_bytes()).await.is_ok()
                    && s.flush().await.is_ok()
                    && s.read_exact(&mut b).await.is_ok();
                if !ok {
                    break;
                }
                n += 1;
            }
            n
        });
        rt.block_on(done).unwrap_or(0)
    };
    std::thread::spawn(run).join().unwrap_or(0)
}

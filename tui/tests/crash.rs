//! The crash test, in the real world: `scalelab serve` under load from a bounded client that
//! records every order the shop acknowledged, killed with SIGKILL (`kill -9`: no graceful stop,
//! nothing flushed), started again on the same data; then every acknowledged order must be in
//! its database exactly once, with all its side work done exactly once (stock movement and
//! shipping label: one row each; the confirmation email: one distinct email in the mail log).
//!
//! Run for the queued and sharded designs on the embedded defaults (SQLite files, in-process
//! broker and sessions), and on PostgreSQL + Redis + NATS when `SCALELAB_TEST_POSTGRES_URL`,
//! `SCALELAB_TEST_REDIS_URL` and `SCALELAB_TEST_NATS_URL` are set (otherwise that test says
//! SKIPPED and passes). There, each run is a shop with a name of its own, so its own
//! databases, NATS stream and consumer groups, and Redis keys: runs side by side (or after one
//! that failed) do not meet. Its databases and stream are removed at the end, passed or failed;
//! its Redis sessions expire on their own.
//!
//! Real world, Unix only: it sends signals to a child process.
#![cfg(all(not(madsim), unix))]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use scalelab_system::ports::Store;
use scalelab_system::real::deploy::{Config, Design};
use scalelab_system::real::nats::NatsBroker;
use scalelab_system::real::sql::{drop_postgres_database, SqlStore};
use scalelab_system::worker::ORDERS_TOPIC;

/// Clients sending at once: the bound on the load.
const CLIENTS: u64 = 6;
/// Orders acknowledged before the kill.
const ACKED_BEFORE_KILL: usize = 150;
/// How long the restarted shop gets to finish the side work.
const DRAIN: Duration = Duration::from_secs(90);

/// The services' URLs, if all three are set.
struct Services {
    postgres: String,
    redis: String,
    nats: String,
}

/// What the shop is started with, both times.
struct Shop {
    design: &'static str,
    /// `--name`: what its databases, NATS stream and Redis keys are called.
    name: String,
    shards: u32,
    dir: PathBuf,
    services: Option<Services>,
}

impl Shop {
    /// `scalelab serve` on a free port; returns the process and where it listens.
    fn start(&self) -> (Server, String) {
        let mut command = Command::new(env!("CARGO_BIN_EXE_scalelab"));
        command
            .args(["serve", "--design", self.design, "--port", "0"])
            .args(["--name", &self.name, "--stock", "100000"])
            .arg("--data-dir")
            .arg(&self.dir)
            .env_remove("SCALELAB_POSTGRES_URL")
            .env_remove("SCALELAB_REDIS_URL")
            .env_remove("SCALELAB_NATS_URL")
            .stderr(Stdio::piped());
        // Only the sharded design has shards: serve refuses --shards on the others.
        if self.design == "sharded" {
            command.args(["--shards", &self.shards.to_string()]);
        }
        if let Some(s) = &self.services {
            command
                .args(["--postgres-url", &s.postgres])
                .args(["--redis-url", &s.redis])
                .args(["--nats-url", &s.nats]);
        }
        let mut child = Server(command.spawn().expect("start scalelab serve"));
        let stderr = child.0.stderr.take().expect("stderr");
        let mut lines = BufReader::new(stderr).lines();
        let mut said = Vec::new();
        let front = lines.by_ref().map_while(Result::ok).find_map(|l| {
            said.push(l.clone());
            l.split("http://")
                .nth(1)
                .filter(|_| l.starts_with("scalelab serve:"))
                .and_then(|rest| rest.split_whitespace().next().map(str::to_owned))
        });
        let Some(front) = front else {
            panic!("the server did not start: {}", said.join("\n"));
        };
        // Keep reading what it says, so that a full pipe never blocks it; the test harness
        // shows it if the test fails.
        std::thread::spawn(move || {
            for l in lines.map_while(Result::ok) {
                eprintln!("SERVER: {l}");
            }
        });
        (child, front)
    }

    /// The deployment's config, to find its databases and mail log as an operator would.
    fn config(&self) -> Config {
        Config {
            design: if self.design == "sharded" {
                Design::Sharded
            } else {
                Design::Queued
            },
            name: self.name.clone(),
            port: 0,
            replicas: 2,
            shards: self.shards,
            data_dir: self.dir.clone(),
            postgres_url: self.services.as_ref().map(|s| s.postgres.clone()),
            redis_url: None,
            nats_url: None,
            products: 100,
            stock: 100_000,
            session_secret: Vec::new(),
            secure_cookies: false,
        }
    }
}

/// A `scalelab serve` process, killed (`kill -9`) when dropped unless it has exited: a test
/// that fails half-way leaves no server behind (it would hold its databases and the port).
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// What a run on the services leaves on them, removed when dropped, so also when the test
/// fails: the shop's databases and its NATS stream (with its consumer groups).
struct OnTheServices {
    databases: Vec<String>,
    nats: String,
    name: String,
}

impl OnTheServices {
    /// Drops what a run before might have left under these names, so that stock and order ids
    /// start afresh.
    fn clean(&self) -> Result<(), String> {
        let rt = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
        rt.block_on(async {
            let mut failed = Vec::new();
            for url in &self.databases {
                if let Err(e) = drop_postgres_database(url).await {
                    failed.push(e.to_string());
                }
            }
            match NatsBroker::connect(&self.nats, &self.name).await {
                Ok(nats) => match nats.delete_topic(ORDERS_TOPIC).await {
                    // Absent already (nothing was published yet): just as good.
                    Err(e) if e.to_string().contains("not found") => {}
                    Err(e) => failed.push(e.to_string()),
                    Ok(()) => {}
                },
                Err(e) => failed.push(e.to_string()),
            }
            if failed.is_empty() {
                Ok(())
            } else {
                Err(failed.join("; "))
            }
        })
    }
}

impl Drop for OnTheServices {
    fn drop(&mut self) {
        if let Err(e) = self.clean() {
            eprintln!("cleaning up after {}: {e}", self.name);
        }
    }
}

/// One HTTP/1.1 request on its own connection: (status, set-cookie, body), or None if the
/// shop could not be reached or hung up (it was killed).
fn http(
    front: &str,
    method: &str,
    path: &str,
    body: &str,
    cookie: Option<&str>,
) -> Option<(u16, Option<String>, String)> {
    let mut stream = TcpStream::connect(front).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let cookie = cookie.map_or(String::new(), |c| format!("Cookie: {c}\r\n"));
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n{cookie}\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut raw = String::new();
    stream.read_to_string(&mut raw).ok()?;
    let (head, body) = raw.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let cookie = head
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .and_then(|c| c.split(';').next())
        .map(str::to_owned);
    Some((status, cookie, body.to_owned()))
}

/// One shopper: logs in as `customer`, puts product 1 + customer % 50 in the cart, checks
/// out. The order id, if the shop acknowledged one (201 with a receipt).
fn buy(front: &str, customer: u64) -> Option<u64> {
    let login = format!("{{\"customer_id\":{customer}}}");
    let (_, cookie, _) = http(front, "POST", "/login", &login, None)?;
    let cookie = cookie?;
    let item = format!("{{\"product_id\":{},\"quantity\":1}}", 1 + customer % 50);
    http(front, "POST", "/cart/items", &item, Some(&cookie))?;
    let (status, _, body) = http(front, "POST", "/checkout", "", Some(&cookie))?;
    if status != 201 {
        return None;
    }
    let receipt: serde_json::Value = serde_json::from_str(&body).ok()?;
    receipt["order_id"].as_u64()
}

/// Runs `CLIENTS` shoppers in a loop until `stop`; every acknowledged (customer, order) goes
/// to `acked`. Each customer buys once, so an order is known by its customer.
fn load(
    front: String,
    acked: Arc<Mutex<Vec<(u64, u64)>>>,
    stop: Arc<AtomicBool>,
) -> Vec<std::thread::JoinHandle<()>> {
    (0..CLIENTS)
        .map(|client| {
            let (front, acked, stop) = (front.clone(), acked.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut next = 1_000_000 + client * 100_000;
                while !stop.load(Ordering::Relaxed) {
                    next += 1;
                    if let Some(order) = buy(&front, next) {
                        acked
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push((next, order));
                    }
                }
            })
        })
        .collect()
}

/// Emails in the mail log, by order id: the distinct emails written for each.
fn mailed(log: &Path) -> BTreeMap<u64, BTreeSet<String>> {
    let mut by_order: BTreeMap<u64, BTreeSet<String>> = BTreeMap::new();
    for line in std::fs::read_to_string(log).unwrap_or_default().lines() {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(line) {
            if let Some(id) = v["order_id"].as_u64() {
                by_order.entry(id).or_default().insert(line.to_owned());
            }
        }
    }
    by_order
}

/// What is missing or doubled for the acknowledged orders, per order; empty when all is well.
async fn problems(shop: &Shop, acked: &[(u64, u64)]) -> Vec<String> {
    let config = shop.config();
    let mut stores = Vec::new();
    for shard in 0..config.databases() {
        let (url, setup) = config.database(shard).expect("the database's URL");
        stores.push(
            SqlStore::connect(&url, &setup)
                .await
                .expect("open the database"),
        );
    }
    let mail = mailed(&config.mail_log());
    let mut found = Vec::new();
    for &(customer, id) in acked {
        let mut copies = 0;
        let mut side = (false, false);
        for store in &stores {
            let orders = store.orders_for(customer).await.expect("history");
            let here = orders.iter().filter(|o| o.id == id).count();
            copies += here;
            if here > 0 {
                side = store.side_work_done(id).await.expect("side work");
            }
        }
        let emails = mail.get(&id).map_or(0, BTreeSet::len);
        if copies != 1 || side != (true, true) || emails != 1 {
            found.push(format!(
                "order {id} of customer {customer}: {copies} stored, stock movement {}, label {}, {emails} distinct email(s)",
                side.0, side.1
            ));
        }
    }
    for store in &stores {
        store.close().await;
    }
    found
}

/// Load, `kill -9`, restart, and check every acknowledged order and its side work.
fn crash_and_check(shop: Shop) {
    let (mut first, front) = shop.start();
    let acked = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let clients = load(front, acked.clone(), stop.clone());
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.lock().unwrap_or_else(|p| p.into_inner()).len() < ACKED_BEFORE_KILL {
        assert!(Instant::now() < deadline, "the shop took too few orders");
        std::thread::sleep(Duration::from_millis(20));
    }
    // SIGKILL under load: requests in flight, side work half done.
    first.0.kill().expect("kill -9");
    let _ = first.0.wait();
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().expect("a client thread");
    }
    let acked = acked.lock().unwrap_or_else(|p| p.into_inner()).clone();

    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    // What the kill left undone, for the log: the restart has to finish it.
    let undone = rt.block_on(problems(&shop, &acked)).len();
    eprintln!(
        "{} design: {} orders acknowledged, {undone} not whole at the kill",
        shop.design,
        acked.len()
    );
    let (mut second, _) = shop.start();
    let deadline = Instant::now() + DRAIN;
    let found = loop {
        let found = rt.block_on(problems(&shop, &acked));
        if found.is_empty() || Instant::now() > deadline {
            break found;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let _ = Command::new("kill")
        .args(["-TERM", &second.0.id().to_string()])
        .status();
    let _ = second.0.wait();
    assert!(
        found.is_empty(),
        "{} design: {} of {} acknowledged orders are not whole after kill -9 and a restart: {:#?}",
        shop.design,
        found.len(),
        acked.len(),
        &found[..found.len().min(10)]
    );
}

#[test]
fn kill_9_loses_no_acknowledged_order_nor_its_side_work_on_the_embedded_defaults() {
    for design in ["queued", "sharded"] {
        let dir = tempfile::tempdir().expect("temp dir");
        crash_and_check(Shop {
            design,
            name: "scalelab".into(),
            shards: 3,
            dir: dir.path().to_owned(),
            services: None,
        });
    }
}

#[test]
fn kill_9_loses_no_acknowledged_order_nor_its_side_work_on_the_services() {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let (Some(postgres), Some(redis), Some(nats)) = (
        var("SCALELAB_TEST_POSTGRES_URL"),
        var("SCALELAB_TEST_REDIS_URL"),
        var("SCALELAB_TEST_NATS_URL"),
    ) else {
        eprintln!(
            "SKIPPED kill_9_loses_no_acknowledged_order_nor_its_side_work_on_the_services: set SCALELAB_TEST_POSTGRES_URL, SCALELAB_TEST_REDIS_URL and SCALELAB_TEST_NATS_URL to run it"
        );
        return;
    };
    for (design, shards) in [("queued", 1), ("sharded", 7)] {
        let dir = tempfile::tempdir().expect("temp dir");
        let shop = Shop {
            design,
            name: unique_name(design),
            shards,
            dir: dir.path().to_owned(),
            services: Some(Services {
                postgres: postgres.clone(),
                redis: redis.clone(),
                nats: nats.clone(),
            }),
        };
        let config = shop.config();
        let left = OnTheServices {
            databases: (0..config.databases())
                .map(|shard| config.database(shard).expect("url").0)
                .collect(),
            nats: nats.clone(),
            name: shop.name.clone(),
        };
        left.clean().expect("clean the services before the run");
        crash_and_check(shop);
        // `left` goes here, or while unwinding from a failure: databases and stream with it.
    }
}

/// A shop name no other run uses: the design, this process and the time. Its PostgreSQL
/// databases are named after it, so it stays short of serve's 42 bytes.
fn unique_name(design: &str) -> String {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |t| t.as_millis());
    format!("crash_{design}_{}_{millis}", std::process::id())
}

//! `scalelab serve`: the shop for real, in the real-world build (plain tokio, real sockets).
//!
//! Owns the real world's command line, and assembling a design from the same system code the
//! simulator runs: storefront replicas on loopback ports, a load balancer in front of them,
//! worker tasks, the shard router, and the ports on embedded defaults (SQLite files in a data
//! directory, sessions and broker in this process, mail to a log file) or on services given by
//! URL (PostgreSQL, Redis, NATS JetStream). Also the orderly stop on Ctrl-C or SIGTERM.
//!
//! Must not: hold shop logic (that is `scalelab_system`), or print a secret: URLs are shown
//! through `redact`, the session secret never.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use clap::{Args, Parser, Subcommand, ValueEnum};
use rand::RngCore;
use scalelab_system::memory::{demo_catalog, FakePayments};
use scalelab_system::memory_broker::MemoryBroker;
use scalelab_system::ports::{Mailer, Publisher, SessionStore, SideWork, Store, Subscription};
use scalelab_system::real::cookies::{sign_session_cookies, CookieSigner, MIN_SECRET_BYTES};
use scalelab_system::real::local::FileMailer;
use scalelab_system::real::redact;
use scalelab_system::real::sql::{postgres_database_url, ShardSetup, SqlStore};
use scalelab_system::memory::InMemorySessions;
use scalelab_system::session::SessionIds;
use scalelab_system::shard::{ShardMap, ShardedStore, Strategy};
use scalelab_system::storefront::{router, App};
use scalelab_system::worker::{run_worker, Inline, Job, Queued, ORDERS_TOPIC};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

#[derive(Parser)]
#[command(
    name = "scalelab",
    version,
    about = "A lab for scaling a web shop (real-world build: `serve` only)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the shop on loopback, in one of the four designs.
    Serve(ServeArgs),
    /// The simulator's commands (run, bench, ...) are in the sim build.
    #[command(external_subcommand)]
    Other(Vec<String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Design {
    /// One server: sessions in its memory, side work inline, one database.
    Vertical,
    /// Stateless replicas behind a load balancer, sessions in a shared store.
    Horizontal,
    /// As horizontal, with side work through a broker to worker tasks.
    Queued,
    /// As queued, with orders on database shards by customer.
    Sharded,
}

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Which design to serve.
    #[arg(long, value_enum, default_value = "vertical")]
    pub design: Design,
    /// The front door's port on 127.0.0.1 (the server, or the load balancer in front of the
    /// replicas, which take the next ports). 0 picks free ports.
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Storefront replicas (horizontal, queued, sharded).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=32))]
    pub replicas: u32,
    /// Database shards (sharded).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub shards: u32,
    /// Where the SQLite files and the mail log go.
    #[arg(long, default_value = "scalelab-data")]
    pub data_dir: PathBuf,
    /// A PostgreSQL server instead of SQLite files, e.g. postgres://postgres@127.0.0.1:5432;
    /// one database per shard is created there.
    #[arg(long, env = "SCALELAB_POSTGRES_URL", hide_env_values = true)]
    pub postgres_url: Option<String>,
    /// Redis for sessions (stateless designs), e.g. redis://127.0.0.1:6379.
    #[arg(long, env = "SCALELAB_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
    /// NATS JetStream as the broker (queued, sharded), e.g. nats://127.0.0.1:4222.
    #[arg(long, env = "SCALELAB_NATS_URL", hide_env_values = true)]
    pub nats_url: Option<String>,
    /// Products in the catalog, and units of each in stock (shared among shards).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub products: u32,
    #[arg(long, default_value_t = 10_000)]
    pub stock: u32,
    /// Production mode: refuse to start without SCALELAB_SESSION_SECRET.
    #[arg(long, env = "SCALELAB_PRODUCTION")]
    pub production: bool,
}

/// Largest request body the storefront reads; its JSON bodies are a few dozen bytes.
const MAX_BODY_BYTES: usize = 16 * 1024;
/// Sessions idle this long expire.
const SESSION_TTL: Duration = Duration::from_secs(30 * 60);

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let args = match cli.command {
        Command::Serve(args) => args,
        Command::Other(words) => {
            eprintln!(
                "error: `scalelab {}` is the simulator's, and this is the real-world build, \
                 which only serves.\nUse: cargo run --release --bin scalelab -- {}",
                words.first().map_or("", String::as_str),
                words.join(" ")
            );
            return ExitCode::from(crate::EXIT_BAD_INPUT);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the tokio runtime: {e}");
            return ExitCode::from(crate::EXIT_INTERNAL);
        }
    };
    runtime.block_on(async move {
        let secret = match session_secret(&args) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(crate::EXIT_BAD_INPUT);
            }
        };
        let shop = match start(&args, &secret).await {
            Ok(shop) => shop,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        eprintln!(
            "scalelab serve: {:?} design on http://{} — try: curl http://{}/products",
            args.design, shop.front, shop.front
        );
        eprintln!("Ctrl-C or SIGTERM stops it without losing an acknowledged order.");
        stop_signal().await;
        eprintln!("stopping: no new connections; finishing requests in flight ...");
        shop.stop().await;
        eprintln!("stopped.");
        ExitCode::SUCCESS
    })
}

/// Waits for Ctrl-C or, on Unix, SIGTERM (what `kill` and container runtimes send).
async fn stop_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

/// The secret that signs session cookies: from SCALELAB_SESSION_SECRET; in production mode it
/// must be there, otherwise a random one is made (sessions then end with the process).
fn session_secret(args: &ServeArgs) -> Result<Vec<u8>, String> {
    match std::env::var("SCALELAB_SESSION_SECRET") {
        Ok(s) if s.len() >= MIN_SECRET_BYTES => Ok(s.into_bytes()),
        Ok(s) => Err(format!(
            "SCALELAB_SESSION_SECRET is {} bytes; it must be at least {MIN_SECRET_BYTES} \
             (e.g. from: openssl rand -hex 32)",
            s.len()
        )),
        Err(_) if args.production => Err(format!(
            "production mode needs SCALELAB_SESSION_SECRET (at least {MIN_SECRET_BYTES} \
             bytes, e.g. from: openssl rand -hex 32) to sign session cookies"
        )),
        Err(_) => {
            eprintln!(
                "note: no SCALELAB_SESSION_SECRET: session cookies are signed with a random \
                 secret, so sessions end when the server stops"
            );
            let mut secret = vec![0u8; MIN_SECRET_BYTES];
            rand::rngs::OsRng.fill_bytes(&mut secret);
            Ok(secret)
        }
    }
}

/// A running shop.
pub struct Shop {
    /// Where clients connect: the server, or the load balancer.
    pub front: SocketAddr,
    /// Tells servers and the balancer to stop accepting.
    stop: watch::Sender<bool>,
    servers: Vec<JoinHandle<()>>,
    balancer: Option<JoinHandle<()>>,
    workers: Vec<JoinHandle<()>>,
    /// The in-process broker, if any: stopping waits until its queue is drained.
    memory_broker: Option<Arc<MemoryBroker>>,
    /// NATS, if it is the broker: stopping waits until the groups have caught up there too.
    nats_broker: Option<Arc<scalelab_system::real::nats::NatsBroker>>,
    databases: Vec<Arc<SqlStore>>,
}

/// Starts `args.design`. Fails with a message naming what could not be set up.
pub async fn start(args: &ServeArgs, secret: &[u8]) -> Result<Shop, String> {
    let signer = Arc::new(CookieSigner::new(secret)?);
    std::fs::create_dir_all(&args.data_dir).map_err(|e| {
        format!(
            "cannot create the data directory {}: {e}",
            args.data_dir.display()
        )
    })?;

    // The database: one, or one per shard behind the shard router.
    let shards = if args.design == Design::Sharded {
        args.shards
    } else {
        1
    };
    let databases = open_databases(args, shards).await?;
    let store: Arc<dyn Store> = if shards == 1 {
        databases[0].clone()
    } else {
        let parts = databases
            .iter()
            .map(|d| d.clone() as Arc<dyn Store>)
            .collect();
        Arc::new(ShardedStore::new(
            ShardMap::new(shards, Strategy::Hash),
            parts,
        ))
    };

    let mail_log = args.data_dir.join("mail.log");
    let mailer: Arc<dyn Mailer> = Arc::new(
        FileMailer::open(&mail_log)
            .map_err(|e| format!("cannot open the mail log {}: {e}", mail_log.display()))?,
    );

    // Sessions: the monolith keeps them in its memory; the stateless designs share a store.
    let shared_sessions: Option<Arc<dyn SessionStore>> = match (args.design, &args.redis_url) {
        (Design::Vertical, _) => None,
        (_, Some(url)) => Some(Arc::new(
            scalelab_system::real::redis_sessions::RedisSessions::connect(
                url,
                "scalelab",
                SESSION_TTL,
            )
            .await
            .map_err(|e| e.to_string())?,
        )),
        // Without Redis, the replicas (all in this process) share one in-memory store: it
        // stands in for the external store, and sessions end with the process.
        (_, None) => Some(Arc::new(InMemorySessions::new(SESSION_TTL))),
    };

    // Side work: inline, or through the broker to worker tasks.
    let queued = matches!(args.design, Design::Queued | Design::Sharded);
    let mut memory_broker = None;
    let mut nats_broker = None;
    let mut workers = Vec::new();
    let side_work: Arc<dyn SideWork> = if !queued {
        Arc::new(Inline {
            store: store.clone(),
            mailer: mailer.clone(),
        })
    } else {
        let publisher: Arc<dyn Publisher> = match &args.nats_url {
            Some(url) => {
                let broker = scalelab_system::real::nats::NatsBroker::connect(url, "scalelab")
                    .await
                    .map_err(|e| e.to_string())?;
                for job in Job::ALL {
                    let sub = broker
                        .subscribe(ORDERS_TOPIC, job.group())
                        .await
                        .map_err(|e| e.to_string())?;
                    workers.push(spawn_worker(job, Box::new(sub), &store, &mailer));
                }
                let broker = Arc::new(broker);
                nats_broker = Some(broker.clone());
                broker
            }
            None => {
                let broker = MemoryBroker::new(6);
                for job in Job::ALL {
                    let sub = broker.subscribe(ORDERS_TOPIC, job.group());
                    workers.push(spawn_worker(job, Box::new(sub), &store, &mailer));
                }
                memory_broker = Some(broker.clone());
                broker
            }
        };
        Arc::new(Queued { publisher })
    };

    // The storefront: one server, or replicas behind a load balancer.
    let (stop, stopped) = watch::channel(false);
    let replicas = if args.design == Design::Vertical {
        1
    } else {
        args.replicas
    };
    let mut servers = Vec::new();
    let mut replica_addrs = Vec::new();
    for r in 0..replicas {
        let port = match (args.port, args.design) {
            (0, _) => 0,
            (p, Design::Vertical) => p,
            (p, _) => p
                .checked_add(1 + r as u16)
                .ok_or("--port too high for the replicas")?,
        };
        let listener = bind(port).await?;
        replica_addrs.push(listener.local_addr().map_err(|e| e.to_string())?);
        let sessions = shared_sessions
            .clone()
            .unwrap_or_else(|| Arc::new(InMemorySessions::new(SESSION_TTL)));
        let app = Arc::new(App {
            store: store.clone(),
            sessions,
            payments: Arc::new(FakePayments),
            side_work: side_work.clone(),
            // Each replica draws its own seed: ids must not repeat across replicas.
            session_ids: SessionIds::from_seed(rand::rngs::OsRng.next_u64()),
            catalog_page_size: 20,
        });
        let app = router(app)
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .layer(axum::middleware::from_fn_with_state(
                signer.clone(),
                sign_session_cookies,
            ));
        let mut stopped = stopped.clone();
        servers.push(tokio::spawn(async move {
            // Graceful: on stop, accept nothing more, let requests in flight finish (and
            // their orders commit), close idle connections, then return.
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.wait_for(|&s| s).await;
                })
                .await;
        }));
    }
    let (front, balancer) = if args.design == Design::Vertical {
        (replica_addrs[0], None)
    } else {
        let listener = bind(args.port).await?;
        let front = listener.local_addr().map_err(|e| e.to_string())?;
        for (r, addr) in replica_addrs.iter().enumerate() {
            eprintln!("  replica {r} on http://{addr}");
        }
        let task = tokio::spawn(balance(listener, replica_addrs, stopped.clone()));
        (front, Some(task))
    };
    Ok(Shop {
        front,
        stop,
        servers,
        balancer,
        workers,
        memory_broker,
        nats_broker,
        databases,
    })
}

async fn bind(port: u16) -> Result<TcpListener, String> {
    TcpListener::bind(("127.0.0.1", port)).await.map_err(|e| {
        format!("cannot listen on 127.0.0.1:{port}: {e} (is another server there? try --port)")
    })
}

/// The file or database name of shard `shard` of `shards` ("scalelab" when unsharded).
fn database_name(shards: u32, shard: u32) -> String {
    if shards == 1 {
        "scalelab".to_owned()
    } else {
        format!("scalelab_{shards}shards_{shard}")
    }
}

/// What shard `shard` of `shards` starts with: the catalog, its share of every product's
/// stock, and its own order-id sequence (shard i: i+1, i+1+n, ...) so shards never collide.
fn shard_setup(
    products: u32,
    stock: u32,
    shards: u32,
    shard: u32,
    max_connections: u32,
) -> ShardSetup {
    ShardSetup {
        catalog: demo_catalog(products),
        stock: (stock / shards).max(1),
        first_order_id: u64::from(shard) + 1,
        order_id_step: u64::from(shards),
        max_connections,
    }
}

/// The database of each shard: SQLite files in the data directory, or PostgreSQL databases.
/// A single database and each shard count get their own files or databases, so that switching
/// designs never mixes shops with different order-id sequences.
async fn open_databases(args: &ServeArgs, shards: u32) -> Result<Vec<Arc<SqlStore>>, String> {
    let mut databases = Vec::new();
    for shard in 0..shards {
        let name = database_name(shards, shard);
        let url = match &args.postgres_url {
            Some(server) => postgres_database_url(server, &name).map_err(|e| e.to_string())?,
            None => sqlite_url(&args.data_dir, &name),
        };
        let setup = shard_setup(args.products, args.stock, shards, shard, 8);
        let store = SqlStore::connect(&url, &setup)
            .await
            .map_err(|e| e.to_string())?;
        eprintln!("  shard {shard}: {}", redact(&url));
        databases.push(Arc::new(store));
    }
    Ok(databases)
}

fn sqlite_url(dir: &Path, name: &str) -> String {
    format!(
        "sqlite://{}?mode=rwc",
        dir.join(format!("{name}.db")).display()
    )
}

fn spawn_worker(
    job: Job,
    subscription: Box<dyn Subscription>,
    store: &Arc<dyn Store>,
    mailer: &Arc<dyn Mailer>,
) -> JoinHandle<()> {
    let (store, mailer) = (store.clone(), mailer.clone());
    tokio::spawn(async move {
        let e = run_worker(job, subscription.as_ref(), store.as_ref(), mailer.as_ref()).await;
        eprintln!("worker {} stopped: {e}", job.group());
    })
}

/// A connection-level load balancer: each new connection goes to the next replica in turn
/// (round robin), skipping one that refuses. Like a TCP-mode proxy, it balances connections,
/// not requests: a client that keeps its connection alive stays on one replica.
async fn balance(
    listener: TcpListener,
    replicas: Vec<SocketAddr>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut turn = 0usize;
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stopped.wait_for(|&s| s) => return,
        };
        let Ok((mut client, _)) = accepted else {
            continue;
        };
        let start = turn;
        turn = turn.wrapping_add(1);
        let replicas = replicas.clone();
        tokio::spawn(async move {
            for i in 0..replicas.len() {
                let addr = replicas[(start + i) % replicas.len()];
                if let Ok(mut server) = TcpStream::connect(addr).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    return;
                }
            }
        });
    }
}

impl Shop {
    /// Stops in the order that loses nothing: stop accepting; let every request in flight
    /// finish (an order is acknowledged only once committed); let the workers empty the
    /// in-process queue (its messages would die with the process; a real broker keeps
    /// them for the next start); then close the databases.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        if let Some(b) = self.balancer {
            let _ = b.await;
        }
        for s in self.servers {
            let _ = s.await;
        }
        // Let the workers finish the side work of every acknowledged order (a durable
        // broker would keep it for the next start, but a clean stop leaves nothing behind).
        if self.memory_broker.is_some() || self.nats_broker.is_some() {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
            loop {
                let mut lag = 0u64;
                for job in Job::ALL {
                    if let Some(broker) = &self.memory_broker {
                        lag += broker.lag(ORDERS_TOPIC, job.group());
                    }
                    if let Some(broker) = &self.nats_broker {
                        match broker.lag(ORDERS_TOPIC, job.group()).await {
                            Ok(n) => lag += n,
                            Err(e) => {
                                eprintln!("warning: cannot read NATS consumer lag ({e}); not waiting for side work");
                            }
                        }
                    }
                }
                if lag == 0 {
                    break;
                }
                if tokio::time::Instant::now() > deadline {
                    eprintln!("warning: {lag} side-work jobs were still queued after 30 s");
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        for w in &self.workers {
            w.abort();
        }
        for d in &self.databases {
            d.close().await;
        }
    }
}

#[cfg(test)]
mod tests {
    //! The designs served for real on loopback ports with the embedded defaults (SQLite files
    //! in a temporary directory, in-process sessions and broker, mail log), driven over HTTP.

    use super::*;
    use scalelab_system::model::Order;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn args(design: Design, dir: &Path) -> ServeArgs {
        ServeArgs {
            design,
            port: 0,
            replicas: 2,
            shards: 3,
            data_dir: dir.to_owned(),
            postgres_url: None,
            redis_url: None,
            nats_url: None,
            products: 10,
            stock: 300,
            production: false,
        }
    }

    struct Reply {
        status: u16,
        cookie: Option<String>,
        body: String,
    }

    /// One HTTP/1.1 request on its own connection.
    async fn http(
        front: SocketAddr,
        method: &str,
        path: &str,
        body: &str,
        cookie: Option<&str>,
    ) -> Reply {
        let mut stream = TcpStream::connect(front).await.expect("connect");
        let cookie = cookie.map_or(String::new(), |c| format!("Cookie: {c}\r\n"));
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n{cookie}\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await.expect("send");
        let mut raw = String::new();
        stream.read_to_string(&mut raw).await.expect("read");
        let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let cookie = head
            .lines()
            .find_map(|l| l.strip_prefix("set-cookie: "))
            .and_then(|c| c.split(';').next())
            .map(str::to_owned);
        Reply {
            status,
            cookie,
            body: body.to_owned(),
        }
    }

    /// Logs in as `customer`, buys product 3, and returns the order id.
    async fn buy(front: SocketAddr, customer: u64) -> u64 {
        let login = http(
            front,
            "POST",
            "/login",
            &format!("{{\"customer_id\":{customer}}}"),
            None,
        )
        .await;
        assert_eq!(login.status, 200, "{}", login.body);
        let cookie = login.cookie.expect("a session cookie");
        let added = http(
            front,
            "POST",
            "/cart/items",
            r#"{"product_id":3,"quantity":2}"#,
            Some(&cookie),
        )
        .await;
        assert_eq!(added.status, 200, "{}", added.body);
        let checkout = http(front, "POST", "/checkout", "", Some(&cookie)).await;
        assert_eq!(checkout.status, 201, "{}", checkout.body);
        let receipt: serde_json::Value = serde_json::from_str(&checkout.body).expect("json");
        receipt["order_id"].as_u64().expect("an order id")
    }

    fn mailed_orders(dir: &Path) -> Vec<u64> {
        std::fs::read_to_string(dir.join("mail.log"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|v| v["order_id"].as_u64())
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_design_takes_orders_and_confirms_them() {
        for design in [
            Design::Vertical,
            Design::Horizontal,
            Design::Queued,
            Design::Sharded,
        ] {
            let dir = tempfile::tempdir().expect("temp dir");
            let shop = start(&args(design, dir.path()), &[1u8; 32])
                .await
                .expect("start");
            let front = shop.front;
            assert_eq!(http(front, "GET", "/health", "", None).await.status, 200);
            let mut orders: Vec<u64> = Vec::new();
            for customer in 1..=6 {
                orders.push(buy(front, customer).await);
            }
            shop.stop().await;
            // Stopping drained the side work: every acknowledged order got its email.
            let mut mailed = mailed_orders(dir.path());
            mailed.sort_unstable();
            orders.sort_unstable();
            assert_eq!(mailed, orders, "{design:?}: one confirmation per order");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sharded_orders_land_on_their_customers_shard() {
        let dir = tempfile::tempdir().expect("temp dir");
        let a = args(Design::Sharded, dir.path());
        let shop = start(&a, &[1u8; 32]).await.expect("start");
        for customer in 1..=12 {
            buy(shop.front, customer).await;
        }
        shop.stop().await;
        // Reopen each shard's file on its own and look at who is there.
        let map = ShardMap::new(a.shards, Strategy::Hash);
        let mut shards_used = std::collections::BTreeSet::new();
        for shard in 0..a.shards {
            let url = sqlite_url(dir.path(), &database_name(a.shards, shard));
            let setup = shard_setup(a.products, a.stock, a.shards, shard, 1);
            let store = SqlStore::connect(&url, &setup).await.expect("open shard");
            for customer in 1..=12u64 {
                let here: Vec<Order> = store.orders_for(customer).await.expect("orders");
                let home = map.shard_for(customer) == shard;
                assert_eq!(
                    here.len(),
                    usize::from(home),
                    "customer {customer} on shard {shard}"
                );
                if home {
                    shards_used.insert(shard);
                }
            }
            store.close().await;
        }
        assert!(
            shards_used.len() > 1,
            "12 customers spread over shards: {shards_used:?}"
        );
    }

    #[tokio::test]
    async fn forged_cookies_and_big_bodies_are_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let shop = start(&args(Design::Vertical, dir.path()), &[1u8; 32])
            .await
            .expect("start");
        let front = shop.front;
        let login = http(front, "POST", "/login", r#"{"customer_id":5}"#, None).await;
        let cookie = login.cookie.expect("cookie");
        let (name_id, signature) = cookie.rsplit_once('.').expect("a signed cookie");
        assert_eq!(signature.len(), 64, "an HMAC-SHA256 in hex");
        assert_eq!(
            http(front, "GET", "/orders", "", Some(&cookie))
                .await
                .status,
            200
        );
        // The bare id, or the id with another signature, is not a session.
        assert_eq!(
            http(front, "GET", "/orders", "", Some(name_id))
                .await
                .status,
            401
        );
        let forged = format!("{name_id}.{}", "0".repeat(64));
        assert_eq!(
            http(front, "GET", "/orders", "", Some(&forged))
                .await
                .status,
            401
        );
        let huge = format!(
            r#"{{"customer_id":5,"x":"{}"}}"#,
            "a".repeat(MAX_BODY_BYTES)
        );
        assert_eq!(http(front, "POST", "/login", &huge, None).await.status, 413);
        shop.stop().await;
    }

    /// Like `buy`, but for a shop that may be stopping: `None` once it stops answering.
    async fn try_buy(front: SocketAddr, customer: u64) -> Option<u64> {
        let attempt = async move {
            let login = http(
                front,
                "POST",
                "/login",
                &format!("{{\"customer_id\":{customer}}}"),
                None,
            )
            .await;
            let cookie = login.cookie?;
            http(
                front,
                "POST",
                "/cart/items",
                r#"{"product_id":3,"quantity":1}"#,
                Some(&cookie),
            )
            .await;
            let checkout = http(front, "POST", "/checkout", "", Some(&cookie)).await;
            let receipt: serde_json::Value = serde_json::from_str(&checkout.body).ok()?;
            (checkout.status == 201)
                .then(|| receipt["order_id"].as_u64())
                .flatten()
        };
        // `http` panics when it cannot connect; run it where a panic is just "no".
        tokio::spawn(attempt).await.ok().flatten()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn stopping_under_load_loses_no_acknowledged_order() {
        let dir = tempfile::tempdir().expect("temp dir");
        let a = args(Design::Queued, dir.path());
        let shop = start(&a, &[1u8; 32]).await.expect("start");
        let front = shop.front;
        // Eight customers buy as fast as they can while the shop is told to stop.
        let buyers: Vec<_> = (1..=8u64)
            .map(|customer| {
                tokio::spawn(async move {
                    let mut acknowledged = Vec::new();
                    while let Some(id) = try_buy(front, customer).await {
                        acknowledged.push((customer, id));
                    }
                    acknowledged
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(300)).await;
        shop.stop().await;
        let mut acknowledged = Vec::new();
        for b in buyers {
            acknowledged.extend(b.await.expect("buyer"));
        }
        assert!(
            acknowledged.len() >= 8,
            "orders were placed before the stop: {}",
            acknowledged.len()
        );
        // Every order a customer was told about is in the database and got its email.
        let setup = shard_setup(a.products, a.stock, 1, 0, 1);
        let store = SqlStore::connect(&sqlite_url(dir.path(), &database_name(1, 0)), &setup)
            .await
            .expect("reopen");
        let mailed = mailed_orders(dir.path());
        for (customer, id) in &acknowledged {
            let orders = store.orders_for(*customer).await.expect("orders");
            assert!(
                orders.iter().any(|o| o.id == *id),
                "order {id} of customer {customer} is in the database"
            );
            assert!(mailed.contains(id), "order {id} got its confirmation");
        }
        store.close().await;
    }

    /// The three services' URLs, or `None` (saying so) when any is not set.
    fn services(test: &str) -> Option<(String, String, String)> {
        let var = |v: &str| std::env::var(v).ok().filter(|u| !u.is_empty());
        match (
            var("SCALELAB_TEST_POSTGRES_URL"),
            var("SCALELAB_TEST_REDIS_URL"),
            var("SCALELAB_TEST_NATS_URL"),
        ) {
            (Some(pg), Some(redis), Some(nats)) => Some((pg, redis, nats)),
            _ => {
                use std::io::Write;
                let _ = writeln!(
                    std::io::stderr(),
                    "SKIPPED {test}: set SCALELAB_TEST_POSTGRES_URL, SCALELAB_TEST_REDIS_URL and SCALELAB_TEST_NATS_URL to run it"
                );
                None
            }
        }
    }

    /// The whole real stack: PostgreSQL shards, Redis sessions, NATS JetStream side work.
    /// The databases and the stream outlive a run (as a real shop's do), so this looks only
    /// at the orders it placed itself.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sharded_on_the_services_places_orders_on_their_shard_and_confirms_through_nats() {
        let Some((pg, redis, nats)) = services(
            "sharded_on_the_services_places_orders_on_their_shard_and_confirms_through_nats",
        ) else {
            return;
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let mut a = args(Design::Sharded, dir.path());
        // Shard databases of their own (a shard count no one else uses), dropped first so
        // that stock and order ids start afresh on every run.
        a.shards = 5;
        for shard in 0..a.shards {
            let url = postgres_database_url(&pg, &format!("scalelab_{}shards_{shard}", a.shards))
                .expect("url");
            scalelab_system::real::sql::drop_postgres_database(&url)
                .await
                .expect("drop an old shard database");
        }
        a.postgres_url = Some(pg.clone());
        a.redis_url = Some(redis);
        a.nats_url = Some(nats);
        let shop = start(&a, &[1u8; 32]).await.expect("start on the services");
        let mut placed = Vec::new();
        for customer in 101..=106u64 {
            placed.push((customer, buy(shop.front, customer).await));
        }
        shop.stop().await;
        let map = ShardMap::new(a.shards, Strategy::Hash);
        for &(customer, id) in &placed {
            let shard = map.shard_for(customer);
            let url = postgres_database_url(&pg, &database_name(a.shards, shard)).expect("url");
            let setup = shard_setup(a.products, a.stock, a.shards, shard, 1);
            let store = SqlStore::connect(&url, &setup).await.expect("open shard");
            let orders = store.orders_for(customer).await.expect("orders");
            assert!(
                orders.iter().any(|o| o.id == id),
                "order {id} of customer {customer} is on shard {shard}"
            );
            store.close().await;
        }
        // The workers read the orders from NATS and mailed each one before the stop ended.
        let mailed = mailed_orders(dir.path());
        for (_, id) in &placed {
            assert!(mailed.contains(id), "order {id} was confirmed: {mailed:?}");
        }
    }

    #[test]
    fn production_mode_needs_a_secret() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut a = args(Design::Vertical, dir.path());
        a.production = true;
        // The test process has no SCALELAB_SESSION_SECRET (CI does not set one).
        if std::env::var_os("SCALELAB_SESSION_SECRET").is_none() {
            let e = session_secret(&a).expect_err("refuses");
            assert!(
                e.contains("production mode needs SCALELAB_SESSION_SECRET"),
                "{e}"
            );
        }
    }
}

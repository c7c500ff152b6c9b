//! The shop's whole real deployment, in one place: how each design is assembled from this
//! crate's parts, started on loopback ports, and stopped without losing an acknowledged order.
//!
//! `start` takes a plain [`Config`] and wires, for its [`Design`]:
//!
//! - `Vertical`: one storefront server on the port, sessions in its memory, side work inline
//!   in checkout, one database.
//! - `Horizontal`: storefront replicas on the next ports behind the load balancer
//!   ([`super::balance`]) on the port; sessions in a shared store (Redis, or one store in this
//!   process standing in for it); side work inline.
//! - `Queued`: as horizontal, and checkout writes the order's side-work message to the outbox
//!   in the order's transaction; one relay task per database publishes it to a broker (NATS
//!   JetStream, or one in this process), from which one worker task per kind of job
//!   (`worker::Job`) takes it.
//! - `Sharded`: as queued, with the `Store` port a `ShardedStore` over one database per shard,
//!   by customer.
//!
//! Databases are SQLite files in the data directory, or PostgreSQL databases when a server URL
//! is given; mail goes to `mail.log` there. Each replica is the unchanged storefront router
//! with two layers around it, a request body limit and signed session cookies, served by
//! hyper, which closes a connection that does not send a request's head in time.
//! [`Shop::stop`] is the graceful shutdown.
//!
//! Must not: print (only `tui/` does; what an operator should see is returned, as [`Shop`]'s
//! fields, [`Notice`]s and [`Stopped`]), hold shop logic (that is the storefront's and the
//! workers'), or show a secret: URLs are shown through `redact`, the session secret never.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use rand::rngs::OsRng;
use rand::RngCore;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};

use super::balance::balance;
use super::cookies::{sign_session_cookies, CookieSigner};
use super::local::FileMailer;
use super::nats::NatsBroker;
use super::redis_sessions::RedisSessions;
use super::sql::{postgres_database_url, ShardSetup, SqlStore};
use super::{redact, ServiceError};
use crate::memory::{demo_catalog, FakePayments, InMemorySessions};
use crate::memory_broker::MemoryBroker;
use crate::outbox::{run_relay, Outbox};
use crate::ports::{Mailer, PortError, Publisher, SessionStore, SideWork, Store, Subscription};
use crate::session::SessionIds;
use crate::shard::{stock_share, ShardMap, ShardedStore, Strategy};
use crate::storefront::{router, App};
use crate::worker::{run_worker, Inline, Job, ORDERS_TOPIC};

/// Largest request body the storefront reads; its JSON bodies are a few dozen bytes, so
/// anything bigger is a mistake or an attack, refused with 413 before it is read.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Sessions idle this long expire.
pub const SESSION_TTL: Duration = Duration::from_secs(30 * 60);
/// How long [`Shop::stop`] lets open connections finish once it has stopped accepting; a
/// client that never finishes its request (half a body, then silence; a head is bounded
/// sooner, by [`HEADER_READ_LIMIT`]) is cut off then.
pub const SHUTDOWN_LIMIT: Duration = Duration::from_secs(10);
/// How long a connection waiting for a request has to send that request's whole head (the
/// request line and the headers) before it is closed. A browser or curl sends its head in one
/// packet, within milliseconds even over a slow mobile link; a client that trickles it, or says
/// nothing at all (a slowloris), would otherwise hold a connection and its task for as long as
/// it likes, and enough of them take every connection the process can open. Five seconds is
/// hundreds of times what a real client needs, and caps what each such connection costs. An
/// idle keep-alive connection is closed after it too (hyper starts the clock whenever it waits
/// for the next request): a browser just opens a new one.
pub const HEADER_READ_LIMIT: Duration = Duration::from_secs(5);
/// How long [`Shop::stop`] waits for the workers to empty the queue before giving up.
const DRAIN_LIMIT: Duration = Duration::from_secs(30);
/// Partitions of the in-process broker's topics: as many as the NATS adapter uses
/// (`nats::PARTITIONS`), so that switching brokers changes nothing else.
const MEMORY_PARTITIONS: u32 = 6;
/// Connections each database's pool opens at most.
const DB_CONNECTIONS: u32 = 8;
/// The longest name PostgreSQL keeps whole; it cuts longer ones short, which could give two
/// shops one database.
const POSTGRES_NAME_BYTES: usize = 63;
/// Products `GET /products` lists.
const CATALOG_PAGE: usize = 20;

/// The four designs of the scaling playbook, as the real world serves them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

impl Design {
    /// Whether checkout hands its side work to a broker (rather than doing it inline).
    pub fn queued(self) -> bool {
        matches!(self, Design::Queued | Design::Sharded)
    }
}

/// Everything a deployment is made of. Plain data, so that anything (a command line, a test,
/// a config file) can fill it in.
#[derive(Clone)]
pub struct Config {
    pub design: Design,
    /// The shop's name: the prefix of its NATS streams (and so its consumer groups), of its
    /// Redis keys and of its PostgreSQL databases' names, so that two shops can share those
    /// servers without taking each other's orders, side work or sessions. Letters, digits, `-`
    /// and `_`.
    pub name: String,
    /// The front door's port on 127.0.0.1: the server, or the load balancer, whose replicas
    /// take the ports after it. 0 picks free ports for all of them.
    pub port: u16,
    /// Storefront replicas behind the balancer (every design but `Vertical`).
    pub replicas: u32,
    /// Database shards (`Sharded`; the other designs have one database).
    pub shards: u32,
    /// Where the SQLite files and the mail log go.
    pub data_dir: PathBuf,
    /// A PostgreSQL server instead of SQLite files, e.g. `postgres://postgres@127.0.0.1:5432`;
    /// one database per shard is created there.
    pub postgres_url: Option<String>,
    /// Redis for the shared sessions; without it the replicas share one in-process store.
    pub redis_url: Option<String>,
    /// NATS JetStream as the broker; without it the broker is in process.
    pub nats_url: Option<String>,
    /// Products in the catalog of a new database, and units of each in stock, shared among
    /// the shards.
    pub products: u32,
    pub stock: u32,
    /// Signs the session cookies; at least `cookies::MIN_SECRET_BYTES` long.
    pub session_secret: Vec<u8>,
    /// Marks the session cookie `Secure` (sent over HTTPS only): production, behind TLS.
    pub secure_cookies: bool,
}

impl fmt::Debug for Config {
    /// Shows service URLs without their passwords, and never the session secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = |u: &Option<String>| u.as_deref().map(redact);
        f.debug_struct("Config")
            .field("design", &self.design)
            .field("name", &self.name)
            .field("port", &self.port)
            .field("replicas", &self.replicas)
            .field("shards", &self.shards)
            .field("data_dir", &self.data_dir)
            .field("postgres_url", &url(&self.postgres_url))
            .field("redis_url", &url(&self.redis_url))
            .field("nats_url", &url(&self.nats_url))
            .field("products", &self.products)
            .field("stock", &self.stock)
            .field("session_secret", &"***")
            .field("secure_cookies", &self.secure_cookies)
            .finish()
    }
}

impl Config {
    /// How many databases the design uses: one per shard when sharded, otherwise one.
    pub fn databases(&self) -> u32 {
        if self.design == Design::Sharded {
            self.shards.max(1)
        } else {
            1
        }
    }

    /// Where database `shard` (of [`Config::databases`]) lives, and what it starts with.
    ///
    /// One database and each shard count get their own files or databases, so that switching
    /// designs never mixes shops whose order ids follow different sequences: SQLite files
    /// `scalelab.db`, `scalelab_4shards_0.db`, ... in the data directory, which is the shop's
    /// own; PostgreSQL databases named after the shop, `scalelab_<name>`,
    /// `scalelab_<name>_4shards_0`, ..., since shops may share a server (under one database,
    /// one shop's relay would publish the other's outbox to its own broker, and its workers do
    /// the other's side work). Shard `i` of `n` numbers its orders `i+1, i+1+n, ...`, so ids
    /// never collide across shards, and starts with the whole catalog and its share of every
    /// product's stock (`shard::stock_share`: the shares add up to the stock).
    pub fn database(&self, shard: u32) -> Result<(String, ShardSetup), ServiceError> {
        let shards = self.databases();
        let name = |base: &str| {
            if shards == 1 {
                base.to_owned()
            } else {
                format!("{base}_{shards}shards_{shard}")
            }
        };
        let url = match &self.postgres_url {
            Some(server) => {
                let database = name(&format!("scalelab_{}", self.name));
                if database.len() > POSTGRES_NAME_BYTES {
                    return Err(ServiceError::new(
                        "PostgreSQL",
                        server,
                        format!(
                            "the database name {database} is longer than PostgreSQL's \
                             {POSTGRES_NAME_BYTES} bytes"
                        ),
                        "Give the shop a shorter name (--name).",
                    ));
                }
                postgres_database_url(server, &database)?
            }
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir
                    .join(format!("{}.db", name("scalelab")))
                    .display()
            ),
        };
        let setup = ShardSetup {
            catalog: demo_catalog(self.products),
            stock: stock_share(self.stock, shards, shard),
            first_order_id: u64::from(shard) + 1,
            order_id_step: u64::from(shards),
            max_connections: DB_CONNECTIONS,
        };
        Ok((url, setup))
    }

    /// Where the mail log is.
    pub fn mail_log(&self) -> PathBuf {
        self.data_dir.join("mail.log")
    }
}

/// Why a deployment could not start; each says what to look at.
#[derive(Debug)]
pub enum StartError {
    /// The session secret is too short to sign cookies with.
    Secret(String),
    DataDir {
        path: PathBuf,
        error: std::io::Error,
    },
    MailLog {
        path: PathBuf,
        error: std::io::Error,
    },
    /// A database, Redis or NATS could not be used (its message names it, without password).
    Service(ServiceError),
    /// A port is taken (or not ours to take).
    Listen { port: u16, error: std::io::Error },
    /// The replicas' ports, after the front door's, would pass 65535.
    PortsRunOut { port: u16, replicas: u32 },
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Secret(why) => f.write_str(why),
            StartError::DataDir { path, error } => write!(
                f,
                "cannot create the data directory {}: {error}",
                path.display()
            ),
            StartError::MailLog { path, error } => {
                write!(f, "cannot open the mail log {}: {error}", path.display())
            }
            StartError::Service(e) => write!(f, "{e}"),
            StartError::Listen { port, error } => write!(
                f,
                "cannot listen on 127.0.0.1:{port}: {error} (is another server there? try --port)"
            ),
            StartError::PortsRunOut { port, replicas } => write!(
                f,
                "port {port} is too high for {replicas} replicas on the ports after it (try --port)"
            ),
        }
    }
}

impl std::error::Error for StartError {}

impl From<ServiceError> for StartError {
    fn from(e: ServiceError) -> StartError {
        StartError::Service(e)
    }
}

/// Something an operator should know about while the shop runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A worker's subscription failed, so it stopped: its job is not done until a restart.
    WorkerStopped { job: Job, error: PortError },
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Notice::WorkerStopped { job, error } => {
                write!(f, "worker {} stopped: {error}", job.group())
            }
        }
    }
}

/// How a stop went: what it could not finish.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stopped {
    /// Side-work jobs still waiting (in an outbox or the broker) when the stop gave up waiting
    /// for the relays and workers (after 30 s). None is lost: an outbox keeps its messages
    /// until they are done (in-process broker) or in NATS, for the next start.
    pub jobs_left: u64,
    /// Why the queue's length could not be read, if it could not; the stop did not wait then.
    pub lag_unknown: Option<PortError>,
}

/// A running shop. Dropping it leaves its tasks running; [`Shop::stop`] ends them in order.
pub struct Shop {
    /// Where clients connect: the server, or the load balancer.
    pub front: SocketAddr,
    /// The replicas behind the load balancer; empty when the front door is the one server.
    pub replicas: Vec<SocketAddr>,
    /// Each database's URL with its password hidden, by shard.
    pub databases: Vec<String>,
    /// Tells servers and the balancer to stop accepting.
    stop: watch::Sender<bool>,
    servers: Vec<JoinHandle<()>>,
    balancer: Option<JoinHandle<()>>,
    workers: Vec<JoinHandle<()>>,
    notices: mpsc::UnboundedReceiver<Notice>,
    /// The broker the workers read, if any: stopping waits until they have caught up.
    broker: Option<Broker>,
    stores: Vec<Arc<SqlStore>>,
}

/// The broker of a queued design.
enum Broker {
    /// In this process: its queue dies with the process, so a stop must drain it.
    Memory(Arc<MemoryBroker>),
    /// NATS JetStream: durable, but a clean stop still lets the workers catch up.
    Nats(Arc<NatsBroker>),
}

/// Side work not yet done: messages in the outboxes (at most `outbox::BATCH` counted per
/// database) and in the broker.
async fn backlog(stores: &[Arc<SqlStore>], broker: &Broker) -> Result<u64, PortError> {
    let mut waiting = broker.lag().await?;
    for store in stores {
        waiting += store.unpublished(crate::outbox::BATCH).await?.len() as u64;
    }
    Ok(waiting)
}

impl Broker {
    /// Messages of `ORDERS_TOPIC` not yet done, over every job's consumer group.
    async fn lag(&self) -> Result<u64, PortError> {
        let mut lag = 0;
        for job in Job::ALL {
            lag += match self {
                Broker::Memory(b) => b.lag(ORDERS_TOPIC, job.group()),
                Broker::Nats(b) => b.lag(ORDERS_TOPIC, job.group()).await?,
            };
        }
        Ok(lag)
    }
}

/// Starts `config.design`: opens the databases (creating and filling new ones), connects to
/// the services it names, starts the workers, the replicas and the balancer, and returns once
/// all of them listen. Fails, naming what could not be set up, before serving anything.
pub async fn start(config: &Config) -> Result<Shop, StartError> {
    let signer = Arc::new(
        CookieSigner::new(&config.session_secret)
            .map_err(StartError::Secret)?
            .secure(config.secure_cookies),
    );
    std::fs::create_dir_all(&config.data_dir).map_err(|error| StartError::DataDir {
        path: config.data_dir.clone(),
        error,
    })?;

    // The database: one, or one per shard behind the shard router.
    let mut stores = Vec::new();
    let mut databases = Vec::new();
    for shard in 0..config.databases() {
        let (url, setup) = config.database(shard)?;
        let kind = if config.postgres_url.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        };
        let store = answers(kind, &url, SqlStore::connect(&url, &setup)).await?;
        stores.push(Arc::new(store));
        databases.push(redact(&url));
    }
    let store: Arc<dyn Store> = match stores.as_slice() {
        [one] => one.clone(),
        shards => {
            let parts = shards.iter().map(|s| s.clone() as Arc<dyn Store>).collect();
            let map = ShardMap::new(config.databases(), Strategy::Hash);
            Arc::new(ShardedStore::new(map, parts))
        }
    };

    let mail_log = config.mail_log();
    let file_mailer = FileMailer::open(&mail_log).map_err(|error| StartError::MailLog {
        path: mail_log.clone(),
        error,
    })?;
    let mailer: Arc<dyn Mailer> = Arc::new(file_mailer);

    // Sessions: the monolith keeps them in its memory; the stateless designs share a store.
    let shared_sessions: Option<Arc<dyn SessionStore>> = match (config.design, &config.redis_url) {
        (Design::Vertical, _) => None,
        (_, Some(url)) => Some(Arc::new(
            answers(
                "Redis",
                url,
                RedisSessions::connect(url, &config.name, SESSION_TTL),
            )
            .await?,
        )),
        // Without Redis, the replicas (all in this process) share one in-memory store: it
        // stands in for the external store, and sessions end with the process.
        (_, None) => Some(Arc::new(InMemorySessions::new(SESSION_TTL))),
    };

    // Side work: inline, or through the broker to one worker task per kind of job.
    let (notify, notices) = mpsc::unbounded_channel();
    let mut workers = Vec::new();
    let mut broker = None;
    let side_work: Arc<dyn SideWork> = if !config.design.queued() {
        Arc::new(Inline {
            store: store.clone(),
            mailer: mailer.clone(),
        })
    } else {
        let publisher: Arc<dyn Publisher> = match &config.nats_url {
            Some(url) => {
                let nats =
                    Arc::new(answers("NATS", url, NatsBroker::connect(url, &config.name)).await?);
                for job in Job::ALL {
                    let sub =
                        answers("NATS", url, nats.subscribe(ORDERS_TOPIC, job.group())).await?;
                    workers.push(spawn_worker(job, Box::new(sub), &store, &mailer, &notify));
                }
                broker = Some(Broker::Nats(nats.clone()));
                nats
            }
            None => {
                let memory = MemoryBroker::new(MEMORY_PARTITIONS);
                for job in Job::ALL {
                    let sub = memory.subscribe(ORDERS_TOPIC, job.group());
                    workers.push(spawn_worker(job, Box::new(sub), &store, &mailer, &notify));
                }
                broker = Some(Broker::Memory(memory.clone()));
                memory
            }
        };
        // One relay per database, each publishing its own outbox.
        for shard in &stores {
            let (shard, publisher) = (shard.clone(), publisher.clone());
            workers.push(tokio::spawn(async move {
                run_relay(shard.as_ref(), publisher.as_ref()).await
            }));
        }
        Arc::new(Outbox)
    };

    // The storefront: one server, or replicas behind a load balancer.
    let (stop, stopped) = watch::channel(false);
    let balanced = config.design != Design::Vertical;
    let replicas = if balanced { config.replicas.max(1) } else { 1 };
    let mut servers = Vec::new();
    let mut addrs = Vec::new();
    for r in 0..replicas {
        // The balancer takes `port`; replica r the one r+1 after it.
        let port = match (config.port, balanced) {
            (0, _) => 0,
            (p, false) => p,
            (p, true) => u16::try_from(r + 1)
                .ok()
                .and_then(|after| p.checked_add(after))
                .ok_or(StartError::PortsRunOut { port: p, replicas })?,
        };
        let listener = bind(port).await?;
        addrs.push(local_addr(&listener, port)?);
        let sessions = shared_sessions
            .clone()
            .unwrap_or_else(|| Arc::new(InMemorySessions::new(SESSION_TTL)));
        let app = Arc::new(App {
            store: store.clone(),
            sessions,
            payments: Arc::new(FakePayments),
            side_work: side_work.clone(),
            // Each replica draws its own seed from the OS: ids must not repeat across
            // replicas, nor be guessable.
            session_ids: SessionIds::from_seed(OsRng.next_u64()),
            catalog_page_size: CATALOG_PAGE,
        });
        let app = router(app)
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .layer(axum::middleware::from_fn_with_state(
                signer.clone(),
                sign_session_cookies,
            ));
        servers.push(tokio::spawn(serve_replica(listener, app, stopped.clone())));
    }
    let (front, replicas, balancer) = if balanced {
        let listener = bind(config.port).await?;
        let front = local_addr(&listener, config.port)?;
        let task = tokio::spawn(balance(listener, addrs.clone(), stopped));
        (front, addrs, Some(task))
    } else {
        (addrs[0], Vec::new(), None)
    };
    Ok(Shop {
        front,
        replicas,
        databases,
        stop,
        servers,
        balancer,
        workers,
        notices,
        broker,
        stores,
    })
}

/// How long start-up waits for a service to answer. A URL that reaches the wrong kind of
/// service (PostgreSQL's URL at Redis's port) gets no answer a client understands, and some
/// clients wait for one forever; a few seconds is plenty for a service that is there.
pub const ANSWER_LIMIT: Duration = Duration::from_secs(5);

/// `connecting`, given at most [`ANSWER_LIMIT`]; past it, an error naming the service.
async fn answers<T>(
    service: &'static str,
    url: &str,
    connecting: impl std::future::Future<Output = Result<T, ServiceError>>,
) -> Result<T, ServiceError> {
    match tokio::time::timeout(ANSWER_LIMIT, connecting).await {
        Ok(result) => result,
        Err(_) => Err(ServiceError::new(
            service,
            url,
            format!("no answer in {} s", ANSWER_LIMIT.as_secs()),
            format!("Is a {service} server listening there, and not another kind of service?"),
        )),
    }
}

async fn bind(port: u16) -> Result<TcpListener, StartError> {
    TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|error| StartError::Listen { port, error })
}

fn local_addr(listener: &TcpListener, port: u16) -> Result<SocketAddr, StartError> {
    listener
        .local_addr()
        .map_err(|error| StartError::Listen { port, error })
}

/// Serves `app` on every connection `listener` accepts, until `stop` turns true; then stops
/// gracefully: accepts nothing more, lets requests in flight finish (and their orders commit),
/// closes idle connections, and returns once every connection has closed, or after
/// [`SHUTDOWN_LIMIT`], cutting those still open (a client that sent half a request and went
/// quiet would otherwise hold the stop as long as it likes).
///
/// hyper itself, not `axum::serve`: axum's server has no header-read timeout, so a client that
/// never finished its request head held its connection until the stop.
async fn serve_replica(listener: TcpListener, app: axum::Router, mut stop: watch::Receiver<bool>) {
    // Each connection is a task in this set: finished ones are reaped as the loop goes, and
    // dropping the set at the end aborts those still open.
    let mut connections = JoinSet::new();
    let told = stop.clone();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            Some(_) = connections.join_next() => continue,
            _ = stop.wait_for(|&s| s) => break,
        };
        match accepted {
            Ok((stream, _)) => {
                connections.spawn(serve_connection(stream, app.clone(), told.clone()));
            }
            Err(e) => accept_failed(e).await,
        }
    }
    drop(listener);
    let all_closed = async { while connections.join_next().await.is_some() {} };
    let _ = tokio::time::timeout(SHUTDOWN_LIMIT, all_closed).await;
}

/// One client's connection: HTTP/1.1 requests, kept alive between them, each head read within
/// [`HEADER_READ_LIMIT`]; once `stop` turns true, the request in flight is finished and the
/// connection closed.
async fn serve_connection(stream: TcpStream, app: axum::Router, mut stop: watch::Receiver<bool>) {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_LIMIT);
    let connection = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app));
    tokio::pin!(connection);
    // A connection that breaks (client gone, bad HTTP, too slow a head) concerns that client
    // alone: its error is dropped.
    tokio::select! {
        _ = connection.as_mut() => return,
        _ = stop.wait_for(|&s| s) => {}
    }
    connection.as_mut().graceful_shutdown();
    let _ = connection.await;
}

/// What to do when accepting a connection fails. A client that gave up during the handshake
/// concerns only itself: accept the next. Anything else (out of file descriptors, most often)
/// will fail again at once, so wait a moment before trying, rather than spin on a core; open
/// connections closing meanwhile is what frees descriptors.
async fn accept_failed(error: std::io::Error) {
    use std::io::ErrorKind;
    if !matches!(
        error.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    ) {
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// A worker task doing `job` for every order on `subscription`; if the subscription fails
/// for good, it says so through `notify` and ends.
fn spawn_worker(
    job: Job,
    subscription: Box<dyn Subscription>,
    store: &Arc<dyn Store>,
    mailer: &Arc<dyn Mailer>,
    notify: &mpsc::UnboundedSender<Notice>,
) -> JoinHandle<()> {
    let (store, mailer, notify) = (store.clone(), mailer.clone(), notify.clone());
    tokio::spawn(async move {
        let error = run_worker(job, subscription.as_ref(), store.as_ref(), mailer.as_ref()).await;
        // Nobody listening is fine: the shop is being stopped.
        let _ = notify.send(Notice::WorkerStopped { job, error });
    })
}

impl Shop {
    /// The next thing an operator should know about; waits until there is one (forever, if
    /// nothing can happen: a design without workers).
    pub async fn next_notice(&mut self) -> Notice {
        match self.notices.recv().await {
            Some(notice) => notice,
            None => std::future::pending().await,
        }
    }

    /// Stops in the order that loses nothing: stop accepting; let every request in flight
    /// finish (an order is acknowledged only once committed); let the relays and workers
    /// empty the outboxes and the queue (nothing would be lost otherwise, the outboxes keep
    /// what is not done for the next start, but a clean stop leaves nothing behind); then
    /// close the databases.
    pub async fn stop(self) -> Stopped {
        let _ = self.stop.send(true);
        if let Some(b) = self.balancer {
            let _ = b.await;
        }
        for s in self.servers {
            let _ = s.await;
        }
        let mut stopped = Stopped::default();
        if let Some(broker) = &self.broker {
            let deadline = tokio::time::Instant::now() + DRAIN_LIMIT;
            loop {
                match backlog(&self.stores, broker).await {
                    Ok(0) => break,
                    Ok(lag) if tokio::time::Instant::now() > deadline => {
                        stopped.jobs_left = lag;
                        break;
                    }
                    Ok(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                    Err(e) => {
                        stopped.lag_unknown = Some(e);
                        break;
                    }
                }
            }
        }
        for w in &self.workers {
            w.abort();
        }
        for s in &self.stores {
            s.close().await;
        }
        stopped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::{MemoryMailer, MemoryStore};
    use crate::ports::Delivery;
    use async_trait::async_trait;

    /// A subscription whose broker is gone for good.
    struct Gone;

    #[async_trait]
    impl Subscription for Gone {
        async fn poll(&self, _max: usize) -> Result<Vec<Delivery>, PortError> {
            Err(PortError::Unavailable("broker: gone".into()))
        }
        async fn commit(&self, _delivery: &Delivery) -> Result<(), PortError> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_worker_that_loses_its_broker_says_so() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new(demo_catalog(1), 1));
        let mailer: Arc<dyn Mailer> = Arc::new(MemoryMailer::default());
        let (notify, mut notices) = mpsc::unbounded_channel();
        let worker = spawn_worker(Job::ShippingLabel, Box::new(Gone), &store, &mailer, &notify);
        let notice = notices.recv().await.expect("a notice");
        assert_eq!(
            notice.to_string(),
            "worker shipping-labels stopped: unavailable: broker: gone"
        );
        worker.await.expect("the worker ended");
    }
}

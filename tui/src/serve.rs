//! `scalelab serve`: the real world's command line (plain tokio, real sockets).
//!
//! Owns the flags and what they mean: turning them into a deployment's
//! `scalelab_system::real::deploy::Config`, where the session secret comes from (the
//! environment; production mode), the signals that stop the shop, and what an operator reads
//! on the terminal. The deployment itself (which parts make each design, the load balancer,
//! the graceful stop) is `scalelab_system::real::deploy`, in the crate students study.
//!
//! Must not: assemble the shop (that is `deploy`'s), or print a secret: `deploy` hands back
//! service URLs without their passwords, and the session secret is never shown.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use rand::RngCore;
use scalelab_system::real::cookies::MIN_SECRET_BYTES;
use scalelab_system::real::deploy::{self, Config, Shop, Stopped};

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

/// Like `eprintln!`, but a stderr that is gone (`scalelab serve ... 2>&1 | head`, a closed
/// terminal) is no reason to stop: `eprintln!` would panic on the failed write and skip the
/// graceful stop, cutting requests in flight. What cannot be said is dropped.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// The `--design` values; their comments are the help text. `deploy::Design` is what they
/// mean.
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

impl From<Design> for deploy::Design {
    fn from(d: Design) -> deploy::Design {
        match d {
            Design::Vertical => deploy::Design::Vertical,
            Design::Horizontal => deploy::Design::Horizontal,
            Design::Queued => deploy::Design::Queued,
            Design::Sharded => deploy::Design::Sharded,
        }
    }
}

/// The longest `--name`: its PostgreSQL databases' names, `scalelab_<name>_64shards_63` at
/// most, must fit in PostgreSQL's 63 bytes (it would cut them short, and two shops' names
/// could meet).
const MAX_NAME_BYTES: usize = 42;
/// Replicas and shards when the flags are not given (their help text says so too).
const DEFAULT_REPLICAS: u32 = 2;
const DEFAULT_SHARDS: u32 = 4;

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Which design to serve.
    #[arg(long, value_enum, default_value = "vertical")]
    pub design: Design,
    /// The front door's port on 127.0.0.1 (the server, or the load balancer in front of the
    /// replicas, which take the next ports). 0 picks free ports.
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Storefront replicas (horizontal, queued, sharded) [default: 2].
    // An Option, not a default value, so that a flag given to a design it does not apply to
    // can be told from the default, and refused (`check`).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=32))]
    pub replicas: Option<u32>,
    /// Database shards (sharded) [default: 4].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub shards: Option<u32>,
    /// Where the SQLite files and the mail log go.
    #[arg(long, default_value = "scalelab-data")]
    pub data_dir: PathBuf,
    /// The shop's name: it names its PostgreSQL databases and prefixes its NATS streams and
    /// consumer groups and its Redis keys, so that shops can share those servers (1 to 42
    /// letters, digits, - and _). Default: the data directory's name.
    #[arg(long)]
    pub name: Option<String>,
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
    /// Production mode: refuse to start without SCALELAB_SESSION_SECRET, and mark the session
    /// cookie Secure (the shop is then expected behind TLS).
    #[arg(long, env = "SCALELAB_PRODUCTION")]
    pub production: bool,
}

impl ServeArgs {
    /// Refuses flags that the chosen design would silently ignore, saying why: a flag that
    /// does nothing misleads whoever reads the command line.
    pub fn check(&self) -> Result<(), String> {
        let design = format!("{:?}", self.design).to_lowercase();
        if self.replicas.is_some() && self.design == Design::Vertical {
            return Err(
                "--replicas does not apply to the vertical design: it is one server, with no \
                 load balancer in front. Drop it, or choose --design horizontal, queued or \
                 sharded."
                    .into(),
            );
        }
        if self.shards.is_some() && self.design != Design::Sharded {
            return Err(format!(
                "--shards does not apply to the {design} design: it has one database. Drop it, \
                 or choose --design sharded."
            ));
        }
        if self.redis_url.is_some() && self.design == Design::Vertical {
            return Err(
                "--redis-url (or SCALELAB_REDIS_URL) does not apply to the vertical design: its \
                 sessions live in the one server's memory. Drop it, or choose --design \
                 horizontal, queued or sharded."
                    .into(),
            );
        }
        if self.nats_url.is_some() && matches!(self.design, Design::Vertical | Design::Horizontal) {
            return Err(format!(
                "--nats-url (or SCALELAB_NATS_URL) does not apply to the {design} design: its \
                 side work is done inline in checkout. Drop it, or choose --design queued or \
                 sharded."
            ));
        }
        if let Some(name) = &self.name {
            let ok = !name.is_empty()
                && name.len() <= MAX_NAME_BYTES
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !ok {
                return Err(format!(
                    "--name {name:?}: a shop's name is 1 to {MAX_NAME_BYTES} letters, digits, \
                     - and _ (it names its PostgreSQL databases and prefixes its NATS streams \
                     and Redis keys)"
                ));
            }
        }
        if let Some(name) = self.postgres_url.as_deref().and_then(database_in_url) {
            return Err(format!(
                "--postgres-url (or SCALELAB_POSTGRES_URL) names a database ({name}); give the \
                 server only, e.g. postgres://postgres@127.0.0.1:5432: the shop creates and \
                 names its own databases there, after --name (scalelab_<name>, \
                 scalelab_<name>_4shards_0, ...)."
            ));
        }
        Ok(())
    }

    /// `--name`, or the data directory's name with anything but letters, digits, - and _
    /// made `_` (`scalelab-data` by default).
    fn name(&self) -> String {
        self.name.clone().unwrap_or_else(|| {
            let dir = self
                .data_dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let name: String = dir
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            if name.is_empty() {
                "scalelab".into()
            } else {
                name
            }
        })
    }

    /// The deployment these flags ask for, signing cookies with `session_secret`.
    fn config(&self, session_secret: Vec<u8>) -> Config {
        Config {
            design: self.design.into(),
            name: self.name(),
            port: self.port,
            replicas: self.replicas.unwrap_or(DEFAULT_REPLICAS),
            shards: self.shards.unwrap_or(DEFAULT_SHARDS),
            data_dir: self.data_dir.clone(),
            postgres_url: self.postgres_url.clone(),
            redis_url: self.redis_url.clone(),
            nats_url: self.nats_url.clone(),
            products: self.products,
            stock: self.stock,
            session_secret,
            secure_cookies: self.production,
        }
    }
}

/// The database a PostgreSQL URL names in its path, if any (`postgres://host:5432/shop` ->
/// `shop`). Only the name is returned: the URL may hold a password.
fn database_in_url(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = rest.split_once('/').map(|(_, path)| path)?;
    let name = path.split(['?', '#']).next().unwrap_or("");
    (!name.is_empty()).then(|| name.to_owned())
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let args = match cli.command {
        Command::Serve(args) => args,
        Command::Other(words) => {
            say!(
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
            say!("error: cannot start the tokio runtime: {e}");
            return ExitCode::from(crate::EXIT_INTERNAL);
        }
    };
    if let Err(e) = args.check() {
        say!("error: {e}");
        return ExitCode::from(crate::EXIT_BAD_INPUT);
    }
    runtime.block_on(async move {
        let secret = match session_secret(&args) {
            Ok(s) => s,
            Err(e) => {
                say!("error: {e}");
                return ExitCode::from(crate::EXIT_BAD_INPUT);
            }
        };
        let mut shop = match deploy::start(&args.config(secret)).await {
            Ok(shop) => shop,
            Err(e) => {
                say!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        announce(&shop, args.design);
        say!("Ctrl-C or SIGTERM stops it without losing an acknowledged order.");
        let stop = stop_signal();
        tokio::pin!(stop);
        loop {
            tokio::select! {
                () = &mut stop => break,
                notice = shop.next_notice() => say!("{notice}"),
            }
        }
        say!("stopping: no new connections; finishing requests in flight ...");
        warn_about(&shop.stop().await);
        say!("stopped.");
        ExitCode::SUCCESS
    })
}

/// Where the shop is: its databases, its replicas, and the front door (the line tests and
/// scripts look for starts with `scalelab serve:`).
fn announce(shop: &Shop, design: Design) {
    for (shard, url) in shop.databases.iter().enumerate() {
        say!("  shard {shard}: {url}");
    }
    for (r, addr) in shop.replicas.iter().enumerate() {
        say!("  replica {r} on http://{addr}");
    }
    say!(
        "scalelab serve: {design:?} design on http://{} — try: curl http://{}/products",
        shop.front,
        shop.front
    );
}

/// What the stop could not finish, if anything.
fn warn_about(stopped: &Stopped) {
    if let Some(e) = &stopped.lag_unknown {
        say!("warning: cannot read NATS consumer lag ({e}); not waiting for side work");
    }
    if stopped.jobs_left > 0 {
        say!(
            "warning: {} side-work jobs were still queued after 30 s",
            stopped.jobs_left
        );
    }
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
            say!(
                "note: no SCALELAB_SESSION_SECRET: session cookies are signed with a random \
                 secret, so sessions end when the server stops"
            );
            let mut secret = vec![0u8; MIN_SECRET_BYTES];
            rand::rngs::OsRng.fill_bytes(&mut secret);
            Ok(secret)
        }
    }
}

#[cfg(test)]
mod tests {
    //! The command line's own part. The deployment's tests (every design over HTTP, the
    //! graceful stop, the services) are in `system/tests/deploy.rs`, with the code.

    use super::*;

    fn args(design: Design) -> ServeArgs {
        ServeArgs {
            design,
            port: 0,
            replicas: None,
            shards: None,
            data_dir: PathBuf::from("scalelab-data"),
            name: None,
            postgres_url: None,
            redis_url: None,
            nats_url: Some("nats://user:hunter2@127.0.0.1:4222".into()),
            products: 10,
            stock: 300,
            production: false,
        }
    }

    #[test]
    fn production_mode_needs_a_secret() {
        let mut a = args(Design::Vertical);
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

    #[test]
    fn flags_that_do_not_apply_to_the_design_are_refused() {
        let mut a = args(Design::Vertical);
        a.nats_url = None;
        assert_eq!(a.check(), Ok(()));
        a.redis_url = Some("redis://127.0.0.1:6379".into());
        let e = a.check().expect_err("redis on the vertical design");
        assert!(
            e.contains("--redis-url") && e.contains("vertical design"),
            "{e}"
        );
        // --replicas and --shards, given to a design that has no replicas or no shards.
        let mut a = args(Design::Vertical);
        a.nats_url = None;
        a.replicas = Some(3);
        let e = a.check().expect_err("replicas on the vertical design");
        assert!(
            e.starts_with("--replicas does not apply to the vertical design"),
            "{e}"
        );
        for design in [Design::Vertical, Design::Horizontal, Design::Queued] {
            let mut a = args(design);
            a.nats_url = None;
            a.shards = Some(4);
            let e = a.check().expect_err("shards on a design with one database");
            assert!(
                e.starts_with("--shards does not apply to the"),
                "{design:?}: {e}"
            );
            assert!(e.contains("--design sharded"), "{design:?}: {e}");
        }
        let mut a = args(Design::Sharded);
        (a.replicas, a.shards) = (Some(3), Some(4));
        assert_eq!(a.check(), Ok(()), "both are for the sharded design");
        let mut a = args(Design::Horizontal);
        let e = a.check().expect_err("nats on the horizontal design");
        assert!(
            e.contains("--nats-url") && e.contains("horizontal design"),
            "{e}"
        );
        a.nats_url = None;
        a.redis_url = Some("redis://127.0.0.1:6379".into());
        assert_eq!(a.check(), Ok(()), "redis is for the horizontal design");
        let mut a = args(Design::Queued);
        assert_eq!(a.check(), Ok(()), "nats is for the queued design");
        for (url, name) in [
            ("postgres://u:hunter2@127.0.0.1:5432/shop", Some("shop")),
            (
                "postgres://127.0.0.1:5432/shop?sslmode=disable",
                Some("shop"),
            ),
            ("postgres://postgres@127.0.0.1:5432", None),
            ("postgres://postgres@127.0.0.1:5432/", None),
        ] {
            a.postgres_url = Some(url.into());
            match (a.check(), name) {
                (Ok(()), None) => {}
                (Err(e), Some(name)) => {
                    assert!(e.contains(&format!("names a database ({name})")), "{e}");
                    assert!(!e.contains("hunter2"), "{e}");
                }
                (got, _) => panic!("{url}: {got:?}"),
            }
        }
    }

    #[test]
    fn the_flags_become_the_deployment_they_name() {
        let secret = vec![7u8; 32];
        let mut sharded = args(Design::Sharded);
        sharded.shards = Some(3);
        let config = sharded.config(secret.clone());
        assert_eq!(config.design, deploy::Design::Sharded);
        assert_eq!(
            (
                config.port,
                config.replicas,
                config.shards,
                config.products,
                config.stock
            ),
            (0, 2, 3, 10, 300),
            "two replicas unless told"
        );
        let config = args(Design::Sharded).config(secret.clone());
        assert_eq!((config.replicas, config.shards), (2, 4), "the defaults");
        assert_eq!(config.session_secret, secret);
        assert_eq!(
            config.name, "scalelab-data",
            "named after its data directory"
        );
        let mut named = args(Design::Sharded);
        named.name = Some("shop_b".into());
        assert_eq!(named.config(secret.clone()).name, "shop_b");
        named.name = Some("shop.b".into());
        assert!(named.check().is_err_and(|e| e.contains("--name")), "a dot");
        assert!(!config.secure_cookies, "plain cookies outside production");
        let mut production = args(Design::Sharded);
        production.production = true;
        assert!(
            production.config(secret.clone()).secure_cookies,
            "Secure in production"
        );
        assert_eq!(sharded.config(secret.clone()).databases(), 3);
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        for (flag, design) in [
            (Design::Vertical, deploy::Design::Vertical),
            (Design::Horizontal, deploy::Design::Horizontal),
            (Design::Queued, deploy::Design::Queued),
            (Design::Sharded, deploy::Design::Sharded),
        ] {
            assert_eq!(deploy::Design::from(flag), design);
            // The announcement names the design as the flag does.
            assert_eq!(format!("{flag:?}"), format!("{design:?}"));
        }
    }
}

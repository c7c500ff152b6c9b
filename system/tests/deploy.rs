//! The real deployment (`scalelab_system::real::deploy`): every design served for real on
//! loopback ports with the embedded defaults (SQLite files in a temporary directory,
//! in-process sessions and broker, the mail log), driven over HTTP; orders on their
//! customer's shard; forged cookies and big bodies refused; a stop under load that loses no
//! acknowledged order; and the whole stack on PostgreSQL, Redis and NATS when their
//! `SCALELAB_TEST_*_URL`s are set (otherwise that test says SKIPPED and passes).
//!
//! Real world only: the deployment needs real sockets and the real adapters.
#![cfg(not(madsim))]

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use scalelab_system::api::{AddItem, Call, Login, Receipt};
use scalelab_system::model::Order;
use scalelab_system::ports::Store;
use scalelab_system::real::deploy::{self, Config, Design, MAX_BODY_BYTES};
use scalelab_system::real::sql::{drop_postgres_database, SqlStore};
use scalelab_system::shard::{ShardMap, Strategy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn config(design: Design, dir: &Path) -> Config {
    Config {
        design,
        name: "scalelab".into(),
        port: 0,
        replicas: 2,
        shards: 3,
        data_dir: dir.to_owned(),
        postgres_url: None,
        redis_url: None,
        nats_url: None,
        products: 10,
        stock: 300,
        session_secret: vec![1u8; 32],
        secure_cookies: false,
    }
}

struct Reply {
    status: u16,
    cookie: Option<String>,
    /// The whole Set-Cookie header, attributes included.
    set_cookie: Option<String>,
    body: String,
}

/// One HTTP/1.1 request on its own connection, written out by hand so that nothing between
/// this test and the shop (no client library) decides what goes on the wire.
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
    let set_cookie = head
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .map(str::to_owned);
    let cookie = set_cookie
        .as_deref()
        .and_then(|c| c.split(';').next())
        .map(str::to_owned);
    Reply {
        status,
        cookie,
        set_cookie,
        body: body.to_owned(),
    }
}

/// `call` as the API builds it.
async fn send(front: SocketAddr, call: Call, cookie: Option<&str>) -> Reply {
    let body = call
        .body()
        .map(String::from_utf8)
        .transpose()
        .expect("utf-8");
    let method = call.method();
    http(
        front,
        method.as_str(),
        &call.path(),
        body.as_deref().unwrap_or(""),
        cookie,
    )
    .await
}

fn login(customer: u64) -> Call {
    Call::Login(Login {
        customer_id: customer,
    })
}

fn add(quantity: u32) -> Call {
    Call::AddToCart(AddItem {
        product_id: 3,
        quantity,
    })
}

/// Logs in as `customer`, buys two of product 3, and returns the order id.
async fn buy(front: SocketAddr, customer: u64) -> u64 {
    let login = send(front, login(customer), None).await;
    assert_eq!(login.status, 200, "{}", login.body);
    let cookie = login.cookie.expect("a session cookie");
    let added = send(front, add(2), Some(&cookie)).await;
    assert_eq!(added.status, 200, "{}", added.body);
    let checkout = send(front, Call::Checkout, Some(&cookie)).await;
    assert_eq!(checkout.status, 201, "{}", checkout.body);
    let receipt: Receipt = serde_json::from_str(&checkout.body).expect("a receipt");
    receipt.order_id
}

/// The order ids in the mail log, one per confirmation written.
fn mailed_orders(config: &Config) -> Vec<u64> {
    std::fs::read_to_string(config.mail_log())
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["order_id"].as_u64())
        .collect()
}

/// Database `shard` of `config`'s shop, opened on its own, as an operator would.
async fn open_shard(config: &Config, shard: u32) -> SqlStore {
    let (url, setup) = config.database(shard).expect("the shard's URL");
    SqlStore::connect(&url, &setup).await.expect("open shard")
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
        let c = config(design, dir.path());
        let shop = deploy::start(&c).await.expect("start");
        let front = shop.front;
        assert_eq!(
            shop.replicas.len(),
            if design == Design::Vertical { 0 } else { 2 },
            "{design:?}: replicas behind a balancer"
        );
        assert_eq!(shop.databases.len() as u32, c.databases(), "{design:?}");
        assert_eq!(send(front, Call::Health, None).await.status, 200);
        let mut orders: Vec<u64> = Vec::new();
        for customer in 1..=6 {
            orders.push(buy(front, customer).await);
        }
        let stopped = shop.stop().await;
        assert_eq!(
            stopped,
            deploy::Stopped::default(),
            "{design:?}: a clean stop"
        );
        // Stopping drained the side work: every acknowledged order got its email.
        let mut mailed = mailed_orders(&c);
        mailed.sort_unstable();
        orders.sort_unstable();
        assert_eq!(mailed, orders, "{design:?}: one confirmation per order");
    }
}

/// Starts `c`'s shop, and checks out several carts, each by four clicks at once on four
/// connections (behind the balancer, on both replicas): one order per cart, and one payment (the
/// other clicks are told it was already checked out as that order, or find the cart empty).
async fn double_clicks_place_one_order(c: &Config) {
    let design = c.design;
    let shop = deploy::start(c).await.expect("start");
    let front = shop.front;
    for customer in 1..=5 {
        let login = send(front, login(customer), None).await;
        let cookie = login.cookie.expect("a session cookie");
        assert_eq!(send(front, add(1), Some(&cookie)).await.status, 200);
        let clicks: Vec<_> = (0..4)
            .map(|_| {
                let cookie = cookie.clone();
                tokio::spawn(async move { send(front, Call::Checkout, Some(&cookie)).await })
            })
            .collect();
        let mut placed = Vec::new();
        let mut told = Vec::new();
        for click in clicks {
            let reply = click.await.expect("the click's task");
            match reply.status {
                201 => placed.push(
                    serde_json::from_str::<Receipt>(&reply.body)
                        .expect("a receipt")
                        .order_id,
                ),
                409 => told.push(reply.body),
                // A click that came after the first had finished: the cart is empty.
                400 => assert!(reply.body.contains("the cart is empty"), "{}", reply.body),
                other => panic!("{design:?}: a click got {other}: {}", reply.body),
            }
        }
        let [order] = placed[..] else {
            panic!("{design:?}: customer {customer}'s cart bought {placed:?}");
        };
        // The same payment (one idempotency key per checkout of the session) found the order.
        let already = format!("already checked out as order {order}");
        for body in told {
            assert!(body.contains(&already), "{design:?}: {body}");
        }
    }
    let stopped = shop.stop().await;
    assert_eq!(stopped, deploy::Stopped::default(), "{design:?}");
    let mut payments = BTreeSet::new();
    let mut orders = 0;
    for shard in 0..c.databases() {
        let store = open_shard(c, shard).await;
        for customer in 1..=5 {
            for order in store.orders_for(customer).await.expect("history") {
                orders += 1;
                payments.insert(order.payment_ref);
            }
        }
        store.close().await;
    }
    assert_eq!(orders, 5, "{design:?}: one order per cart in the databases");
    assert_eq!(payments.len(), 5, "{design:?}: one payment per order");
    assert_eq!(mailed_orders(c).len(), 5, "{design:?}: one email per order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_double_click_places_one_order_in_every_design() {
    for design in [
        Design::Vertical,
        Design::Horizontal,
        Design::Queued,
        Design::Sharded,
    ] {
        let dir = tempfile::tempdir().expect("temp dir");
        double_clicks_place_one_order(&config(design, dir.path())).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_double_click_places_one_order_with_the_sessions_in_redis() {
    // The clicks reach different replicas, which read and write the session in Redis, over the
    // network, instead of one store in this process.
    let test = "a_double_click_places_one_order_with_the_sessions_in_redis";
    let Some(redis) = service_url("SCALELAB_TEST_REDIS_URL", test) else {
        return;
    };
    for design in [Design::Horizontal, Design::Queued] {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut c = config(design, dir.path());
        c.redis_url = Some(redis.clone());
        // Redis keys of this run's own: customers 1 to 5 of another run are other sessions.
        c.name = run_name(&format!("double_click_{design:?}"));
        double_clicks_place_one_order(&c).await;
    }
}

/// A shop name no other run uses: `what`, this process and the time.
fn run_name(what: &str) -> String {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |t| t.as_millis());
    format!("{what}_{}_{millis}", std::process::id())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_cookies_are_secure_in_production() {
    for secure in [false, true] {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut c = config(Design::Horizontal, dir.path());
        c.secure_cookies = secure;
        let shop = deploy::start(&c).await.expect("start");
        let login = http(shop.front, "POST", "/login", r#"{"customer_id":1}"#, None).await;
        assert_eq!(login.status, 200, "{}", login.body);
        let set = login.set_cookie.expect("a session cookie");
        assert_eq!(set.contains("; Secure"), secure, "{set}");
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Lax"),
            "{set}"
        );
        shop.stop().await;
    }
}

/// A TCP port that accepts connections and never says a word: what a client sees when its URL
/// reaches the wrong kind of service (each waits for the other to speak first).
async fn silent_service() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_url_that_reaches_the_wrong_service_fails_the_start_in_seconds_naming_it() {
    let silent = silent_service().await;
    for (service, design) in [
        ("PostgreSQL", Design::Vertical),
        ("Redis", Design::Horizontal),
        ("NATS", Design::Queued),
    ] {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut c = config(design, dir.path());
        match service {
            "PostgreSQL" => c.postgres_url = Some(format!("postgres://u:hunter2@{silent}")),
            "Redis" => c.redis_url = Some(format!("redis://:hunter2@{silent}")),
            _ => c.nats_url = Some(format!("nats://u:hunter2@{silent}")),
        }
        let started = std::time::Instant::now();
        let outcome = tokio::time::timeout(Duration::from_secs(30), deploy::start(&c)).await;
        let Ok(Err(e)) = outcome else {
            panic!("{service}: the start did not fail within 30 s");
        };
        let e = e.to_string();
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{service}: {e}"
        );
        assert!(e.starts_with(service), "{service}: {e}");
        assert!(e.contains("no answer"), "{service}: {e}");
        assert!(!e.contains("hunter2"), "{service}: {e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_open_connection_does_not_hold_the_stop_for_long() {
    // A client that sends half a request head and then nothing: the stop must not wait for it
    // for as long as it likes.
    for design in [Design::Vertical, Design::Horizontal] {
        let dir = tempfile::tempdir().expect("temp dir");
        let shop = deploy::start(&config(design, dir.path()))
            .await
            .expect("start");
        let mut stream = TcpStream::connect(shop.front).await.expect("connect");
        stream
            .write_all(b"GET /products HTTP/1.1\r\nHost: sh")
            .await
            .expect("send half a head");
        tokio::time::sleep(Duration::from_millis(200)).await;
        let started = std::time::Instant::now();
        let stopped = tokio::time::timeout(Duration::from_secs(40), shop.stop()).await;
        assert!(
            stopped.is_ok(),
            "{design:?}: the stop still waited after 40 s"
        );
        assert!(
            started.elapsed() <= deploy::SHUTDOWN_LIMIT + Duration::from_secs(5),
            "{design:?}: stopped after {:?}",
            started.elapsed()
        );
        drop(stream);
    }
}

/// Waits for the shop to close `stream` (the read ends, in error or at the end of the stream,
/// or with a 408) for at most `limit` after `since`; what the shop did, or `None` if the
/// connection was still open then.
async fn closed_within(stream: &mut TcpStream, since: Instant, limit: Duration) -> Option<String> {
    let mut got = Vec::new();
    let mut buf = [0u8; 512];
    loop {
        let left = limit.checked_sub(since.elapsed())?;
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) => {
                return Some(format!(
                    "closed, having said {:?}",
                    String::from_utf8_lossy(&got)
                ))
            }
            Ok(Err(e)) => return Some(format!("closed: {e}")),
            Ok(Ok(n)) => {
                got.extend_from_slice(&buf[..n]);
                if got.starts_with(b"HTTP/1.1 408") {
                    return Some("408".into());
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_finishes_its_request_head_is_cut_off() {
    // A slowloris: a head without its last blank line, then silence; and a client that says
    // nothing at all. Each must lose its connection once HEADER_READ_LIMIT has passed (not
    // hold it until the stop), directly and through the balancer, and the shop must go on
    // serving everyone else.
    let slack = Duration::from_secs(3);
    for design in [Design::Vertical, Design::Horizontal] {
        let dir = tempfile::tempdir().expect("temp dir");
        let shop = deploy::start(&config(design, dir.path()))
            .await
            .expect("start");
        let mut half = TcpStream::connect(shop.front).await.expect("connect");
        let mut mute = TcpStream::connect(shop.front).await.expect("connect");
        let since = Instant::now();
        half.write_all(b"GET /products HTTP/1.1\r\nHost: x\r\n")
            .await
            .expect("send all but the head's end");
        for (what, stream) in [("half a head", &mut half), ("nothing", &mut mute)] {
            let Some(how) = closed_within(stream, since, deploy::HEADER_READ_LIMIT + slack).await
            else {
                panic!(
                    "{design:?}: a client that sent {what} still had its connection after {:?}",
                    deploy::HEADER_READ_LIMIT + slack
                );
            };
            // Cut by the limit, not at once: a real client gets the time it was promised.
            assert!(
                since.elapsed() + Duration::from_millis(500) >= deploy::HEADER_READ_LIMIT,
                "{design:?}: a client that sent {what} was cut after {:?} ({how})",
                since.elapsed()
            );
        }
        let products = http(shop.front, "GET", "/products", "", None).await;
        assert_eq!(products.status, 200, "{design:?}: {}", products.body);
        shop.stop().await;
    }
}

#[test]
fn sharded_stock_adds_up_to_the_stock_configured() {
    // 3 units over 4 shards used to be 1 on each: 4 sold of a stock of 3.
    let dir = tempfile::tempdir().expect("temp dir");
    let mut c = config(Design::Sharded, dir.path());
    for (stock, shards) in [(3, 4), (300, 3), (10, 4)] {
        c.stock = stock;
        c.shards = shards;
        let total: u32 = (0..shards)
            .map(|i| c.database(i).expect("a shard").1.stock)
            .sum();
        assert_eq!(total, stock, "{stock} units over {shards} shards");
    }
}

#[test]
fn shops_sharing_a_postgresql_server_have_databases_of_their_own() {
    // Two shops under one database would share one outbox: each relay would publish the
    // other's orders to its own broker. Their names keep them apart, as on NATS and Redis.
    let dir = tempfile::tempdir().expect("temp dir");
    let mut c = config(Design::Sharded, dir.path());
    c.postgres_url = Some("postgres://u:hunter2@127.0.0.1:5432".into());
    let urls = |c: &Config| -> Vec<String> {
        (0..c.databases())
            .map(|i| c.database(i).expect("a database").0)
            .collect()
    };
    c.name = "shop-a".into();
    assert_eq!(
        urls(&c),
        (0..3)
            .map(|i| format!("postgres://u:hunter2@127.0.0.1:5432/scalelab_shop-a_3shards_{i}"))
            .collect::<Vec<_>>()
    );
    let mut one = c.clone();
    one.design = Design::Queued;
    assert_eq!(
        urls(&one),
        ["postgres://u:hunter2@127.0.0.1:5432/scalelab_shop-a"]
    );
    let mut b = c.clone();
    b.name = "shop_b".into();
    assert!(
        urls(&b).iter().all(|u| !urls(&c).contains(u)),
        "{:?}",
        urls(&b)
    );
    // PostgreSQL would cut a longer name short, and two shops' names could meet there.
    b.name = "b".repeat(60);
    let e = b.database(0).expect_err("too long a name").to_string();
    assert!(e.contains("longer than PostgreSQL's 63 bytes"), "{e}");
    assert!(!e.contains("hunter2"), "{e}");
    // SQLite files stay in the shop's own data directory, under the names they always had.
    b.postgres_url = None;
    let (url, _) = b.database(2).expect("a file");
    assert!(url.ends_with("scalelab_3shards_2.db?mode=rwc"), "{url}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sharded_orders_land_on_their_customers_shard() {
    let dir = tempfile::tempdir().expect("temp dir");
    let c = config(Design::Sharded, dir.path());
    let shop = deploy::start(&c).await.expect("start");
    for customer in 1..=12 {
        buy(shop.front, customer).await;
    }
    shop.stop().await;
    // Reopen each shard's file on its own and look at who is there.
    let map = ShardMap::new(c.shards, Strategy::Hash);
    let mut shards_used = BTreeSet::new();
    for shard in 0..c.shards {
        let store = open_shard(&c, shard).await;
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
    let shop = deploy::start(&config(Design::Vertical, dir.path()))
        .await
        .expect("start");
    let front = shop.front;
    let login = send(front, login(5), None).await;
    let cookie = login.cookie.expect("cookie");
    let (name_id, signature) = cookie.rsplit_once('.').expect("a signed cookie");
    assert_eq!(signature.len(), 64, "an HMAC-SHA256 in hex");
    let orders =
        |cookie: String| async move { send(front, Call::OrderHistory, Some(&cookie)).await.status };
    assert_eq!(orders(cookie.clone()).await, 200);
    // The bare id, or the id with another signature, is not a session.
    assert_eq!(orders(name_id.to_owned()).await, 401);
    assert_eq!(orders(format!("{name_id}.{}", "0".repeat(64))).await, 401);
    let huge = format!(
        r#"{{"customer_id":5,"x":"{}"}}"#,
        "a".repeat(MAX_BODY_BYTES)
    );
    assert_eq!(http(front, "POST", "/login", &huge, None).await.status, 413);
    shop.stop().await;
}

/// Sends a POST with a `bytes`-long body, reading the answer while it sends (as curl does):
/// the status line it got, or what went wrong.
async fn post_big(front: SocketAddr, bytes: usize) -> Result<String, String> {
    let stream = TcpStream::connect(front).await.map_err(|e| e.to_string())?;
    let (mut read, mut write) = stream.into_split();
    let head = format!(
        "POST /login HTTP/1.1\r\nHost: shop\r\nContent-Type: application/json\r\n\
         Content-Length: {bytes}\r\n\r\n"
    );
    let sending = async move {
        write.write_all(head.as_bytes()).await?;
        let chunk = vec![b'a'; 64 * 1024];
        let mut left = bytes;
        while left > 0 {
            let n = left.min(chunk.len());
            write.write_all(&chunk[..n]).await?;
            left -= n;
        }
        Ok::<(), std::io::Error>(())
    };
    let sender = tokio::spawn(sending);
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    let got = loop {
        match read.read(&mut buf).await {
            Ok(0) => break Ok(()),
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) => break Err(e.to_string()),
        }
        if answer.windows(4).any(|w| w == b"\r\n\r\n") {
            break Ok(());
        }
    };
    sender.abort();
    let text = String::from_utf8_lossy(&answer).into_owned();
    match (got, text.lines().next()) {
        (_, Some(status)) if !status.is_empty() => Ok(status.to_owned()),
        (Err(e), _) => Err(e),
        (Ok(()), _) => Err("closed without an answer".into()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_too_big_gets_413_directly_and_through_the_balancer() {
    for design in [Design::Vertical, Design::Horizontal] {
        let dir = tempfile::tempdir().expect("temp dir");
        let shop = deploy::start(&config(design, dir.path()))
            .await
            .expect("start");
        let answer = post_big(shop.front, 10 * 1024 * 1024).await;
        assert_eq!(
            answer.as_deref().map(|s| s.starts_with("HTTP/1.1 413")),
            Ok(true),
            "{design:?}: {answer:?}"
        );
        shop.stop().await;
    }
}

/// Like `buy`, but for a shop that may be stopping: `None` once it stops answering.
async fn try_buy(front: SocketAddr, customer: u64) -> Option<u64> {
    let attempt = async move {
        let cookie = send(front, login(customer), None).await.cookie?;
        send(front, add(1), Some(&cookie)).await;
        let checkout = send(front, Call::Checkout, Some(&cookie)).await;
        let receipt: Receipt = serde_json::from_str(&checkout.body).ok()?;
        (checkout.status == 201).then_some(receipt.order_id)
    };
    // `http` panics when it cannot connect; run it where a panic is just "no".
    tokio::spawn(attempt).await.ok().flatten()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_under_load_loses_no_acknowledged_order() {
    let dir = tempfile::tempdir().expect("temp dir");
    let c = config(Design::Queued, dir.path());
    let shop = deploy::start(&c).await.expect("start");
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
    let store = open_shard(&c, 0).await;
    let mailed = mailed_orders(&c);
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

#[tokio::test]
async fn a_port_taken_or_a_short_secret_stops_the_start_and_says_why() {
    let dir = tempfile::tempdir().expect("temp dir");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let mut c = config(Design::Vertical, dir.path());
    c.port = port;
    let e = deploy::start(&c).await.err().expect("the port is taken");
    assert!(
        e.to_string()
            .starts_with(&format!("cannot listen on 127.0.0.1:{port}: ")),
        "{e}"
    );
    let mut c = config(Design::Vertical, dir.path());
    c.session_secret = b"short".to_vec();
    let e = deploy::start(&c).await.err().expect("the secret is short");
    assert!(e.to_string().contains("at least 32 bytes"), "{e}");
    let mut c = config(Design::Horizontal, dir.path());
    c.port = u16::MAX;
    let e = deploy::start(&c).await.err().expect("no ports after 65535");
    assert!(e.to_string().contains("too high for 2 replicas"), "{e}");
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
            skipped(
                test,
                "SCALELAB_TEST_POSTGRES_URL, SCALELAB_TEST_REDIS_URL and SCALELAB_TEST_NATS_URL",
            );
            None
        }
    }
}

/// The URL in the environment variable `var`, or `None` (saying so) when it is not set.
fn service_url(var: &str, test: &str) -> Option<String> {
    let url = std::env::var(var).ok().filter(|u| !u.is_empty());
    if url.is_none() {
        skipped(test, var);
    }
    url
}

fn skipped(test: &str, vars: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: set {vars} to run it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_shops_on_one_nats_server_keep_to_their_own_side_work() {
    let Some((_, _, nats)) = services("two_shops_on_one_nats_server_keep_to_their_own_side_work")
    else {
        return;
    };
    // Names of this run's own, so that old streams of earlier runs play no part.
    let run = std::process::id();
    let (dir_a, dir_b) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let mut a = config(Design::Queued, dir_a.path());
    let mut b = config(Design::Queued, dir_b.path());
    a.name = format!("shop_a_{run}");
    b.name = format!("shop_b_{run}");
    a.nats_url = Some(nats.clone());
    b.nats_url = Some(nats);
    let (shop_a, shop_b) = (
        deploy::start(&a).await.expect("start a"),
        deploy::start(&b).await.expect("start b"),
    );
    let mut orders = Vec::new();
    for customer in 1..=12 {
        orders.push(buy(shop_a.front, customer).await);
    }
    shop_a.stop().await;
    shop_b.stop().await;
    let (mut mailed_a, mailed_b) = (mailed_orders(&a), mailed_orders(&b));
    assert!(
        mailed_b.is_empty(),
        "shop b did shop a's side work: {mailed_b:?}"
    );
    mailed_a.sort_unstable();
    mailed_a.dedup();
    orders.sort_unstable();
    assert_eq!(mailed_a, orders, "shop a did all of its own");
}

/// The whole real stack: PostgreSQL shards, Redis sessions, NATS JetStream side work.
/// The databases and the stream outlive a run (as a real shop's do), so this looks only
/// at the orders it placed itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sharded_on_the_services_places_orders_on_their_shard_and_confirms_through_nats() {
    let Some((pg, redis, nats)) =
        services("sharded_on_the_services_places_orders_on_their_shard_and_confirms_through_nats")
    else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let mut c = config(Design::Sharded, dir.path());
    // Shard databases of their own (a shard count no one else uses), dropped first so
    // that stock and order ids start afresh on every run.
    c.shards = 5;
    c.postgres_url = Some(pg);
    c.redis_url = Some(redis);
    c.nats_url = Some(nats);
    for shard in 0..c.shards {
        let (url, _) = c.database(shard).expect("url");
        drop_postgres_database(&url)
            .await
            .expect("drop an old shard database");
    }
    let shop = deploy::start(&c).await.expect("start on the services");
    let mut placed = Vec::new();
    for customer in 101..=106u64 {
        placed.push((customer, buy(shop.front, customer).await));
    }
    let stopped = shop.stop().await;
    assert_eq!(stopped, deploy::Stopped::default(), "a clean stop");
    let map = ShardMap::new(c.shards, Strategy::Hash);
    for &(customer, id) in &placed {
        let shard = map.shard_for(customer);
        let store = open_shard(&c, shard).await;
        let orders = store.orders_for(customer).await.expect("orders");
        assert!(
            orders.iter().any(|o| o.id == id),
            "order {id} of customer {customer} is on shard {shard}"
        );
        store.close().await;
    }
    // The workers read the orders from NATS and mailed each one before the stop ended.
    let mailed = mailed_orders(&c);
    for (_, id) in &placed {
        assert!(mailed.contains(id), "order {id} was confirmed: {mailed:?}");
    }
}

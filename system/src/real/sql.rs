//! The `Store` port on a SQL database through sqlx: a SQLite file (the embedded default, one
//! file per shard) or a PostgreSQL database (one database per shard), chosen by URL.
//!
//! One code path serves both, through sqlx's `Any` driver: the statements below are written in
//! the SQL the two share (`$1` placeholders, `ON CONFLICT DO NOTHING`, `RETURNING`), and only
//! the table definitions differ (`sql/sqlite.sql`, `sql/postgres.sql`). Every value reaches the
//! database as a bound parameter, never spliced into the SQL text. (The one exception is
//! `CREATE DATABASE`, which cannot take parameters: its name is checked to be plain letters,
//! digits and underscores first.)
//!
//! Must not: hold state outside the database. Two servers on the same database must see the
//! same shop.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Row};

use super::ServiceError;
use crate::model::{
    CustomerId, Line, NewOrder, Order, OrderId, Placement, Product, ProductId, ProductPage,
    SalesReport, Settlement,
};
use crate::ports::{PortError, Store};

/// The schema versions, oldest first, per database. Applied in order at connect, each in its
/// own transaction, and recorded in `scalelab_migrations` so that each runs once.
/// (sqlx's `migrate!` would do the same but needs sqlx's macros, a heavy build for two files.)
const SQLITE_MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("sql/sqlite.sql")),
    (2, include_str!("sql/sqlite-2.sql")),
    (3, include_str!("sql/sqlite-3.sql")),
    (4, include_str!("sql/sqlite-4.sql")),
];
const POSTGRES_MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("sql/postgres.sql")),
    (2, include_str!("sql/postgres-2.sql")),
    (3, include_str!("sql/postgres-3.sql")),
    (4, include_str!("sql/postgres-4.sql")),
];

/// How a shard is set up the first time it is used.
#[derive(Debug, Clone)]
pub struct ShardSetup {
    /// The catalog to load into a new shard (an existing shard keeps what it has).
    pub catalog: Vec<Product>,
    /// Units of each product a new shard gets: its share of the stock.
    pub stock: u32,
    /// Order ids `first_order_id`, `+ order_id_step`, ...: shard `i` of `n` uses `i + 1` and
    /// `n`, so that ids never collide across shards.
    pub first_order_id: OrderId,
    pub order_id_step: OrderId,
    /// Most connections the pool opens to this database.
    pub max_connections: u32,
}

/// Orders and inventory in a SQL database.
pub struct SqlStore {
    pool: AnyPool,
    first_order_id: i64,
    order_id_step: i64,
}

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Sqlite,
    Postgres,
}

impl Kind {
    fn of(url: &str) -> Option<Kind> {
        if url.starts_with("sqlite:") {
            Some(Kind::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Kind::Postgres)
        } else {
            None
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Sqlite => "SQLite",
            Kind::Postgres => "PostgreSQL",
        }
    }
}

/// The URL of database `database` on the PostgreSQL server of `server_url`.
pub fn postgres_database_url(server_url: &str, database: &str) -> Result<String, ServiceError> {
    let mut url = url::Url::parse(server_url).map_err(|e| {
        ServiceError::new(
            "PostgreSQL",
            server_url,
            format!("not a URL ({e})"),
            "Give a URL like postgres://postgres@127.0.0.1:5432.",
        )
    })?;
    url.set_path(&format!("/{database}"));
    Ok(url.to_string())
}

impl SqlStore {
    /// Connects to the database at `url`, creating it (PostgreSQL) or its file (SQLite) if
    /// missing, brings its tables up to date, and loads the catalog into a new shard.
    pub async fn connect(url: &str, setup: &ShardSetup) -> Result<SqlStore, ServiceError> {
        sqlx::any::install_default_drivers();
        let Some(kind) = Kind::of(url) else {
            return Err(ServiceError::new(
                "database",
                url,
                "unknown kind of database",
                "Use a sqlite://PATH or postgres://USER@HOST:PORT/DB URL.",
            ));
        };
        let pool = match open(kind, url, setup.max_connections).await {
            Err(e) if kind == Kind::Postgres && is_missing_database(&e) => {
                create_postgres_database(url).await?;
                open(kind, url, setup.max_connections).await
            }
            other => other,
        }
        .map_err(|e| connect_error(kind, url, &e))?;

        let fail = |what: &str, e: sqlx::Error| {
            ServiceError::new(kind.name(), url, format!("{what}: {e}"), "")
        };
        if kind == Kind::Sqlite {
            // Write-ahead logging lets readers go on while an order commits. (It is kept in the
            // file, so setting it once is enough; synchronous stays FULL: an acknowledged
            // order survives a power cut.)
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await
                .map_err(|e| fail("setting journal_mode", e))?;
        }
        migrate(kind, &pool)
            .await
            .map_err(|e| fail("migrating", e))?;
        let (first, step) = (db_int(setup.first_order_id), db_int(setup.order_id_step));
        let (Ok(first), Ok(step)) = (first, step) else {
            return Err(ServiceError::new(
                kind.name(),
                url,
                "order id sequence too large",
                "",
            ));
        };
        let store = SqlStore {
            pool,
            first_order_id: first,
            order_id_step: step.max(1),
        };
        store
            .set_up(setup)
            .await
            .map_err(|e| ServiceError::new(kind.name(), url, e, "Use the shard count this data was created with, or a fresh data directory / database."))?;
        Ok(store)
    }

    /// Records this shard's order id sequence (or checks it against the recorded one), and
    /// loads the catalog if the shard has none.
    async fn set_up(&self, setup: &ShardSetup) -> Result<(), String> {
        let mut tx = self.pool.begin().await.map_err(|e| e.to_string())?;
        sqlx::query(
            "INSERT INTO shard_meta (one_row, first_order_id, order_id_step) VALUES (1, $1, $2) \
             ON CONFLICT (one_row) DO NOTHING",
        )
        .bind(self.first_order_id)
        .bind(self.order_id_step)
        .execute(&mut *tx)
        .await
        .map_err(|e| e.to_string())?;
        let row = sqlx::query("SELECT first_order_id, order_id_step FROM shard_meta")
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| e.to_string())?;
        let recorded: (i64, i64) = (
            row.try_get(0).map_err(|e| e.to_string())?,
            row.try_get(1).map_err(|e| e.to_string())?,
        );
        if recorded != (self.first_order_id, self.order_id_step) {
            return Err(format!(
                "this shard was created for order ids {} + {}k, not {} + {}k (another shard count?)",
                recorded.0, recorded.1, self.first_order_id, self.order_id_step
            ));
        }
        for p in &setup.catalog {
            sqlx::query(
                "INSERT INTO products (id, name, price_cents, stock) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(i64::from(p.id))
            .bind(p.name.as_str())
            .bind(db_int(p.price_cents).map_err(|e| e.to_string())?)
            .bind(i64::from(setup.stock))
            .execute(&mut *tx)
            .await
            .map_err(|e| e.to_string())?;
        }
        tx.commit().await.map_err(|e| e.to_string())
    }

    /// The order id of the order with sequence number `seq` on this shard.
    fn order_id(&self, seq: i64) -> Result<OrderId, PortError> {
        app_int(self.first_order_id + (seq - 1) * self.order_id_step)
    }

    /// The sequence number of order `id` on this shard, if it is one of this shard's ids.
    fn seq_of(&self, id: OrderId) -> Option<i64> {
        let offset = i64::try_from(id).ok()?.checked_sub(self.first_order_id)?;
        (offset % self.order_id_step == 0).then_some(offset / self.order_id_step + 1)
    }

    /// Whether order `id`'s stock movement and shipping label exist: what an operator (or the
    /// crash test) asks to see that an order's side work was done.
    pub async fn side_work_done(&self, id: OrderId) -> Result<(bool, bool), PortError> {
        let id = db_int(id)?;
        let mut done = [false; 2];
        for (i, sql) in [
            "SELECT order_id FROM stock_movements WHERE order_id = $1",
            "SELECT order_id FROM shipping_labels WHERE order_id = $1",
        ]
        .into_iter()
        .enumerate()
        {
            let row = sqlx::query(sql)
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_error)?;
            done[i] = row.is_some();
        }
        Ok((done[0], done[1]))
    }

    /// Closes every connection, after the queries in flight finish.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

async fn open(kind: Kind, url: &str, max_connections: u32) -> Result<AnyPool, sqlx::Error> {
    let options: AnyConnectOptions = url.parse()?;
    // One connection first, alone: when it fails, its error says why (refused, no such
    // database, bad password), where the pool would only say that it timed out.
    let first = <sqlx::AnyConnection as sqlx::Connection>::connect_with(&options).await?;
    sqlx::Connection::close(first).await?;
    AnyPoolOptions::new()
        .max_connections(max_connections.max(1))
        // Waiting longer than this for a connection means the database is overloaded: say so
        // (503) rather than let requests pile up.
        .acquire_timeout(Duration::from_secs(if kind == Kind::Sqlite {
            10
        } else {
            5
        }))
        .connect_with(options)
        .await
}

/// PostgreSQL's "database does not exist" (SQLSTATE 3D000).
fn is_missing_database(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().as_deref() == Some("3D000"))
}

fn connect_error(kind: Kind, url: &str, e: &sqlx::Error) -> ServiceError {
    let hint = match kind {
        Kind::Sqlite => "Check that the data directory exists and is writable.",
        Kind::Postgres => {
            "Check that PostgreSQL is running and listening there, and that the user may log in \
             (--postgres-url or SCALELAB_POSTGRES_URL)."
        }
    };
    ServiceError::new(kind.name(), url, format!("cannot connect ({e})"), hint)
}

/// Runs `statement(name)` for the database that `url` names, through the server's `postgres`
/// database (CREATE and DROP DATABASE cannot run inside the database itself). Such statements
/// take no parameters, so only a plain name (letters, digits, `_`, `-`), in double quotes, is
/// ever spliced in. Returns the name and the statement's outcome; a bad name or an unreachable
/// server is an error.
async fn on_postgres_admin(
    url: &str,
    hint: &str,
    statement: impl FnOnce(&str) -> String,
) -> Result<(String, Result<(), sqlx::Error>), ServiceError> {
    sqlx::any::install_default_drivers();
    let err = |what: String| ServiceError::new("PostgreSQL", url, what, hint);
    let mut admin = url::Url::parse(url).map_err(|e| err(format!("not a URL ({e})")))?;
    let name = admin.path().trim_start_matches('/').to_owned();
    let plain = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
    if name.is_empty() || !name.bytes().all(plain) {
        return Err(err(format!(
            "database name {name:?} is not letters, digits, _ and -"
        )));
    }
    admin.set_path("/postgres");
    let pool = open(Kind::Postgres, admin.as_str(), 1)
        .await
        .map_err(|e| connect_error(Kind::Postgres, admin.as_str(), &e))?;
    let done = sqlx::raw_sql(&statement(&name)).execute(&pool).await;
    pool.close().await;
    Ok((name, done.map(|_| ())))
}

/// Creates the database that `url` names.
async fn create_postgres_database(url: &str) -> Result<(), ServiceError> {
    let hint = "Create the database by hand, or let the user create databases.";
    let (name, created) =
        on_postgres_admin(url, hint, |name| format!("CREATE DATABASE \"{name}\"")).await?;
    match created {
        Ok(()) => Ok(()),
        // Another server created it at the same moment: just as good.
        Err(sqlx::Error::Database(db)) if db.code().as_deref() == Some("42P04") => Ok(()),
        Err(e) => Err(ServiceError::new(
            "PostgreSQL",
            url,
            format!("creating database {name}: {e}"),
            hint,
        )),
    }
}

/// Drops the database that `url` names (for tests that made their own).
pub async fn drop_postgres_database(url: &str) -> Result<(), ServiceError> {
    let (_, dropped) = on_postgres_admin(url, "", |name| {
        format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")
    })
    .await?;
    dropped.map_err(|e| ServiceError::new("PostgreSQL", url, e.to_string(), ""))
}

async fn migrate(kind: Kind, pool: &AnyPool) -> Result<(), sqlx::Error> {
    let migrations = match kind {
        Kind::Sqlite => SQLITE_MIGRATIONS,
        Kind::Postgres => POSTGRES_MIGRATIONS,
    };
    sqlx::raw_sql("CREATE TABLE IF NOT EXISTS scalelab_migrations (version BIGINT PRIMARY KEY)")
        .execute(pool)
        .await?;
    for &(version, sql) in migrations {
        let mut tx = pool.begin().await?;
        let done = sqlx::query("SELECT version FROM scalelab_migrations WHERE version = $1")
            .bind(version)
            .fetch_optional(&mut *tx)
            .await?;
        if done.is_none() {
            sqlx::raw_sql(sql).execute(&mut *tx).await?;
            sqlx::query("INSERT INTO scalelab_migrations (version) VALUES ($1)")
                .bind(version)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
    }
    Ok(())
}

/// A sqlx error as the storefront sees it: waiting too long is a timeout, the rest means the
/// database could not do it. The message carries no URL (sqlx's errors do not).
fn db_error(e: sqlx::Error) -> PortError {
    match e {
        sqlx::Error::PoolTimedOut => PortError::Timeout("waiting for a db connection".into()),
        e => PortError::Unavailable(format!("db: {e}")),
    }
}

/// The shop's numbers are unsigned; the databases' are signed 64-bit.
fn db_int(n: u64) -> Result<i64, PortError> {
    i64::try_from(n).map_err(|_| PortError::Unavailable(format!("db: {n} does not fit a BIGINT")))
}

fn app_int<T: TryFrom<i64>>(n: i64) -> Result<T, PortError> {
    T::try_from(n).map_err(|_| PortError::Unavailable(format!("db: unexpected value {n}")))
}

/// Order lines read as (order_seq, product_id, quantity, price_cents), grouped by order.
fn lines_by_order(rows: &[sqlx::any::AnyRow]) -> Result<BTreeMap<i64, Vec<Line>>, PortError> {
    let mut by_seq: BTreeMap<i64, Vec<Line>> = BTreeMap::new();
    for r in rows {
        let seq: i64 = r.try_get(0).map_err(db_error)?;
        by_seq.entry(seq).or_default().push(Line {
            product_id: get(r, 1)?,
            quantity: get(r, 2)?,
            price_cents: get(r, 3)?,
        });
    }
    Ok(by_seq)
}

/// Orders read as (seq, customer_id, total_cents, payment_ref), with their lines.
fn orders_with_lines(
    store: &SqlStore,
    rows: &[sqlx::any::AnyRow],
    mut lines_by_seq: BTreeMap<i64, Vec<Line>>,
) -> Result<Vec<Order>, PortError> {
    rows.iter()
        .map(|r| {
            let seq: i64 = r.try_get(0).map_err(db_error)?;
            Ok(Order {
                id: store.order_id(seq)?,
                customer_id: get(r, 1)?,
                lines: lines_by_seq.remove(&seq).unwrap_or_default(),
                total_cents: get(r, 2)?,
                payment_ref: r.try_get(3).map_err(db_error)?,
            })
        })
        .collect()
}

fn get<T>(row: &sqlx::any::AnyRow, column: usize) -> Result<T, PortError>
where
    T: TryFrom<i64>,
{
    let n: i64 = row.try_get(column).map_err(db_error)?;
    app_int(n)
}

/// Who holds a payment's row in `payments` (see `sql/*-4.sql`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Claim {
    ForOrder,
    Voided,
}

impl SqlStore {
    /// Claims `payment_ref` for `want` unless it is claimed already; returns who holds it now.
    /// The row is unique: of two transactions claiming one payment, the second waits for the
    /// first to end, so a placement and a settlement can never both win.
    async fn claim_payment(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        payment_ref: &str,
        want: Claim,
    ) -> Result<Claim, PortError> {
        // The usual case, a new payment, is one statement: the row comes back only if this
        // insert made it. Only a payment claimed before needs a second look.
        let claimed = sqlx::query(
            "INSERT INTO payments (payment_ref, voided) VALUES ($1, $2) \
             ON CONFLICT (payment_ref) DO NOTHING RETURNING voided",
        )
        .bind(payment_ref)
        .bind(i64::from(want == Claim::Voided))
        .fetch_optional(&mut **tx)
        .await
        .map_err(db_error)?;
        if claimed.is_some() {
            return Ok(want);
        }
        let voided: i64 = sqlx::query("SELECT voided FROM payments WHERE payment_ref = $1")
            .bind(payment_ref)
            .fetch_one(&mut **tx)
            .await
            .and_then(|r| r.try_get(0))
            .map_err(db_error)?;
        Ok(if voided != 0 {
            Claim::Voided
        } else {
            Claim::ForOrder
        })
    }
}

#[async_trait]
impl Store for SqlStore {
    async fn list_products(&self, limit: usize) -> Result<Vec<Product>, PortError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = sqlx::query("SELECT id, name, price_cents FROM products ORDER BY id LIMIT $1")
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.iter()
            .map(|r| {
                Ok(Product {
                    id: get(r, 0)?,
                    name: r.try_get(1).map_err(db_error)?,
                    price_cents: get(r, 2)?,
                })
            })
            .collect()
    }

    async fn product(&self, id: ProductId) -> Result<Option<ProductPage>, PortError> {
        let row = sqlx::query("SELECT id, name, price_cents, stock FROM products WHERE id = $1")
            .bind(i64::from(id))
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(ProductPage {
            product: Product {
                id: get(&r, 0)?,
                name: r.try_get(1).map_err(db_error)?,
                price_cents: get(&r, 2)?,
            },
            in_stock: get(&r, 3)?,
        }))
    }

    /// One transaction: record the order (unless its payment already has one), take every line
    /// out of stock, then record its lines.
    ///
    /// Each line is one conditional `UPDATE ... WHERE stock >= quantity`: the database checks
    /// and takes in one step under the row's lock, so two checkouts can never both take the
    /// last unit (reading the stock first and writing it after would let them). Lines go in
    /// product order so that two orders lock shared rows in the same order and cannot deadlock.
    /// On SQLite, the first statement being a write makes the transaction take the write lock
    /// at once, waiting (busy timeout) rather than failing when another checkout holds it.
    async fn place_order(&self, order: NewOrder) -> Result<Placement, PortError> {
        let mut by_product = order.lines.clone();
        by_product.sort_by_key(|l| l.product_id);
        let total_cents = order.total_cents();
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        // The payment's claim first, on the key `settle` also writes: a placement that lost
        // its checkout (it timed out and settled the payment as voided) must not commit now.
        if self
            .claim_payment(&mut tx, &order.payment_ref, Claim::ForOrder)
            .await?
            == Claim::Voided
        {
            tx.rollback().await.map_err(db_error)?;
            return Ok(Placement::PaymentVoided);
        }
        // Then the order row: its payment reference is unique, so of two checkouts of one
        // cart at once (a double click) the second waits (on the claim above) for the first
        // to commit, then inserts nothing and learns which order the cart became.
        let row = sqlx::query(
            "INSERT INTO orders (customer_id, total_cents, payment_ref) VALUES ($1, $2, $3) \
             ON CONFLICT (payment_ref) DO NOTHING RETURNING seq",
        )
        .bind(db_int(order.customer_id)?)
        .bind(db_int(total_cents)?)
        .bind(order.payment_ref.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?;
        let Some(row) = row else {
            tx.rollback().await.map_err(db_error)?;
            let seq: i64 = sqlx::query("SELECT seq FROM orders WHERE payment_ref = $1")
                .bind(order.payment_ref.as_str())
                .fetch_one(&self.pool)
                .await
                .and_then(|r| r.try_get(0))
                .map_err(db_error)?;
            return Ok(Placement::AlreadyPlaced(self.order_id(seq)?));
        };
        let seq: i64 = row.try_get(0).map_err(db_error)?;
        for line in &by_product {
            let taken =
                sqlx::query("UPDATE products SET stock = stock - $1 WHERE id = $2 AND stock >= $1")
                    .bind(i64::from(line.quantity))
                    .bind(i64::from(line.product_id))
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
            if taken.rows_affected() == 0 {
                tx.rollback().await.map_err(db_error)?;
                return Ok(Placement::OutOfStock(line.product_id));
            }
        }
        for (line_no, line) in (0_i64..).zip(&order.lines) {
            sqlx::query(
                "INSERT INTO order_lines (order_seq, line_no, product_id, quantity, price_cents) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(seq)
            .bind(line_no)
            .bind(i64::from(line.product_id))
            .bind(i64::from(line.quantity))
            .bind(db_int(line.price_cents)?)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        }
        if order.outbox {
            // The side work's message, in the same transaction as the order (see `outbox`).
            sqlx::query("INSERT INTO outbox (order_seq) VALUES ($1)")
                .bind(seq)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
        }
        // Until this returns, the order does not exist; after it, it must never be lost.
        tx.commit().await.map_err(db_error)?;
        Ok(Placement::Placed(Order {
            id: self.order_id(seq)?,
            customer_id: order.customer_id,
            lines: order.lines,
            total_cents,
            payment_ref: order.payment_ref,
        }))
    }

    /// One transaction: the payment's claim as voided, unless a placement claimed it first,
    /// in which case its order is there (claims commit with their order, or not at all).
    async fn settle(
        &self,
        customer: CustomerId,
        payment_ref: &str,
    ) -> Result<Settlement, PortError> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let claim = self
            .claim_payment(&mut tx, payment_ref, Claim::Voided)
            .await?;
        if claim == Claim::Voided {
            tx.commit().await.map_err(db_error)?;
            return Ok(Settlement::Voided);
        }
        tx.rollback().await.map_err(db_error)?;
        let orders = self.orders_for(customer).await?;
        match orders.into_iter().find(|o| o.payment_ref == payment_ref) {
            Some(order) => Ok(Settlement::Placed(order)),
            // Claimed for an order that is not the customer's: not a state this shop writes.
            None => Err(PortError::Unavailable(format!(
                "payment {payment_ref} is claimed by an order of another customer"
            ))),
        }
    }

    async fn orders_for(&self, customer: CustomerId) -> Result<Vec<Order>, PortError> {
        let customer_db = db_int(customer)?;
        let orders = sqlx::query(
            "SELECT seq, customer_id, total_cents, payment_ref FROM orders WHERE customer_id = $1 \
             ORDER BY seq",
        )
        .bind(customer_db)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        let lines = sqlx::query(
            "SELECT l.order_seq, l.product_id, l.quantity, l.price_cents \
             FROM order_lines l JOIN orders o ON o.seq = l.order_seq \
             WHERE o.customer_id = $1 ORDER BY l.order_seq, l.line_no",
        )
        .bind(customer_db)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        orders_with_lines(self, &orders, lines_by_order(&lines)?)
    }

    async fn record_stock_movement(&self, order: &Order) -> Result<(), PortError> {
        sqlx::query("INSERT INTO stock_movements (order_id) VALUES ($1) ON CONFLICT DO NOTHING")
            .bind(db_int(order.id)?)
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn create_shipping_label(&self, order: &Order) -> Result<(), PortError> {
        sqlx::query("INSERT INTO shipping_labels (order_id) VALUES ($1) ON CONFLICT DO NOTHING")
            .bind(db_int(order.id)?)
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn unpublished(&self, limit: usize) -> Result<Vec<Order>, PortError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let orders = sqlx::query(
            "SELECT o.seq, o.customer_id, o.total_cents, o.payment_ref \
             FROM outbox x JOIN orders o ON o.seq = x.order_seq \
             WHERE x.published = 0 ORDER BY o.seq LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        let mut lines_by_seq = BTreeMap::new();
        let seqs = orders.iter().map(|r| r.try_get::<i64, _>(0));
        if let Some(last) = seqs.clone().filter_map(Result::ok).max() {
            let first = seqs.filter_map(Result::ok).min().unwrap_or(last);
            let lines = sqlx::query(
                "SELECT order_seq, product_id, quantity, price_cents FROM order_lines \
                 WHERE order_seq BETWEEN $1 AND $2 ORDER BY order_seq, line_no",
            )
            .bind(first)
            .bind(last)
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
            lines_by_seq = lines_by_order(&lines)?;
        }
        orders_with_lines(self, &orders, lines_by_seq)
    }

    async fn mark_published(&self, orders: &[Order]) -> Result<(), PortError> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        for seq in orders.iter().filter_map(|o| self.seq_of(o.id)) {
            sqlx::query("UPDATE outbox SET published = 1 WHERE order_seq = $1")
                .bind(seq)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
        }
        tx.commit().await.map_err(db_error)
    }

    async fn sales_report(&self) -> Result<SalesReport, PortError> {
        // CAST: PostgreSQL sums BIGINTs as NUMERIC, which the Any driver cannot carry.
        let totals = sqlx::query(
            "SELECT COUNT(*), CAST(COALESCE(SUM(total_cents), 0) AS BIGINT) FROM orders",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(db_error)?;
        let units = sqlx::query(
            "SELECT product_id, CAST(SUM(quantity) AS BIGINT) FROM order_lines \
             GROUP BY product_id ORDER BY product_id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        let mut report = SalesReport {
            orders: get(&totals, 0)?,
            revenue_cents: get(&totals, 1)?,
            ..SalesReport::default()
        };
        for r in &units {
            report.units_by_product.insert(get(r, 0)?, get(r, 1)?);
        }
        Ok(report)
    }
}

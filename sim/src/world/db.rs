//! The simulated PostgreSQL-like database server, and the client that implements the
//! storefront's `Store` port against it over the simulated network.
//!
//! The server charges what a real one would make you wait for: a connection limit, CPU per
//! query on its own host, row locks on inventory rows (a hot product serialises its buyers),
//! and a commit delay (WAL flush) during which those locks are held. The rows themselves live
//! in system's `MemoryStore`, the reference semantics of the `Store` port, so the simulated
//! database cannot drift from what the shop means by "place an order".
//!
//! Must not: decide anything about the shop (prices, stock rules); that is system's.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Mutex;

use crate::scenario::{Database, DbWork, Service};
use crate::world::host::Cpu;
use crate::world::rpc::{self, Pool};
use scalelab_system::memory::MemoryStore;
use scalelab_system::model::{
    CustomerId, NewOrder, Order, OrderId, Placement, Product, ProductId, ProductPage, SalesReport,
    Settlement,
};
use scalelab_system::ports::{PortError, Store};

/// A statement, at the level of one SQL statement or transaction of the real adapter.
#[derive(Debug, Clone)]
pub enum Stmt {
    ListProducts(usize),
    Product(ProductId),
    PlaceOrder(NewOrder),
    /// After a placement timed out: find its order or void its payment (`Store::settle`).
    Settle(CustomerId, String),
    OrdersFor(CustomerId),
    StockMovement(Order),
    ShippingLabel(Order),
    SalesReport,
    /// The outbox relay reads what is waiting, and marks what it published.
    Unpublished(usize),
    MarkPublished(Vec<Order>),
}

#[derive(Debug, Clone)]
pub enum Rows {
    Products(Vec<Product>),
    Product(Option<ProductPage>),
    Placement(Placement),
    Settlement(Settlement),
    Orders(Vec<Order>),
    Report(SalesReport),
    Done,
}

#[derive(Debug, Clone)]
pub enum DbError {
    LockTimeout(ProductId),
}

type Reply = Result<Rows, DbError>;

/// The server's state. Lives outside the node so that a restarted node finds its data (a
/// database's disk survives a crash).
pub struct DbServer {
    params: Database,
    pub cpu: Arc<Cpu>,
    rows: MemoryStore,
    row_locks: BTreeMap<ProductId, Mutex<()>>,
    /// Write transactions committed so far (orders, stock movements, labels).
    writes: std::sync::atomic::AtomicU64,
    initial_stock: u32,
}

impl DbServer {
    pub fn new(params: &Database, catalog: Vec<Product>) -> DbServer {
        DbServer::shard(params, catalog, params.stock_per_product, 1, 1)
    }

    /// One shard of a sharded database: `stock` units of each product (its share), order ids
    /// `first_order_id`, `+ step`, ... so that ids never collide across shards.
    pub fn shard(
        params: &Database,
        catalog: Vec<Product>,
        stock: u32,
        first_order_id: u64,
        step: u64,
    ) -> DbServer {
        let row_locks = catalog.iter().map(|p| (p.id, Mutex::new(()))).collect();
        DbServer {
            // The database queues work without a limit of its own: the clients' pools bound it.
            cpu: Arc::new(Cpu::new(&params.host, u32::MAX)),
            rows: MemoryStore::with_order_ids(catalog, stock, first_order_id, step),
            row_locks,
            writes: std::sync::atomic::AtomicU64::new(0),
            initial_stock: stock,
            params: params.clone(),
        }
    }

    /// Serves queries on `addr` until the node dies; refuses connections past
    /// `max_connections`, as PostgreSQL does.
    pub async fn serve(self: Arc<Self>, addr: SocketAddr) -> std::io::Result<()> {
        let max = self.params.max_connections.get();
        rpc::serve(addr, max, move |stmt: Stmt| {
            let db = self.clone();
            async move { db.execute(stmt).await }
        })
        .await
    }

    /// The same server with planted bugs in its transactions (see `scalelab_system::bugs`).
    pub fn with_bugs(mut self, bugs: scalelab_system::bugs::Bugs) -> DbServer {
        self.rows = self.rows.with_bugs(bugs);
        self
    }

    /// What the database holds: every order, and the stock of every product (for checkers).
    /// The orders move out: call it once, when the run is over.
    pub fn take_contents(&self) -> (Vec<Order>, Vec<(ProductId, u32)>) {
        (self.rows.take_orders(), self.rows.stock_levels())
    }

    /// The orders with a stock movement, and those with a shipping label.
    pub fn side_work_done(&self) -> (BTreeSet<OrderId>, BTreeSet<OrderId>) {
        self.rows.side_work_done()
    }

    /// Messages waiting in the outbox (part of the queue lag).
    pub fn outbox_len(&self) -> usize {
        self.rows.outbox_len()
    }

    /// Units of each product this server started with.
    pub fn initial_stock(&self) -> u32 {
        self.initial_stock
    }

    /// Write transactions committed so far.
    pub fn writes(&self) -> u64 {
        self.writes.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn wrote(&self) {
        self.writes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    fn ms(ms: f64) -> Duration {
        Duration::from_secs_f64(ms / 1000.0)
    }

    /// One statement's time for `work` of mean `mean`, drawn from madsim's seeded randomness
    /// as the scenario's distribution says (`fixed` draws nothing).
    fn draw(&self, work: DbWork, mean: Duration) -> Duration {
        match self.params.service(work) {
            Service::Fixed => mean,
            dist => dist.draw(mean, &mut madsim::rand::thread_rng()),
        }
    }

    async fn execute(&self, stmt: Stmt) -> Reply {
        // Drawn where they are spent (a statement draws only what it uses), so each
        // statement's draws come in the order its work happens.
        let (read_mean, write_mean) = (self.params.read_cpu_ms.0, self.params.write_cpu_ms.0);
        let read = |n: u32| self.draw(DbWork::Read, Self::ms(read_mean) * n);
        let write = |rows: u32| self.draw(DbWork::Write, Self::ms(write_mean) * rows);
        let commit = || self.draw(DbWork::Commit, Self::ms(self.params.commit_ms.0));
        // MemoryStore never fails: its Result is only the port's shape.
        let rows = |r: Result<Rows, PortError>| -> Reply { Ok(r.unwrap_or(Rows::Done)) };
        match stmt {
            Stmt::ListProducts(limit) => {
                let _ = self.cpu.run(read(1)).await;
                rows(self.rows.list_products(limit).await.map(Rows::Products))
            }
            Stmt::Product(id) => {
                let _ = self.cpu.run(read(1)).await;
                rows(self.rows.product(id).await.map(Rows::Product))
            }
            Stmt::OrdersFor(customer) => {
                let _ = self.cpu.run(read(1)).await;
                rows(self.rows.orders_for(customer).await.map(Rows::Orders))
            }
            Stmt::PlaceOrder(order) => {
                // Lock the inventory rows in id order (so two orders can never deadlock), do
                // the writes, and hold the locks until the commit is durable.
                let ids: BTreeSet<ProductId> = order.lines.iter().map(|l| l.product_id).collect();
                let mut guards = Vec::with_capacity(ids.len());
                for id in ids {
                    if let Some(lock) = self.row_locks.get(&id) {
                        // A free row is taken without arming a timer (see `deadline`).
                        if let Ok(guard) = lock.try_lock() {
                            guards.push(guard);
                            continue;
                        }
                        match tokio::time::timeout(
                            Self::ms(self.params.lock_timeout_ms.0),
                            lock.lock(),
                        )
                        .await
                        {
                            Ok(guard) => guards.push(guard),
                            Err(_) => return Err(DbError::LockTimeout(id)),
                        }
                    }
                }
                // The order, its lines, and with an outbox its message: one more row.
                let rows_written = order.lines.len() as u32 + 1 + u32::from(order.outbox);
                let _ = self.cpu.run(write(rows_written)).await;
                let placed = self.rows.place_order(order).await;
                madsim::time::sleep_exact(commit()).await;
                self.wrote();
                drop(guards);
                rows(placed.map(Rows::Placement))
            }
            Stmt::Settle(customer, payment_ref) => {
                // One row written (the voided claim), or one read when the order is there.
                let _ = self.cpu.run(write(1)).await;
                let settled = self.rows.settle(customer, &payment_ref).await;
                madsim::time::sleep_exact(commit()).await;
                self.wrote();
                rows(settled.map(Rows::Settlement))
            }
            Stmt::StockMovement(order) => {
                let _ = self.cpu.run(write(1)).await;
                madsim::time::sleep_exact(commit()).await;
                self.wrote();
                rows(
                    self.rows
                        .record_stock_movement(&order)
                        .await
                        .map(|()| Rows::Done),
                )
            }
            Stmt::SalesReport => {
                // A full scan: one read's worth of CPU per 100 orders.
                let report = self.rows.sales_report().await;
                let scanned = report.as_ref().map_or(0, |r| r.orders);
                let _ = self.cpu.run(read(1 + (scanned / 100) as u32)).await;
                rows(report.map(Rows::Report))
            }
            Stmt::Unpublished(limit) => {
                let _ = self.cpu.run(read(1)).await;
                rows(self.rows.unpublished(limit).await.map(Rows::Orders))
            }
            Stmt::MarkPublished(orders) => {
                let _ = self.cpu.run(write(1)).await;
                madsim::time::sleep_exact(commit()).await;
                self.wrote();
                rows(self.rows.mark_published(&orders).await.map(|()| Rows::Done))
            }
            Stmt::ShippingLabel(order) => {
                let _ = self.cpu.run(write(1)).await;
                madsim::time::sleep_exact(commit()).await;
                self.wrote();
                rows(
                    self.rows
                        .create_shipping_label(&order)
                        .await
                        .map(|()| Rows::Done),
                )
            }
        }
    }
}

/// The app's side: a connection pool and the `Store` port over the simulated network.
pub struct SimDb {
    pool: Pool<Stmt, Reply>,
}

impl SimDb {
    /// Must be called inside the node that will use it (the pool's endpoint binds there).
    pub async fn connect(server: SocketAddr, params: &Database) -> std::io::Result<SimDb> {
        let ms = DbServer::ms;
        Ok(SimDb {
            pool: Pool::new(
                server,
                params.pool_size.get(),
                ms(params.pool_timeout_ms.0),
                ms(params.statement_timeout_ms.0),
            )
            .await?,
        })
    }

    async fn query(&self, stmt: Stmt) -> Result<Rows, PortError> {
        match self.pool.call(stmt).await {
            Ok(Ok(rows)) => Ok(rows),
            Ok(Err(DbError::LockTimeout(id))) => {
                Err(PortError::Timeout(format!("db: lock on product {id}")))
            }
            Err(e) => Err(e.into_port("db")),
        }
    }
}

fn unexpected() -> PortError {
    PortError::Unavailable("db: unexpected reply".into())
}

#[async_trait]
impl Store for SimDb {
    async fn list_products(&self, limit: usize) -> Result<Vec<Product>, PortError> {
        match self.query(Stmt::ListProducts(limit)).await? {
            Rows::Products(p) => Ok(p),
            _ => Err(unexpected()),
        }
    }

    async fn product(&self, id: ProductId) -> Result<Option<ProductPage>, PortError> {
        match self.query(Stmt::Product(id)).await? {
            Rows::Product(p) => Ok(p),
            _ => Err(unexpected()),
        }
    }

    async fn place_order(&self, order: NewOrder) -> Result<Placement, PortError> {
        match self.query(Stmt::PlaceOrder(order)).await? {
            Rows::Placement(p) => Ok(p),
            _ => Err(unexpected()),
        }
    }

    async fn settle(
        &self,
        customer: CustomerId,
        payment_ref: &str,
    ) -> Result<Settlement, PortError> {
        match self
            .query(Stmt::Settle(customer, payment_ref.to_owned()))
            .await?
        {
            Rows::Settlement(s) => Ok(s),
            _ => Err(unexpected()),
        }
    }

    async fn orders_for(&self, customer: CustomerId) -> Result<Vec<Order>, PortError> {
        match self.query(Stmt::OrdersFor(customer)).await? {
            Rows::Orders(o) => Ok(o),
            _ => Err(unexpected()),
        }
    }

    async fn record_stock_movement(&self, order: &Order) -> Result<(), PortError> {
        self.query(Stmt::StockMovement(order.clone()))
            .await
            .map(|_| ())
    }

    async fn create_shipping_label(&self, order: &Order) -> Result<(), PortError> {
        self.query(Stmt::ShippingLabel(order.clone()))
            .await
            .map(|_| ())
    }

    async fn unpublished(&self, limit: usize) -> Result<Vec<Order>, PortError> {
        match self.query(Stmt::Unpublished(limit)).await? {
            Rows::Orders(o) => Ok(o),
            _ => Err(unexpected()),
        }
    }

    async fn mark_published(&self, orders: &[Order]) -> Result<(), PortError> {
        self.query(Stmt::MarkPublished(orders.to_vec()))
            .await
            .map(|_| ())
    }

    async fn sales_report(&self) -> Result<SalesReport, PortError> {
        match self.query(Stmt::SalesReport).await? {
            Rows::Report(r) => Ok(r),
            _ => Err(unexpected()),
        }
    }
}

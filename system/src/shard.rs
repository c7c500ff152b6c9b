//! Sharding by customer: the shard map (which shard holds a customer), the strategies that
//! build it, and a `Store` that routes every call to the right shard.
//!
//! The shard key is `customer_id`: a customer's cart, orders and order history all live on one
//! shard, so the common requests touch one database. Queries across customers (the admin sales
//! report) must ask every shard and add up the answers: scatter-gather.
//!
//! The catalog is copied to every shard, and each shard holds its own share of every product's
//! stock. Checkout then stays a transaction on one database: it reserves stock from the
//! customer's shard's share. The price: a product can be sold out on one shard while another
//! still has some (a real shop would rebalance the shares).
//!
//! Must not: know what a shard is made of. Shards are `Store`s; the simulator hands in
//! simulated databases, a real server hands in SQL pools.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use async_trait::async_trait;

use crate::bugs::Bugs;
use crate::model::{
    CustomerId, NewOrder, Order, Placement, Product, ProductId, ProductPage, SalesReport,
    Settlement,
};
use crate::ports::{PortError, Store};

pub type ShardId = u32;

/// How customers are placed on shards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Strategy {
    /// `customer_id % shards`: simple and even for sequential ids, but adding a shard moves
    /// almost every customer.
    Modulo,
    /// `hash(customer_id) % shards`: even whatever the ids look like; adding a shard still
    /// moves almost every customer.
    Hash,
    /// A hash ring with `vnodes` points per shard: adding a shard moves only about 1/(n+1) of
    /// the customers, the ones whose ring segment the new shard takes over.
    ConsistentHash { vnodes: u32 },
    /// An explicit table, for customers placed by hand (a big customer on its own shard);
    /// everyone else by hash.
    Lookup(BTreeMap<CustomerId, ShardId>),
    /// A placement written as a plain function: lesson 10's exercise (`exercises::shard_key`),
    /// used only when `scalelab lesson check` asks for it.
    Custom(ShardFn),
}

/// A named function that places a customer on one of `shards` shards.
#[derive(Clone, Copy)]
pub struct ShardFn {
    pub name: &'static str,
    pub place: fn(CustomerId, u32) -> ShardId,
}

// By name: two function pointers to the same code need not compare equal.
impl PartialEq for ShardFn {
    fn eq(&self, other: &ShardFn) -> bool {
        self.name == other.name
    }
}

impl Eq for ShardFn {}

impl std::fmt::Debug for ShardFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ShardFn({})", self.name)
    }
}

/// Which shard holds which customer. Immutable: a change builds a new map with a new version.
#[derive(Debug, Clone)]
pub struct ShardMap {
    shards: u32,
    strategy: Strategy,
    /// Consistent hashing's ring: (point, shard), sorted by point.
    ring: Vec<(u64, ShardId)>,
    pub version: u64,
}

/// A stable 64-bit hash of a key, the same on every machine and every build (xxh3).
fn hash_u64(key: u64, salt: u64) -> u64 {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&key.to_le_bytes());
    bytes[8..].copy_from_slice(&salt.to_le_bytes());
    xxhash_rust::xxh3::xxh3_64(&bytes)
}

impl ShardMap {
    /// A map over `shards` shards (at least one).
    pub fn new(shards: u32, strategy: Strategy) -> ShardMap {
        let shards = shards.max(1);
        let ring = match &strategy {
            Strategy::ConsistentHash { vnodes } => {
                let mut ring: Vec<(u64, ShardId)> = (0..shards)
                    .flat_map(|s| {
                        (0..(*vnodes).max(1))
                            .map(move |v| (hash_u64(u64::from(s), u64::from(v) + 1), s))
                    })
                    .collect();
                ring.sort_unstable();
                ring
            }
            _ => Vec::new(),
        };
        ShardMap {
            shards,
            strategy,
            ring,
            version: 1,
        }
    }

    pub fn shards(&self) -> u32 {
        self.shards
    }

    pub fn strategy(&self) -> &Strategy {
        &self.strategy
    }

    /// The shard that holds `customer`.
    pub fn shard_for(&self, customer: CustomerId) -> ShardId {
        let n = u64::from(self.shards);
        match &self.strategy {
            Strategy::Modulo => (customer % n) as ShardId,
            Strategy::Hash => (hash_u64(customer, 0) % n) as ShardId,
            Strategy::ConsistentHash { .. } => {
                let h = hash_u64(customer, 0);
                // The first ring point at or after the key's hash, wrapping around.
                let i = self.ring.partition_point(|&(point, _)| point < h);
                self.ring
                    .get(i)
                    .or_else(|| self.ring.first())
                    .map_or(0, |&(_, s)| s)
            }
            Strategy::Lookup(table) => match table.get(&customer) {
                Some(&s) if s < self.shards => s,
                _ => (hash_u64(customer, 0) % n) as ShardId,
            },
            Strategy::Custom(p) => (p.place)(customer, self.shards),
        }
    }

    /// The same strategy over `shards` shards, as the next version of this map.
    pub fn resized(&self, shards: u32) -> ShardMap {
        let mut next = ShardMap::new(shards, self.strategy.clone());
        next.version = self.version + 1;
        next
    }
}

/// Shard `shard`'s share of `stock` units of a product split over `shards` shards. The shares
/// add up to exactly `stock` (the first `stock % shards` shards take one more), so the shop as
/// a whole never sells more than it has; with fewer units than shards, some shards get none.
/// (Rounding each share up instead, say to at least one, sells units that do not exist.)
pub fn stock_share(stock: u32, shards: u32, shard: u32) -> u32 {
    let shards = shards.max(1);
    stock / shards + u32::from(shard < stock % shards)
}

/// The shard router: a `Store` over one `Store` per shard.
pub struct ShardedStore {
    map: RwLock<Arc<ShardMap>>,
    shards: Vec<Arc<dyn Store>>,
    /// Turns for reads that have no key (the catalog page), so no shard takes them all.
    next_read: AtomicUsize,
    bugs: Bugs,
}

impl ShardedStore {
    /// `shards[i]` is shard `i`; the map must not name more shards than there are.
    pub fn new(map: ShardMap, shards: Vec<Arc<dyn Store>>) -> ShardedStore {
        ShardedStore {
            map: RwLock::new(Arc::new(map)),
            shards,
            next_read: AtomicUsize::new(0),
            bugs: Bugs::default(),
        }
    }

    /// The same router with planted bugs switched on (see [`crate::bugs`]).
    pub fn with_bugs(mut self, bugs: Bugs) -> ShardedStore {
        self.bugs = bugs;
        self
    }

    /// The map in force now.
    pub fn map(&self) -> Arc<ShardMap> {
        self.map.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Switches to a new map (after data was moved to match it).
    pub fn set_map(&self, map: ShardMap) {
        *self.map.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(map);
    }

    fn shard(&self, id: ShardId) -> Result<&Arc<dyn Store>, PortError> {
        self.shards
            .get(id as usize)
            .ok_or_else(|| PortError::Unavailable(format!("shard {id} is not configured")))
    }

    fn for_customer(&self, customer: CustomerId) -> Result<&Arc<dyn Store>, PortError> {
        self.shard(self.map().shard_for(customer))
    }

    /// Catalog reads are the same on every shard; spread them by product.
    fn for_product(&self, product: ProductId) -> Result<&Arc<dyn Store>, PortError> {
        self.shard(product % self.shards.len().max(1) as u32)
    }
}

#[async_trait]
impl Store for ShardedStore {
    /// Every shard has the catalog; the shards take turns serving its first page.
    async fn list_products(&self, limit: usize) -> Result<Vec<Product>, PortError> {
        let turn = self.next_read.fetch_add(1, Ordering::Relaxed) % self.shards.len().max(1);
        self.shard(turn as ShardId)?.list_products(limit).await
    }

    /// The product with the stock of the shard that served it (each shard has a share).
    async fn product(&self, id: ProductId) -> Result<Option<ProductPage>, PortError> {
        self.for_product(id)?.product(id).await
    }

    async fn place_order(&self, order: NewOrder) -> Result<Placement, PortError> {
        // PLANTED BUG (`stale_shard_map`): writes routed with the map from before the last
        // shard was added, so some customers' orders land where nobody will look for them.
        if self.bugs.stale_shard_map() {
            let old = self
                .map()
                .resized(self.shards.len().saturating_sub(1).max(1) as u32);
            return self
                .shard(old.shard_for(order.customer_id))?
                .place_order(order)
                .await;
        }
        self.for_customer(order.customer_id)?
            .place_order(order)
            .await
    }

    /// On the customer's shard, where its order would be.
    async fn settle(
        &self,
        customer: CustomerId,
        payment_ref: &str,
    ) -> Result<Settlement, PortError> {
        self.for_customer(customer)?
            .settle(customer, payment_ref)
            .await
    }

    async fn orders_for(&self, customer: CustomerId) -> Result<Vec<Order>, PortError> {
        // PLANTED BUG (`history_by_modulo`): routing a customer's read like a catalog read
        // finds their orders only where modulo and the shard map happen to agree.
        if self.bugs.history_by_modulo() {
            let shard = (customer % self.shards.len().max(1) as u64) as ShardId;
            return self.shard(shard)?.orders_for(customer).await;
        }
        self.for_customer(customer)?.orders_for(customer).await
    }

    async fn record_stock_movement(&self, order: &Order) -> Result<(), PortError> {
        self.for_customer(order.customer_id)?
            .record_stock_movement(order)
            .await
    }

    async fn create_shipping_label(&self, order: &Order) -> Result<(), PortError> {
        self.for_customer(order.customer_id)?
            .create_shipping_label(order)
            .await
    }

    /// Every shard's outbox, gathered (a relay per shard reads its own more cheaply: the
    /// deployments run one per database).
    async fn unpublished(&self, limit: usize) -> Result<Vec<Order>, PortError> {
        let mut all = Vec::new();
        for shard in &self.shards {
            all.extend(shard.unpublished(limit).await?);
        }
        all.sort_by_key(|o| o.id);
        all.truncate(limit);
        Ok(all)
    }

    /// Each order is marked on its customer's shard, where it was placed.
    async fn mark_published(&self, orders: &[Order]) -> Result<(), PortError> {
        for order in orders {
            self.for_customer(order.customer_id)?
                .mark_published(std::slice::from_ref(order))
                .await?;
        }
        Ok(())
    }

    /// Scatter-gather: ask every shard, add up. One shard down fails the whole report; a
    /// partial total would be a wrong total.
    async fn sales_report(&self) -> Result<SalesReport, PortError> {
        let mut total = SalesReport::default();
        // PLANTED BUG (`report_first_shard_only`): the query the unsharded shop ran, kept
        // after sharding: the totals of one shard's customers, read as the shop's.
        let shards = if self.bugs.report_first_shard_only() {
            &self.shards[..1.min(self.shards.len())]
        } else {
            &self.shards[..]
        };
        for shard in shards {
            total.merge(&shard.sales_report().await?);
        }
        Ok(total)
    }
}

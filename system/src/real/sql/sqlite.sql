-- The shop's tables on SQLite (one file per shard). Version 1.
-- Integers are INTEGER (64-bit); money is whole cents, so sums stay exact.

-- Which order ids this shard hands out: first_order_id, + order_id_step, ... Fixed when the
-- shard is created, and checked at every start: the same files served with another shard count
-- would hand out ids that other shards already use.
CREATE TABLE shard_meta (
    one_row        INTEGER PRIMARY KEY CHECK (one_row = 1),
    first_order_id INTEGER NOT NULL,
    order_id_step  INTEGER NOT NULL
);

CREATE TABLE products (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL,
    price_cents INTEGER NOT NULL,
    -- This shard's share of the product's stock; never below zero (the check is a backstop:
    -- checkout's conditional UPDATE is what keeps it there).
    stock       INTEGER NOT NULL CHECK (stock >= 0)
);

-- AUTOINCREMENT: a sequence number is never reused, so an order id is never handed out twice.
CREATE TABLE orders (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id INTEGER NOT NULL,
    total_cents INTEGER NOT NULL,
    payment_ref TEXT    NOT NULL
);
CREATE INDEX orders_by_customer ON orders (customer_id, seq);

CREATE TABLE order_lines (
    order_seq   INTEGER NOT NULL REFERENCES orders (seq),
    line_no     INTEGER NOT NULL,
    product_id  INTEGER NOT NULL,
    quantity    INTEGER NOT NULL,
    price_cents INTEGER NOT NULL,
    PRIMARY KEY (order_seq, line_no)
);

-- Side work, one row per order id: the primary key is what makes doing it twice harmless.
CREATE TABLE stock_movements (order_id INTEGER PRIMARY KEY);
CREATE TABLE shipping_labels (order_id INTEGER PRIMARY KEY);

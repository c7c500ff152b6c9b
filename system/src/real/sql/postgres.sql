-- The shop's tables on PostgreSQL (one database per shard). Version 1.
-- Integers are BIGINT; money is whole cents, so sums stay exact.

-- Which order ids this shard hands out: first_order_id, + order_id_step, ... Fixed when the
-- shard is created, and checked at every start: the same databases served with another shard
-- count would hand out ids that other shards already use.
CREATE TABLE shard_meta (
    one_row        INTEGER PRIMARY KEY CHECK (one_row = 1),
    first_order_id BIGINT NOT NULL,
    order_id_step  BIGINT NOT NULL
);

CREATE TABLE products (
    id          BIGINT PRIMARY KEY,
    name        TEXT   NOT NULL,
    price_cents BIGINT NOT NULL,
    -- This shard's share of the product's stock; never below zero (the check is a backstop:
    -- checkout's conditional UPDATE is what keeps it there).
    stock       BIGINT NOT NULL CHECK (stock >= 0)
);

-- An identity column: a sequence number is never reused (a rolled-back order leaves a gap).
CREATE TABLE orders (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id BIGINT NOT NULL,
    total_cents BIGINT NOT NULL,
    payment_ref TEXT   NOT NULL
);
CREATE INDEX orders_by_customer ON orders (customer_id, seq);

CREATE TABLE order_lines (
    order_seq   BIGINT NOT NULL REFERENCES orders (seq),
    line_no     BIGINT NOT NULL,
    product_id  BIGINT NOT NULL,
    quantity    BIGINT NOT NULL,
    price_cents BIGINT NOT NULL,
    PRIMARY KEY (order_seq, line_no)
);

-- Side work, one row per order id: the primary key is what makes doing it twice harmless.
CREATE TABLE stock_movements (order_id BIGINT PRIMARY KEY);
CREATE TABLE shipping_labels (order_id BIGINT PRIMARY KEY);

-- Version 3: the transactional outbox (see the shop's `outbox` module). In the queued designs
-- checkout writes one row here in the order's own transaction; the relay publishes it to the
-- broker and then sets `published`. An order and its side-work message exist together or not
-- at all, so a crash between the two, or a broker outage, only delays the side work.
CREATE TABLE outbox (
    order_seq INTEGER PRIMARY KEY REFERENCES orders (seq),
    published INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX outbox_unpublished ON outbox (published, order_seq);

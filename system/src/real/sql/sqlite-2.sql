-- Version 2: one payment, one order. Checkout's payment reference comes from the cart's
-- idempotency key, so two checkouts of one cart at once (a double click) carry the same one;
-- this index lets only the first become an order (`ON CONFLICT (payment_ref) DO NOTHING`).
-- A database that already holds a cart paid twice refuses this migration: find the pairs with
-- `SELECT payment_ref FROM orders GROUP BY payment_ref HAVING count(*) > 1`.
CREATE UNIQUE INDEX orders_by_payment ON orders (payment_ref);

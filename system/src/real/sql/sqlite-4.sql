-- Version 4: every payment an order was placed with, or that its checkout gave up on. A
-- checkout whose placement timed out cannot know whether it committed; it settles the payment
-- (the shop's `Store::settle`): if no order has it, it is marked voided here, and the charge
-- refunded. The placement claims its payment in this same table first, so the two meet on one
-- unique key: whichever comes second waits for the first, and a lost placement that arrives
-- late finds its payment voided instead of becoming an order nobody paid for.
CREATE TABLE payments (
    payment_ref TEXT PRIMARY KEY,
    voided INTEGER NOT NULL
);

//! Proof that the checkers can fail: each planted bug in the system code (see
//! `scalelab_system::bugs`) is caught by the checker meant for it, within a few seeds, while
//! the same runs without the bug hold.

mod common;

use common::status;

use scalelab_sim::judge::check::Status;
use scalelab_sim::run_with;
use scalelab_sim::{Design, RunOptions};
use scalelab_system::bugs::Bugs;

/// Seeds tried per bug: a checker must catch its bug within this many.
const SEEDS: u64 = 3;

fn scenario(extra: &str) -> scalelab_sim::Scenario {
    let text = format!("{}\n{extra}", common::small_text(30.0, 30.0));
    match scalelab_sim::parse(&text) {
        Ok(s) => s,
        Err(e) => panic!("the test scenario is invalid: {e}"),
    }
}

/// Runs `design` with and without `bugs` on seeds 1..=SEEDS; the check must hold on every
/// seed without the bug and be violated on some seed with it. Returns a violation's text.
fn caught(scn: &scalelab_sim::Scenario, design: Design, bugs: Bugs, check: &str) -> String {
    for seed in 1..=SEEDS {
        let clean = run_with(scn, design, seed, None, RunOptions::default()).expect("runs");
        assert_eq!(
            status(&clean, check),
            Status::Held,
            "{check} holds without the bug (seed {seed}): {:?}",
            clean.checks
        );
        let buggy = run_with(
            scn,
            design,
            seed,
            None,
            RunOptions {
                bugs,
                ..Default::default()
            },
        )
        .expect("runs");
        if status(&buggy, check) == Status::Violated {
            let c = buggy
                .checks
                .iter()
                .find(|c| c.name == check)
                .expect("the check ran");
            let v = c.examples.first().expect("a violation has an example");
            assert!(!v.ids.is_empty() && !v.message.is_empty());
            return format!("{}: {}", v.ids, v.message);
        }
    }
    panic!("{check} did not catch the planted bug in {SEEDS} seeds");
}

#[test]
fn a_worker_that_acknowledges_before_its_effect_loses_emails() {
    // While the mail provider is down, an email worker keeps retrying the message it
    // took; then it dies. The correct worker has not committed it, so it is delivered
    // again after the restart; the buggy one already said it was done.
    let mut faults =
        String::from("[[faults]]\nat_s = 3\nkind = \"mail-outage\"\nduration_s = 20\n");
    for at in [10, 16, 22] {
        faults.push_str(&format!(
            "[[faults]]\nat_s = {at}\nkind = \"kill\"\ntarget = \"worker\"\nrestart_after_s = 1\n"
        ));
    }
    let bugs = Bugs {
        ack_before_effect: true,
        ..Bugs::default()
    };
    let found = caught(
        &scenario(&faults),
        Design::Queued,
        bugs,
        "one-confirmation-email",
    );
    assert!(found.contains("no confirmation email"), "{found}");
}

#[test]
fn a_router_with_a_stale_shard_map_misplaces_orders() {
    let bugs = Bugs {
        stale_shard_map: true,
        ..Bugs::default()
    };
    let found = caught(
        &scenario(""),
        Design::Sharded,
        bugs,
        "orders-on-their-shard",
    );
    assert!(found.contains("but the shard map says"), "{found}");
}

#[test]
fn a_checkout_that_skips_the_stock_check_oversells() {
    // Little stock and everyone wants product 1.
    let extra = "[database]\nhost = { cores = 8, contention = 0.02, coherency = 0.0002 }\n\
                 max_connections = 200\npool_size = 40\npool_timeout_ms = 1000\n\
                 statement_timeout_ms = 5000\nread_cpu_ms = 0.6\nwrite_cpu_ms = 1.2\n\
                 commit_ms = 2.0\nlock_timeout_ms = 2000\nstock_per_product = 20\n\
                 [[faults]]\nat_s = 0\nkind = \"hot-product\"\nproduct = 1\nshare = 0.9\nduration_s = 30\n";
    let bugs = Bugs {
        skip_stock_check: true,
        ..Bugs::default()
    };
    let found = caught(&scenario(extra), Design::Horizontal, bugs, "no-oversell");
    assert!(found.contains("oversold"), "{found}");
}

#[test]
fn a_stateless_replica_that_keeps_carts_in_memory_loses_them() {
    let bugs = Bugs {
        cart_in_memory: true,
        ..Bugs::default()
    };
    let found = caught(&scenario(""), Design::Horizontal, bugs, "cart-survives");
    assert!(found.starts_with("session "), "{found}");
}

#[test]
fn shards_that_number_orders_alike_lose_the_customers_order() {
    let bugs = Bugs {
        shard_blind_ids: true,
        ..Bugs::default()
    };
    let found = caught(&scenario(""), Design::Sharded, bugs, "no-lost-order");
    assert!(found.contains("stored as customer"), "{found}");
}

#[test]
fn a_worker_that_gives_up_on_a_broker_error_never_catches_up() {
    let extra = "[[faults]]\nat_s = 5\nkind = \"broker-outage\"\nduration_s = 5\n";
    let bugs = Bugs {
        worker_gives_up: true,
        ..Bugs::default()
    };
    let found = caught(&scenario(extra), Design::Queued, bugs, "lag-recovers");
    assert!(found.contains("after it ended ("), "{found}");
}

#[test]
fn a_relay_that_never_reconnects_leaves_the_side_work_behind_for_good() {
    // A short broker outage 20 s in. Checkout never talks to the broker (the outbox), so both
    // shops keep taking orders; the correct relay publishes again once the brokers are back,
    // the buggy one never does, and the lag only grows.
    let text = format!(
        "{}\n[[faults]]\nat_s = 20\nkind = \"broker-outage\"\nduration_s = 3\n\
         [checks]\ndrain_s = 60\nlag_recovery_s = 20\nrecovery_s = 10\n",
        common::small_text(30.0, 45.0)
    );
    let scn = scalelab_sim::parse(&text).expect("valid scenario");
    let bugs = Bugs {
        publisher_never_reconnects: true,
        ..Bugs::default()
    };
    for design in [Design::Queued, Design::Sharded] {
        let found = caught(&scn, design, bugs, "lag-recovers");
        assert!(found.contains("after it ended ("), "{found}");
    }
}

/// Shoppers who click "buy" twice: two checkouts of one cart at once.
fn double_clicks() -> scalelab_sim::Scenario {
    let text = common::small_text(30.0, 30.0).replace(
        "view_orders = 0.3 }",
        "view_orders = 0.3, double_click = 0.5 }",
    );
    scalelab_sim::parse(&text).expect("valid scenario")
}

#[test]
fn a_double_click_buys_once_in_every_design() {
    let scn = double_clicks();
    for design in Design::ALL {
        let report = run_with(&scn, design, 1, None, RunOptions::default()).expect("runs");
        let check = report
            .checks
            .iter()
            .find(|c| c.name == "one-order-per-cart")
            .expect("the check ran");
        assert_eq!(
            check.status,
            Status::Held,
            "{design:?}: {:?}",
            check.examples
        );
        assert!(report.orders > 0, "{design:?} took orders");
    }
}

/// Shoppers with a second tab open: it adds to the cart or reads the order history while
/// checkout runs, so two requests of one session race in the shop. Checkout costs more CPU
/// than usual, so that the tab's add often writes the session before checkout reads it.
fn second_tabs() -> scalelab_sim::Scenario {
    let text = common::small_text(30.0, 30.0).replace(
        "view_orders = 0.3 }",
        "view_orders = 0.3, double_click = 0.2, second_tab = 0.6 }",
    );
    let app = "[app]\nbrowse_cpu_ms = 4\nproduct_cpu_ms = 2\nlogin_cpu_ms = 1\ncart_cpu_ms = 1.5\n\
               checkout_cpu_ms = 30\norders_cpu_ms = 3\nsession_ttl_s = 1800\ncatalog_page_size = 20\n";
    scalelab_sim::parse(&format!("{text}\n{app}")).expect("valid scenario")
}

#[test]
fn two_tabs_racing_a_checkout_are_judged_by_what_each_tab_was_told() {
    // The tab's add and the checkout both read the session and write it back: the checkout
    // may charge the cart with or without the added product, and the cart after both may be
    // empty, hold the product, or hold what was just paid for (the add wrote its copy over
    // the emptied cart). A browser cannot tell which; the checkers must not call it a bug,
    // nor stop judging what each tab was told.
    let scn = second_tabs();
    for design in Design::ALL {
        let report = run_with(&scn, design, 1, None, RunOptions::default()).expect("runs");
        for check in [
            "cart-exact",
            "cart-survives",
            "read-your-writes",
            "one-order-per-cart",
        ] {
            let c = report.checks.iter().find(|c| c.name == check).expect("ran");
            assert_eq!(
                c.status,
                Status::Held,
                "{design:?} {check}: {:?}",
                c.examples
            );
        }
        let exact = report
            .checks
            .iter()
            .find(|c| c.name == "cart-exact")
            .expect("ran");
        assert!(exact.exercised, "{design:?}: {}", exact.note);
        assert!(
            !exact.note.contains(" 0 add(s) from a second tab"),
            "{design:?}: second tabs added while checkout ran: {}",
            exact.note
        );
    }
    // And the bug cart-exact is for is still caught when tabs race.
    let bugs = Bugs {
        save_only_growing_carts: true,
        ..Bugs::default()
    };
    let found = caught(&scn, Design::Horizontal, bugs, "cart-exact");
    assert!(
        found.contains("the cart last showed") || found.contains("did not put there or removed"),
        "{found}"
    );
}

#[test]
fn a_database_that_lets_one_cart_become_two_orders_is_caught() {
    let bugs = Bugs {
        cart_paid_twice: true,
        ..Bugs::default()
    };
    for design in Design::ALL {
        let found = caught(&double_clicks(), design, bugs, "one-order-per-cart");
        assert!(found.contains("one cart, one payment"), "{found}");
    }
}

#[test]
fn a_mail_client_without_idempotency_keys_sends_a_retried_confirmation_twice() {
    // A provider slower than the shop's patience: many sends time out after the provider
    // took them, and the worker sends again. With the key, the provider recognises the
    // repeat and the customer gets one email; without it, the retry is a second email.
    let scn = scenario("[mail]\nlatency_ms_mean = 400\ntimeout_ms = 300\n");
    let clean = run_with(&scn, Design::Queued, 1, None, RunOptions::default()).expect("runs");
    let check = clean
        .checks
        .iter()
        .find(|c| c.name == "one-confirmation-email")
        .expect("the check ran");
    assert_eq!(check.status, Status::Held, "{check:?}");
    assert!(
        !check.note.contains(" 0 repeat send(s)"),
        "the slow provider made the shop retry, and the key made the retries harmless: {}",
        check.note
    );
    // The report tells the sends from the deliveries: the retries were sent, not delivered,
    // and each acknowledged order's one email reached an inbox.
    assert!(
        clean.emails_sent > clean.emails_delivered,
        "{} sent, {} delivered",
        clean.emails_sent,
        clean.emails_delivered
    );
    assert!(
        clean.emails_delivered >= clean.orders,
        "{} delivered",
        clean.emails_delivered
    );
    let bugs = Bugs {
        email_without_key: true,
        ..Bugs::default()
    };
    let buggy = run_with(
        &scn,
        Design::Queued,
        1,
        None,
        RunOptions {
            bugs,
            ..Default::default()
        },
    )
    .expect("runs");
    let check = buggy
        .checks
        .iter()
        .find(|c| c.name == "one-confirmation-email")
        .expect("the check ran");
    assert_eq!(check.status, Status::Violated);
    let texts: Vec<&str> = check.examples.iter().map(|v| v.message.as_str()).collect();
    assert!(
        texts
            .iter()
            .any(|m| m.contains("confirmation emails delivered for one order")),
        "a retried send became a second email: {texts:?}"
    );
    // Without a key, every send is a finding, even where no retry came (the naive design
    // does its side work inline and does not retry).
    let found = caught(
        &scenario(""),
        Design::Vertical,
        bugs,
        "one-confirmation-email",
    );
    assert!(found.contains("idempotency key"), "{found}");
}

#[test]
fn a_worker_that_skips_a_failed_job_leaves_side_work_undone() {
    // The database goes away for a few seconds while orders flow: stock movements and
    // labels fail. The correct worker retries until they are done; the buggy one commits
    // the message and moves on, and nothing else would ever notice.
    let faults = "[[faults]]\nat_s = 8\nkind = \"db-down\"\ntarget = \"db\"\nduration_s = 4\n";
    let bugs = Bugs {
        skip_failed_jobs: true,
        ..Bugs::default()
    };
    let found = caught(&scenario(faults), Design::Queued, bugs, "queue-drained");
    assert!(
        found.contains("at the end of the drain it has no"),
        "{found}"
    );
}

#[test]
fn a_session_store_that_saves_only_growing_carts_charges_for_a_removed_item() {
    let bugs = Bugs {
        save_only_growing_carts: true,
        ..Bugs::default()
    };
    for design in [Design::Vertical, Design::Horizontal] {
        let found = caught(&scenario(""), design, bugs, "cart-exact");
        assert!(
            found.contains("did not put there") || found.contains("the cart last showed"),
            "{found}"
        );
    }
}

#[test]
fn a_router_that_reads_history_by_modulo_hides_acknowledged_orders() {
    // The default shard map is consistent hashing: modulo picks another shard for most.
    let bugs = Bugs {
        history_by_modulo: true,
        ..Bugs::default()
    };
    let found = caught(&scenario(""), Design::Sharded, bugs, "read-your-writes");
    assert!(found.contains("missing from the history"), "{found}");
}

#[test]
fn a_violations_trail_centres_on_its_moment_and_names_the_faults_in_force() {
    // The buggy session cache loses carts while a slow database is in force (5 s to 25 s):
    // the trail of a loss at, say, 12 s starts with that fault, then shows the events just
    // before the moment and the ones just after, not the last events of the run.
    let faults =
        "[[faults]]\nat_s = 5\nkind = \"slow\"\ntarget = \"db\"\nfactor = 2\nduration_s = 20\n\
                  [[faults]]\nat_s = 15\nkind = \"kill\"\ntarget = \"app\"\nrestart_after_s = 2\n";
    let bugs = Bugs {
        cart_in_memory: true,
        ..Bugs::default()
    };
    let report = run_with(
        &scenario(faults),
        Design::Horizontal,
        1,
        None,
        RunOptions {
            bugs,
            ..Default::default()
        },
    )
    .expect("runs");
    let check = report
        .checks
        .iter()
        .find(|c| c.name == "cart-survives")
        .expect("the check ran");
    let v = check
        .examples
        .iter()
        .find(|v| (5.0..25.0).contains(&v.at_s))
        .expect("a cart lost while the database was slow");
    assert!(
        v.trail
            .first()
            .is_some_and(|l| l.contains("in force then: slow db")),
        "{:#?}",
        v.trail
    );
    let times: Vec<f64> = v
        .trail
        .iter()
        .filter(|l| !l.contains("in force then"))
        .filter_map(|l| l.trim().split(' ').next()?.parse().ok())
        .collect();
    assert!(
        times.iter().all(|&t| t <= v.at_s + 30.0) && times.iter().any(|&t| t <= v.at_s),
        "the events around {} s: {:#?}",
        v.at_s,
        v.trail
    );
}

#[test]
fn a_router_whose_sales_report_reads_one_shard_is_caught_by_read_your_writes() {
    // A fault makes the run end with the liveness phase, which reads the admin's report
    // after the probe's order; the checker compares it with what the databases hold.
    let faults = "[[faults]]\nat_s = 10\nkind = \"kill\"\ntarget = \"app\"\nrestart_after_s = 2\n";
    let bugs = Bugs {
        report_first_shard_only: true,
        ..Bugs::default()
    };
    let found = caught(&scenario(faults), Design::Sharded, bugs, "read-your-writes");
    assert!(found.starts_with("admin sales report"), "{found}");
}

#[test]
fn a_checkout_breaker_that_never_closes_is_caught_by_recovers() {
    // The database is cut off from the app for 3 s, 20 s in. The correct shop fails the
    // checkouts of those seconds and then sells again; the buggy breaker opened on the first
    // failed placement and never closes, so the shop sells nothing more, on every design.
    let text = format!(
        "{}\n[[faults]]\nat_s = 20\nkind = \"kill\"\ntarget = \"db\"\nrestart_after_s = 3\n\
         [checks]\ndrain_s = 30\nlag_recovery_s = 20\nrecovery_s = 10\n",
        common::small_text(30.0, 45.0)
    );
    let scn = scalelab_sim::parse(&text).expect("valid scenario");
    let bugs = Bugs {
        checkout_breaker_never_closes: true,
        ..Bugs::default()
    };
    for design in Design::ALL {
        caught(&scn, design, bugs, "recovers");
    }
}

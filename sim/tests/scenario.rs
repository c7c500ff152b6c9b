//! The scenario rules: every error says what was expected and points at the offending text.

mod common;

use scalelab_sim::scenario::parse;

/// Parses `text`, expects an error, and returns (message, the text the error points at).
fn error(text: &str) -> (String, String) {
    match parse(text) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => {
            let at = e
                .span
                .clone()
                .map(|s| text[s].to_owned())
                .unwrap_or_default();
            (e.message, at)
        }
    }
}

#[test]
fn the_test_scenario_and_the_shipped_ones_are_valid() {
    parse(&common::small_text(10.0, 10.0)).expect("test scenario");
    for entry in
        std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios")).expect("scenarios/")
    {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            let text = std::fs::read_to_string(&path).expect("read");
            if let Err(e) = parse(&text) {
                panic!("{}: {e}", path.display());
            }
        }
    }
}

#[test]
fn unknown_keys_are_rejected() {
    let text = common::small_text(10.0, 10.0).replace("think_time_ms_mean", "think_time_mean");
    let (msg, at) = error(&text);
    assert!(
        msg.starts_with("unknown field `think_time_mean`, expected one of"),
        "{msg}"
    );
    assert_eq!(at, "think_time_mean");
}

#[test]
fn a_negative_rate_is_impossible() {
    let text = common::small_text(10.0, 10.0).replace("sessions_per_s = 10", "sessions_per_s = -5");
    let (msg, at) = error(&text);
    assert_eq!(msg, "expected a number >= 0, found -5");
    assert_eq!(at, "-5");
}

#[test]
fn wrong_types_say_what_was_expected() {
    let text = common::small_text(10.0, 10.0).replace("customers = 1000", "customers = \"many\"");
    let (msg, at) = error(&text);
    assert!(msg.contains("invalid type: string \"many\""), "{msg}");
    assert!(msg.contains("nonzero u32"), "{msg}");
    assert_eq!(at, "\"many\"");
}

#[test]
fn zero_cores_is_impossible() {
    let text = common::small_text(10.0, 10.0).replace("cores = 4", "cores = 0");
    let (msg, at) = error(&text);
    assert!(msg.contains("nonzero"), "{msg}");
    assert_eq!(at, "0");
}

#[test]
fn a_probability_stays_between_0_and_1() {
    let text = common::small_text(10.0, 10.0).replace("checkout = 0.7", "checkout = 1.5");
    let (msg, at) = error(&text);
    assert_eq!(msg, "expected a probability from 0 to 1, found 1.5");
    assert_eq!(at, "1.5");
}

#[test]
fn curve_points_must_be_in_time_order() {
    let text = common::small_text(10.0, 10.0).replace(
        "curve = [{ at_s = 0, sessions_per_s = 10 }]",
        "curve = [{ at_s = 30, sessions_per_s = 10 }, { at_s = 20, sessions_per_s = 5 }]",
    );
    let (msg, at) = error(&text);
    assert_eq!(
        msg,
        "curve points must be in time order: 20 s comes after 30 s"
    );
    assert_eq!(at, "20");
}

#[test]
fn an_open_workload_needs_a_curve_and_a_closed_one_users() {
    let text = common::small_text(10.0, 10.0).replace("model = \"open\"", "model = \"closed\"");
    let (msg, _) = error(&text);
    assert_eq!(msg, "a closed workload needs `users`");
    let text = common::small_text(10.0, 10.0).replace("model = \"open\"", "model = \"sideways\"");
    let (msg, at) = error(&text);
    assert!(
        msg.starts_with("unknown variant `sideways`, expected `open` or `closed`"),
        "{msg}"
    );
    assert_eq!(at, "\"sideways\"");
}

#[test]
fn the_network_resolves_hops_from_ten_microseconds() {
    let net = |lines: &str| format!("{}\n[network]\n{lines}\n", common::small_text(10.0, 10.0));
    let (msg, at) = error(&net("latency_ms_min = 0.005\nlatency_ms_max = 2"));
    assert!(
        msg.starts_with(
            "latency_ms_min is 0.005, but the simulator resolves hops from 0.01 ms (10 us) up"
        ),
        "{msg}"
    );
    assert_eq!(at, "0.005");
    let (msg, at) = error(&net("latency_ms_min = 3\nlatency_ms_max = 2"));
    assert_eq!(msg, "latency_ms_max (2) is below latency_ms_min (3)");
    assert_eq!(at, "2");
    // 10 us is allowed, and so is a 50 us data-centre hop.
    let ok = parse(&net("latency_ms_min = 0.01\nlatency_ms_max = 0.05")).expect("10-50 us");
    assert_eq!(ok.network.latency_ms_min.get_ref().0, 0.01);
    assert_eq!(ok.network.latency_ms_max.get_ref().0, 0.05);
}

#[test]
fn a_network_preset_names_its_latencies_and_excludes_its_own() {
    let net = |lines: &str| format!("{}\n[network]\n{lines}\n", common::small_text(10.0, 10.0));
    let got = |lines: &str| {
        let s = parse(&net(lines)).expect("valid");
        (
            s.network.latency_ms_min.get_ref().0,
            s.network.latency_ms_max.get_ref().0,
        )
    };
    assert_eq!(got("preset = \"loopback\""), (0.01, 0.03));
    assert_eq!(got("preset = \"data-centre\""), (0.1, 0.5));
    // No [network] at all: the data-centre preset.
    let none = parse(&common::small_text(10.0, 10.0)).expect("valid");
    assert_eq!(none.network.latency_ms_min.get_ref().0, 0.1);
    assert_eq!(none.network.latency_ms_max.get_ref().0, 0.5);
    // A min alone keeps the preset's max unless that is below it.
    assert_eq!(got("latency_ms_min = 2"), (2.0, 2.0));
    let (msg, at) = error(&net("preset = \"loopback\"\nlatency_ms_max = 2"));
    assert_eq!(
        msg,
        "a network preset sets both latencies: remove this line, or the preset"
    );
    assert_eq!(at, "2");
    let (msg, at) = error(&net("preset = \"lan\""));
    assert!(
        msg.starts_with("unknown variant `lan`, expected `data-centre` or `loopback`"),
        "{msg}"
    );
    assert_eq!(at, "\"lan\"");
}

#[test]
fn bad_syntax_points_at_the_line() {
    let text = common::small_text(10.0, 10.0).replace("duration_s = 10", "duration_s = = 10");
    let e = parse(&text).expect_err("syntax error");
    let span = e.span.expect("a position");
    let line = text[..span.start].matches('\n').count() + 1;
    assert_eq!(line, 3, "duration_s is on line 3");
    assert!(e.message.contains("invalid"), "{}", e.message);
}

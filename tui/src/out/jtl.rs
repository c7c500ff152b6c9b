//! `DESIGN.jtl`: a design's requests in JMeter's CSV result format, with JMeter's default
//! header and one row per request (all of them, or the even sample the run kept: see
//! `metrics::RequestLog`), so JMeter's own report generator and other JTL readers load it.
//!
//! Times are virtual: `timeStamp` is the request's intended start in milliseconds since the
//! run began (not since 1970), `elapsed` its latency from then. What the simulator does not
//! measure is written as 0 (bytes, connect time).
//!
//! Must not: sample or reorder what the run kept; rows are in the order requests ended.

use std::io::{self, Write};

use scalelab_sim::harness::report::Recording;
use scalelab_sim::metrics::{Outcome, RequestRecord};
use scalelab_sim::world::host::Kind;
use scalelab_sim::Report;

/// JMeter's default CSV columns, in its order.
pub const HEADER: &str = "timeStamp,elapsed,label,responseCode,responseMessage,threadName,dataType,success,failureMessage,bytes,sentBytes,grpThreads,allThreads,URL,Latency,IdleTime,Connect";

/// Writes the header and a row per kept request.
pub fn write(w: &mut dyn Write, report: &Report, rec: &Recording) -> io::Result<()> {
    writeln!(w, "{HEADER}")?;
    for r in &rec.requests.records {
        row(w, report, r)?;
    }
    Ok(())
}

fn row(w: &mut dyn Write, report: &Report, r: &RequestRecord) -> io::Result<()> {
    let start_ms = r.start_us() / 1000;
    let elapsed = r.latency_us / 1000;
    let (code, message, latency) = match r.outcome {
        Outcome::Status(s) => (s.to_string(), reason(s), elapsed),
        Outcome::Timeout => (
            "Non HTTP response code: timeout".to_owned(),
            "Non HTTP response message: no answer within the SLO timeout",
            0,
        ),
        Outcome::Connect => (
            "Non HTTP response code: connect".to_owned(),
            "Non HTTP response message: the connection could not be made",
            0,
        ),
        Outcome::Broken => (
            "Non HTTP response code: broken".to_owned(),
            "Non HTTP response message: the connection broke mid-request",
            0,
        ),
    };
    let failure = if r.in_slo {
        String::new()
    } else {
        match r.outcome {
            Outcome::Status(s) if s >= 500 => format!("server error {s}"),
            Outcome::Status(_) => format!(
                "answered after the {} ms SLO timeout",
                report.slo_timeout_ms
            ),
            other => other.error_name(),
        }
    };
    writeln!(
        w,
        "{start_ms},{elapsed},{},{code},{message},{} 1-{},{},{},{failure},0,0,{},{},{},{latency},0,0",
        r.kind.name(),
        report.design,
        r.session,
        if matches!(r.outcome, Outcome::Status(_)) {
            "text"
        } else {
            ""
        },
        r.in_slo,
        r.active_sessions,
        r.active_sessions,
        path(r.kind),
    )
}

/// The route a kind of request takes (the cart's three share one prefix).
fn path(kind: Kind) -> &'static str {
    match kind {
        Kind::Browse => "/products",
        Kind::Product => "/products/{id}",
        Kind::Login => "/login",
        Kind::Cart => "/cart",
        Kind::Checkout => "/checkout",
        Kind::Orders => "/orders",
        Kind::Other => "/",
    }
}

/// The reason phrase of the statuses the shop answers with (no commas: the CSV is unquoted).
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        409 => "Conflict",
        413 => "Payload Too Large",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

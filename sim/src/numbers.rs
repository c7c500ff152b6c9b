//! Numbers with a rule (`NonNegative`, `Positive`, `Probability`), checked as they are read so
//! that a scenario's error points at the number that broke it.
//!
//! A module of its own because the scenario's schema, the fault vocabulary and the workload
//! all use them, and none of those should import another just for a number type.
//!
//! Must not: know what the numbers mean.

use std::fmt;

use serde::de::{Deserializer, Error as _};
use serde::{Deserialize, Serialize};

// Numbers with a rule, checked as they are read so that the error points at the number.
macro_rules! checked_f64 {
    ($(#[$doc:meta])* $name:ident, $ok:expr, $expected:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize)]
        #[serde(transparent)]
        pub struct $name(pub f64);

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let v = d.deserialize_any(NumberVisitor($expected))?;
                let ok: fn(f64) -> bool = $ok;
                if v.is_finite() && ok(v) {
                    Ok($name(v))
                } else {
                    Err(D::Error::custom(format!(concat!("expected ", $expected, ", found {}"), v)))
                }
            }
        }
    };
}

/// Reads any TOML number as f64, and says what the field wanted when given something else.
struct NumberVisitor(&'static str);

impl serde::de::Visitor<'_> for NumberVisitor {
    type Value = f64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }

    fn visit_f64<E>(self, v: f64) -> Result<f64, E> {
        Ok(v)
    }

    fn visit_i64<E>(self, v: i64) -> Result<f64, E> {
        Ok(v as f64)
    }

    fn visit_u64<E>(self, v: u64) -> Result<f64, E> {
        Ok(v as f64)
    }
}

checked_f64!(
    /// A number that cannot be negative: a rate, a cost, a latency.
    NonNegative, |v| v >= 0.0, "a number >= 0"
);
checked_f64!(
    /// A number that must be above zero: a duration, a mean.
    Positive, |v| v > 0.0, "a number > 0"
);
checked_f64!(
    /// A probability.
    Probability, |v| (0.0..=1.0).contains(&v), "a probability from 0 to 1"
);

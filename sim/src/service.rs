//! Service-time distributions: how the time a piece of work takes varies around its mean
//! (`fixed`, `exponential`, `lognormal` with a coefficient of variation), as a scenario writes
//! them and as the simulated world draws them.
//!
//! A scenario names one with `service = "exponential"` or
//! `service = { dist = "lognormal", cv = 1.5 }`; the value is checked as it is read, so that a
//! mistake is reported at its line and column.
//!
//! The draws use the pure-Rust `libm` crate, not `f64::ln`/`exp`: std's call the platform's C
//! maths library, whose last bits differ between glibc, musl, macOS and Windows, and the same
//! seed must draw the same service times on every OS. `fixed` draws nothing, so a scenario
//! that leaves every distribution at its default consumes no randomness here and keeps its
//! trace hash.
//!
//! Must not: know what the time is spent on (the world's hosts, database and mail provider
//! decide what a mean is and which generator to draw from).

use std::fmt;
use std::time::Duration;

use rand::Rng;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

/// The largest coefficient of variation a lognormal may have. At 10 a draw can already be
/// 10^8 times its mean (Box-Muller's normal reaches 8.6 sigma); beyond it a handful of draws
/// would hold a whole run.
pub const MAX_CV: f64 = 10.0;

/// No single draw lasts longer than this: a simulated day, the longest run there is. Keeps a
/// far tail from overflowing the simulator's clock.
const MAX_DRAW: Duration = Duration::from_secs(86_400);

/// How a service time varies around its mean.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Service {
    /// Always the mean (a deterministic server: M/D/1's D).
    Fixed,
    /// Exponential around the mean (memoryless: M/M/1's second M); its CV is 1.
    Exponential,
    /// Lognormal with the mean and this coefficient of variation (standard deviation / mean):
    /// the long right tail of real request times.
    Lognormal { cv: f64 },
}

impl Service {
    /// The coefficient of variation of this distribution (0 for `fixed`).
    pub fn cv(self) -> f64 {
        match self {
            Service::Fixed => 0.0,
            Service::Exponential => 1.0,
            Service::Lognormal { cv } => cv,
        }
    }

    /// One service time with mean `mean_ms`, in milliseconds. `Fixed` (and a mean of zero)
    /// returns the mean without touching `rng`.
    pub fn draw_ms<R: Rng + ?Sized>(self, mean_ms: f64, rng: &mut R) -> f64 {
        if mean_ms <= 0.0 {
            return mean_ms.max(0.0);
        }
        match self {
            Service::Fixed => mean_ms,
            Service::Exponential => crate::draw::unit_exponential(rng) * mean_ms,
            Service::Lognormal { cv } => {
                // ln X ~ N(mu, sigma^2) with sigma^2 = ln(1 + cv^2) and mu = ln(mean) -
                // sigma^2/2, so that E[X] = mean and sd(X)/E[X] = cv. The normal is drawn
                // by Box-Muller (its cosine half; two uniforms per draw keep draws
                // independent of each other's order).
                let (u1, u2): (f64, f64) = (rng.gen(), rng.gen());
                let z = libm::sqrt(-2.0 * libm::log(1.0 - u1))
                    * libm::cos(2.0 * std::f64::consts::PI * u2);
                let sigma2 = libm::log1p(cv * cv);
                mean_ms * libm::exp(libm::sqrt(sigma2) * z - sigma2 / 2.0)
            }
        }
    }

    /// [`Service::draw_ms`] as a duration, at most a simulated day.
    pub fn draw<R: Rng + ?Sized>(self, mean: Duration, rng: &mut R) -> Duration {
        if self == Service::Fixed {
            return mean;
        }
        ms_to_duration(self.draw_ms(mean.as_secs_f64() * 1000.0, rng))
    }

    /// The first of `choices` that is set, else `fallback`: a per-kind setting over the
    /// section's, over the default.
    pub fn pick(choices: &[Option<Service>], fallback: Service) -> Service {
        choices.iter().flatten().next().copied().unwrap_or(fallback)
    }
}

/// A drawn time in milliseconds as a duration, at most a simulated day (a far tail must not
/// overflow the simulator's clock).
pub fn ms_to_duration(ms: f64) -> Duration {
    Duration::try_from_secs_f64(ms / 1000.0)
        .unwrap_or(MAX_DRAW)
        .min(MAX_DRAW)
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Service::Fixed => f.write_str("fixed"),
            Service::Exponential => f.write_str("exponential"),
            Service::Lognormal { cv } => write!(f, "lognormal (cv {cv})"),
        }
    }
}

const EXPECTED: &str = "\"fixed\", \"exponential\" or { dist = \"lognormal\", cv = 1.5 }";

/// Checks a distribution's name and its `cv` together (a string has no `cv`).
fn build<E: de::Error>(dist: &str, cv: Option<f64>) -> Result<Service, E> {
    match (dist, cv) {
        ("fixed", None) => Ok(Service::Fixed),
        ("exponential", None) => Ok(Service::Exponential),
        ("fixed" | "exponential", Some(_)) => Err(E::custom(format!(
            "`cv` applies only to dist = \"lognormal\": {dist} service times have a CV of {} \
             by definition",
            if dist == "fixed" { 0 } else { 1 }
        ))),
        ("lognormal", None) => Err(E::custom(
            "a lognormal service time needs its coefficient of variation: \
             { dist = \"lognormal\", cv = 1.5 }",
        )),
        ("lognormal", Some(cv)) if cv.is_finite() && cv > 0.0 && cv <= MAX_CV => {
            Ok(Service::Lognormal { cv })
        }
        ("lognormal", Some(cv)) => Err(E::custom(format!(
            "cv is {cv}, but a lognormal's coefficient of variation must be above 0 and at \
             most {MAX_CV} (beyond it single draws run to 10^8 times the mean)"
        ))),
        (other, _) => Err(E::custom(format!(
            "unknown service-time distribution \"{other}\": expected {EXPECTED}"
        ))),
    }
}

struct ServiceVisitor;

impl<'de> Visitor<'de> for ServiceVisitor {
    type Value = Service;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(EXPECTED)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Service, E> {
        build(v, None)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Service, A::Error> {
        let (mut dist, mut cv): (Option<String>, Option<f64>) = (None, None);
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "dist" => dist = Some(map.next_value()?),
                "cv" => cv = Some(map.next_value::<crate::numbers::Positive>()?.0),
                other => {
                    return Err(de::Error::custom(format!(
                        "unknown key `{other}` in a service-time distribution: expected \
                         `dist` and, for a lognormal, `cv`"
                    )))
                }
            }
        }
        let dist = dist.ok_or_else(|| {
            de::Error::custom(format!(
                "a service-time table needs `dist`: expected {EXPECTED}"
            ))
        })?;
        build(&dist, cv)
    }
}

impl<'de> Deserialize<'de> for Service {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ServiceVisitor)
    }
}

/// Written back as it is read: a name, or a table for a lognormal (the shrinker edits and
/// re-reads scenarios through this).
impl Serialize for Service {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Service::Fixed => s.serialize_str("fixed"),
            Service::Exponential => s.serialize_str("exponential"),
            Service::Lognormal { cv } => {
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("dist", "lognormal")?;
                m.serialize_entry("cv", cv)?;
                m.end()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// Sample mean and coefficient of variation of `n` draws of mean 20.
    fn moments(service: Service, seed: u64, n: usize) -> (f64, f64) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let draws: Vec<f64> = (0..n).map(|_| service.draw_ms(20.0, &mut rng)).collect();
        let mean = draws.iter().sum::<f64>() / n as f64;
        let var = draws.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        (mean, var.sqrt() / mean)
    }

    #[test]
    fn fixed_is_the_mean_and_draws_nothing() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let before = rng.clone();
        assert_eq!(Service::Fixed.draw_ms(20.0, &mut rng), 20.0);
        assert_eq!(
            Service::Fixed.draw(Duration::from_millis(3), &mut rng),
            Duration::from_millis(3)
        );
        assert_eq!(rng, before, "fixed must not consume randomness");
    }

    #[test]
    fn exponential_has_its_mean_and_a_cv_of_one() {
        // 400,000 draws: the standard error of the mean is 0.16%, of the CV about 0.3%.
        for seed in [1, 2, 3] {
            let (mean, cv) = moments(Service::Exponential, seed, 400_000);
            assert!((mean / 20.0 - 1.0).abs() < 0.01, "seed {seed}: mean {mean}");
            assert!((cv - 1.0).abs() < 0.02, "seed {seed}: cv {cv}");
        }
    }

    #[test]
    fn lognormal_has_its_mean_and_cv() {
        // The sample CV of a heavy tail converges slowly (its standard error grows with the
        // fourth moment), so the tolerance widens with cv.
        for (cv, n, tol) in [
            (0.25, 200_000, 0.01),
            (0.5, 400_000, 0.02),
            (1.5, 2_000_000, 0.06),
        ] {
            let (mean, got) = moments(Service::Lognormal { cv }, 11, n);
            assert!((mean / 20.0 - 1.0).abs() < 0.01, "cv {cv}: mean {mean}");
            assert!((got / cv - 1.0).abs() < tol, "cv {cv}: sample cv {got}");
        }
    }

    #[test]
    fn draws_are_pinned() {
        // The same seed draws the same bits on every OS (libm, not the C library): pinned.
        let mut rng = ChaCha8Rng::seed_from_u64(42);
        let e = Service::Exponential.draw_ms(20.0, &mut rng);
        let l = Service::Lognormal { cv: 1.5 }.draw_ms(20.0, &mut rng);
        assert_eq!((e.to_bits(), l.to_bits()), (PINNED_E, PINNED_L), "{e} {l}");
    }
    const PINNED_E: u64 = 4_627_141_119_842_210_581; // 22.9075502036895
    const PINNED_L: u64 = 4_607_262_616_163_694_080; // 1.0178073919336157

    #[test]
    fn a_huge_draw_is_capped_at_a_day() {
        struct Zero;
        impl rand::RngCore for Zero {
            fn next_u32(&mut self) -> u32 {
                u32::MAX
            }
            fn next_u64(&mut self) -> u64 {
                u64::MAX
            }
            fn fill_bytes(&mut self, d: &mut [u8]) {
                d.fill(0xff)
            }
            fn try_fill_bytes(&mut self, d: &mut [u8]) -> Result<(), rand::Error> {
                d.fill(0xff);
                Ok(())
            }
        }
        let d = Service::Exponential.draw(Duration::from_secs(3600), &mut Zero);
        assert_eq!(d, MAX_DRAW);
    }

    #[derive(Deserialize, Debug)]
    struct Doc {
        service: Service,
    }

    fn read(v: &str) -> Result<Service, String> {
        toml::from_str::<Doc>(&format!("service = {v}"))
            .map(|d| d.service)
            .map_err(|e| e.message().to_owned())
    }

    #[test]
    fn reads_every_shape_and_refuses_with_reasons() {
        assert_eq!(read("\"fixed\""), Ok(Service::Fixed));
        assert_eq!(read("\"exponential\""), Ok(Service::Exponential));
        assert_eq!(read("{ dist = \"exponential\" }"), Ok(Service::Exponential));
        assert_eq!(
            read("{ dist = \"lognormal\", cv = 1.5 }"),
            Ok(Service::Lognormal { cv: 1.5 })
        );
        let err = |v: &str| read(v).err().unwrap_or_default();
        assert!(err("\"gamma\"").contains("unknown service-time distribution \"gamma\""));
        assert!(err("\"lognormal\"").contains("needs its coefficient of variation"));
        assert!(err("{ dist = \"exponential\", cv = 2 }").contains("CV of 1 by definition"));
        assert!(err("{ dist = \"lognormal\", cv = 11 }").contains("at most 10"));
        assert!(err("{ dist = \"lognormal\", cv = 0 }").contains("a number > 0"));
        assert!(err("{ cv = 1 }").contains("needs `dist`"));
        assert!(err("{ dist = \"lognormal\", sd = 1 }").contains("unknown key `sd`"));
        assert!(err("3").contains("expected \"fixed\""));
    }

    #[test]
    fn writes_what_it_reads() {
        for s in [
            Service::Fixed,
            Service::Exponential,
            Service::Lognormal { cv: 0.5 },
        ] {
            let text = toml::to_string(&Doc2 { service: s }).unwrap_or_default();
            let back = toml::from_str::<Doc>(&text).map(|d| d.service);
            assert_eq!(back.ok(), Some(s), "{text}");
        }
    }

    #[derive(Serialize)]
    struct Doc2 {
        service: Service,
    }
}

//! Random draws that need more than a uniform number: the exponential (arrivals, think time,
//! patience, service times) and Zipf's law (which customer shops, which product is viewed).
//!
//! Every logarithm, power and exponential here comes from the pure-Rust `libm` crate. Rust's
//! `f64::ln`, `exp` and `powf` call the platform's C maths library, whose last bits differ
//! between glibc, musl, macOS and Windows; one different bit in an arrival instant moves every
//! later event and the trace hash. With `libm`, the same seed draws the same numbers on every
//! OS and CPU, and a README hash holds on any machine.
//!
//! Must not: keep state between draws or pick its own generator (callers pass the stream of
//! the purpose they draw for, so one purpose's draws never shift another's).

use rand::Rng;

/// An exponential draw with mean 1, by inverting the distribution function: `-ln(1 - u)`.
/// `1 - u` is in (0, 1], so the result is finite and at least 0. Costs one uniform.
pub fn unit_exponential<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    let u: f64 = rng.gen();
    -libm::log(1.0 - u)
}

/// Zipf's law over 1..=n with exponent `s`: P(k) proportional to 1 / k^s. `s = 0` is uniform;
/// the larger `s`, the more the first few ranks (the popular customers and products) dominate.
///
/// Drawn by rejection-inversion (W. Hörmann and G. Derflinger, "Rejection-inversion to
/// generate variates from monotone discrete distributions", 1996): invert the integral of the
/// continuous 1/x^s, round to the nearest rank, and accept unless the point lies in the thin
/// sliver where the continuous hat is above the discrete bar. It takes constant time and
/// memory for any n (customers go up to 10^8, too many for a table), and accepts more than
/// nine draws in ten for every n and s.
#[derive(Debug, Clone, Copy)]
pub struct Zipf {
    n: f64,
    s: f64,
    /// `big_h(1.5) - 1`: the hat's integral at the left edge, shifted so rank 1 is always
    /// accepted when it is hit.
    h_x1: f64,
    /// `big_h(n + 0.5)`: the hat's integral at the right edge.
    h_n: f64,
    /// Points this close to their rank are accepted without the second test.
    squeeze: f64,
}

impl Zipf {
    /// Ranks 1..=n (n >= 1; a 0 is taken as 1) with exponent `s` (s >= 0; a negative or
    /// non-finite exponent is taken as 0, uniform). The scenario's rules keep both in range;
    /// this stays total anyway.
    pub fn new(n: u64, s: f64) -> Zipf {
        let s = if s.is_finite() && s > 0.0 { s } else { 0.0 };
        let n = n.max(1) as f64;
        let mut z = Zipf {
            n,
            s,
            h_x1: 0.0,
            h_n: 0.0,
            squeeze: 0.0,
        };
        z.h_x1 = z.big_h(1.5) - 1.0;
        z.h_n = z.big_h(n + 0.5);
        z.squeeze = 2.0 - z.big_h_inv(z.big_h(2.5) - z.h(2.0));
        z
    }

    /// One rank in 1..=n.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> u64 {
        loop {
            let u: f64 = rng.gen();
            // Uniform over the hat's integral, from the right edge towards the left.
            let v = self.h_n + u * (self.h_x1 - self.h_n);
            let x = self.big_h_inv(v);
            let k = libm::floor(x + 0.5).clamp(1.0, self.n);
            if k - x <= self.squeeze || v >= self.big_h(k + 0.5) - self.h(k) {
                return k as u64;
            }
        }
    }

    /// The unnormalised probability of rank x: 1 / x^s.
    fn h(&self, x: f64) -> f64 {
        libm::exp(-self.s * libm::log(x))
    }

    /// An antiderivative of h: (x^(1-s) - 1) / (1 - s), and ln x when s = 1, written so that
    /// it stays accurate as s approaches 1.
    fn big_h(&self, x: f64) -> f64 {
        let ln_x = libm::log(x);
        expm1_over_x((1.0 - self.s) * ln_x) * ln_x
    }

    /// The inverse of `big_h`.
    fn big_h_inv(&self, y: f64) -> f64 {
        let t = (1.0 - self.s) * y;
        // (1 + t) must stay positive; rounding at the far edge can push it a hair below.
        libm::exp(log1p_over_x(t.max(-1.0 + f64::EPSILON)) * y)
    }
}

/// (e^x - 1) / x, and its limit 1 at x = 0.
fn expm1_over_x(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        libm::expm1(x) / x
    } else {
        1.0 + x / 2.0 * (1.0 + x / 3.0)
    }
}

/// ln(1 + x) / x, and its limit 1 at x = 0.
fn log1p_over_x(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        libm::log1p(x) / x
    } else {
        1.0 - x / 2.0 * (1.0 - 2.0 * x / 3.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// Draws `draws` ranks and compares each rank's share with 1/k^s over the harmonic sum.
    fn assert_follows_zipf(n: u64, s: f64, draws: u32) {
        let z = Zipf::new(n, s);
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut counts = vec![0u32; n as usize + 1];
        for _ in 0..draws {
            let k = z.sample(&mut rng);
            assert!((1..=n).contains(&k), "rank {k} outside 1..={n}");
            counts[k as usize] += 1;
        }
        let norm: f64 = (1..=n).map(|k| (k as f64).powf(-s)).sum();
        for k in 1..=n.min(10) {
            let expected = (k as f64).powf(-s) / norm;
            let seen = f64::from(counts[k as usize]) / f64::from(draws);
            let sd = (expected * (1.0 - expected) / f64::from(draws)).sqrt();
            assert!(
                (seen - expected).abs() < 5.0 * sd + 1e-4,
                "n={n} s={s} rank {k}: drew {seen:.5}, expected {expected:.5}"
            );
        }
    }

    #[test]
    fn zipf_gives_each_rank_its_share() {
        assert_follows_zipf(10, 0.0, 200_000);
        assert_follows_zipf(10, 1.0, 200_000);
        assert_follows_zipf(1000, 1.1, 200_000);
        assert_follows_zipf(50, 0.5, 200_000);
        assert_follows_zipf(20, 2.5, 200_000);
        // Near s = 1 the closed forms divide by almost zero; the helpers must not.
        assert_follows_zipf(30, 1.0 + 1e-12, 200_000);
    }

    #[test]
    fn zipf_handles_one_rank_and_a_huge_range() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let one = Zipf::new(1, 1.2);
        assert!((0..1000).all(|_| one.sample(&mut rng) == 1));
        let huge = Zipf::new(100_000_000, 0.8);
        assert!((0..10_000).all(|_| (1..=100_000_000).contains(&huge.sample(&mut rng))));
        // Out-of-range inputs are taken as the nearest sensible ones, never a panic or a hang.
        let odd = Zipf::new(0, f64::NAN);
        assert_eq!(odd.sample(&mut rng), 1);
    }

    #[test]
    fn the_exponential_has_mean_one() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let n = 200_000;
        let mean = (0..n).map(|_| unit_exponential(&mut rng)).sum::<f64>() / f64::from(n);
        // Standard error of the mean is 1/sqrt(n) = 0.0022.
        assert!((mean - 1.0).abs() < 0.011, "mean {mean}");
    }
}

//! The few float operations the reference needs, for f32 (training) and f64 (gradient checks).
use std::fmt::Debug;
use std::ops::{Add, AddAssign, Div, Mul, Neg, Sub};

pub trait Real:
    Copy
    + Debug
    + Default
    + PartialOrd
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + Send
    + Sync
    + 'static
{
    fn of(v: f64) -> Self;
    fn f64(self) -> f64;
    fn exp(self) -> Self;
    fn ln(self) -> Self;
    fn sqrt(self) -> Self;
    fn zero() -> Self {
        Self::of(0.0)
    }
    fn max(self, o: Self) -> Self {
        if o > self {
            o
        } else {
            self
        }
    }
    fn relu(self) -> Self {
        self.max(Self::zero())
    }
    /// The standard normal CDF Φ. f32: Abramowitz & Stegun 7.1.26 (|error| ≤ 1.5e-7, the formula
    /// the WGSL uses); f64: accurate to ~1e-15 (the finite-difference checks need it).
    fn normal_cdf(self) -> Self;
}

/// Φ(z) in f64: erf by its Taylor series for |x| < 2.5, erfc by its continued fraction beyond.
fn normal_cdf_f64(z: f64) -> f64 {
    let x = z / std::f64::consts::SQRT_2;
    let ax = x.abs();
    let erf = if ax < 2.5 {
        let (mut term, mut sum, mut n) = (ax, ax, 0.0f64);
        while term.abs() > 1e-17 * sum.abs() {
            n += 1.0;
            term *= -ax * ax / n;
            sum += term / (2.0 * n + 1.0);
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    } else {
        // erfc(x) = exp(−x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))), evaluated bottom-up.
        let mut f = 0.0f64;
        for n in (1..=60).rev() {
            f = (n as f64 / 2.0) / (ax + f);
        }
        1.0 - (-ax * ax).exp() / std::f64::consts::PI.sqrt() / (ax + f)
    };
    0.5 * (1.0 + erf.copysign(x))
}

/// Φ(z) in f32 by Abramowitz & Stegun 7.1.26 (shaders/routers/noisy-topk.wgsl `normal_cdf`).
fn normal_cdf_f32(z: f32) -> f32 {
    let x = z * std::f32::consts::FRAC_1_SQRT_2;
    let ax = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * ax);
    let poly = ((((1.061_405_4 * t - 1.453_152_1) * t + 1.421_413_8) * t - 0.284_496_72) * t + 0.254_829_6) * t;
    let erf = 1.0 - poly * (-ax * ax).exp();
    0.5 * (1.0 + if x < 0.0 { -erf } else { erf })
}

macro_rules! real {
    ($t:ty, $cdf:ident) => {
        impl Real for $t {
            fn of(v: f64) -> Self {
                v as $t
            }
            fn f64(self) -> f64 {
                self as f64
            }
            fn exp(self) -> Self {
                <$t>::exp(self)
            }
            fn ln(self) -> Self {
                <$t>::ln(self)
            }
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            fn normal_cdf(self) -> Self {
                $cdf(self)
            }
        }
    };
}
real!(f32, normal_cdf_f32);
real!(f64, normal_cdf_f64);

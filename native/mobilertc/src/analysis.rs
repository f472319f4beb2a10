//! Small audio measurements apps and tests share: is a tone there, how loud is it.

use std::f64::consts::PI;

/// Fraction (0..=1) of the signal's energy at `freq`, by the Goertzel algorithm: ~1 for a
/// pure tone at `freq`, ~0 for silence or other frequencies.
pub fn tone_ratio(samples: &[f64], sample_rate: u32, freq: f64) -> f64 {
    let n = samples.len();
    let energy: f64 = samples.iter().map(|s| s * s).sum();
    if n == 0 || energy == 0.0 {
        return 0.0;
    }
    let coeff = 2.0 * (2.0 * PI * freq / f64::from(sample_rate)).cos();
    let (mut s1, mut s2) = (0.0, 0.0);
    for &x in samples {
        let s0 = x + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    // A pure tone of amplitude A gives power ≈ (A·n/2)² and energy ≈ A²·n/2.
    (2.0 * power / (n as f64 * energy)).min(1.0)
}

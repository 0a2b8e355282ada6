//! Order statistics of the bench's per-round samples: median, range, and the 95 % interval of
//! the median that tells a real difference from the noise of a shared machine.
//!
//! The interval is the boxplot notch of McGill, Tukey and Larsen (1978): median ± 1.57 × IQR / √n.
//! It needs no assumption about the shape of the noise (a busy neighbour makes it lopsided), and
//! it narrows as rounds are added, which is what the bench's adaptive rounds aim at.

/// Fewer samples than this give no interval: any difference is then "inside the noise".
const MIN_SAMPLES: usize = 3;

/// Median, range and 95 % interval of the median of some samples.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    /// Half the width of the 95 % interval of the median; infinite with too few samples.
    pub half_width: f64,
    pub n: usize,
}

impl Summary {
    pub fn of(values: &[f64]) -> Option<Summary> {
        if values.is_empty() {
            return None;
        }
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let iqr = quantile(&sorted, 0.75) - quantile(&sorted, 0.25);
        let half_width = if n < MIN_SAMPLES { f64::INFINITY } else { 1.57 * iqr / (n as f64).sqrt() };
        Some(Summary { median: quantile(&sorted, 0.5), min: sorted[0], max: sorted[n - 1], half_width, n })
    }

    /// Whether `value` lies inside the 95 % interval of the median: the difference between the
    /// median and `value` is inside the noise.
    pub fn within_noise_of(&self, value: f64) -> bool {
        (self.median - value).abs() <= self.half_width
    }

    /// `±0.012`, or `±?` when there are too few samples for an interval.
    pub fn half_width_text(&self, scale: f64, decimals: usize) -> String {
        if self.half_width.is_finite() {
            format!("±{:.*}", decimals, self.half_width * scale)
        } else {
            "±?".to_owned()
        }
    }
}

/// The median of `values`, if any.
pub fn median(values: &[f64]) -> Option<f64> {
    Summary::of(values).map(|summary| summary.median)
}

/// The `q` quantile of sorted, non-empty `sorted`, interpolating between neighbours.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let position = q * (sorted.len() - 1) as f64;
    let below = position.floor() as usize;
    let above = position.ceil() as usize;
    sorted[below] + (sorted[above] - sorted[below]) * (position - below as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_range_and_interval() {
        let summary = Summary::of(&[1.30, 1.00, 1.10, 1.20, 1.40]).unwrap();
        assert_eq!((summary.median, summary.min, summary.max, summary.n), (1.20, 1.00, 1.40, 5));
        // IQR of 1.0 1.1 1.2 1.3 1.4 is 1.3 - 1.1 = 0.2; 1.57 * 0.2 / sqrt(5) = 0.1404.
        assert!((summary.half_width - 0.1404).abs() < 1e-4, "{}", summary.half_width);
        assert!(summary.within_noise_of(1.10));
        assert!(!summary.within_noise_of(1.0));
        assert_eq!(summary.half_width_text(1.0, 3), "±0.140");
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn too_few_samples_are_all_noise() {
        let summary = Summary::of(&[1.5, 1.6]).unwrap();
        assert!(summary.within_noise_of(1.0));
        assert_eq!(summary.half_width_text(100.0, 1), "±?");
    }
}

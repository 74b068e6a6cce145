//! Summaries of repeated measurements for the benchmark reports: the
//! median and the range of a set of samples.

/// The median of `samples` (the mean of the middle two for an even
/// count), their minimum and their maximum; NaN each when there are none.
pub fn median_and_range(samples: &[f64]) -> (f64, f64, f64) {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let (Some(&minimum), Some(&maximum)) = (sorted.first(), sorted.last()) else {
        return (f64::NAN, f64::NAN, f64::NAN);
    };
    let middle = sorted.len() / 2;
    let median = if sorted.len() % 2 == 1 {
        sorted[middle]
    } else {
        (sorted[middle - 1] + sorted[middle]) / 2.0
    };
    (median, minimum, maximum)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median_and_range(&[3.0, 1.0, 2.0]).0, 2.0);
        assert_eq!(median_and_range(&[4.0, 1.0, 2.0, 3.0]).0, 2.5);
        assert!(median_and_range(&[]).0.is_nan());
    }

    #[test]
    fn range_is_the_smallest_and_largest_sample() {
        assert_eq!(median_and_range(&[4.0, 1.0, 2.5, 3.0]), (2.75, 1.0, 4.0));
        assert_eq!(median_and_range(&[7.0]), (7.0, 7.0, 7.0));
    }
}

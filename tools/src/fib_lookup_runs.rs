//! Repeated runs of the FIB benchmark's warm lookup rows, read against
//! issue 6's targets (`cargo xtask bench fib --lookup-runs N`).
//!
//! `cargo bench -p netstack --bench fib -- lookups-only` prints, per
//! family, the median warm lookup time of pure6 and of `prefix-trie` over
//! 201 interleaved rounds, and the median of the per-round ratios. Within
//! one run the two see the same load; between runs a few seconds apart
//! this shared VM's speed moves by up to 2x (issue 6's notes), so one run
//! says little about an absolute target. This module parses the rows of
//! several runs (each its own process) and reports every run, the
//! medians, and how many runs met each target.

use std::fmt::Write;

use crate::statistics::median_and_range;

/// Target: mapped IPv4 lookups faster than this (issue 6).
pub const MAPPED_IPV4_TARGET_NS: f64 = 15.0;
/// Target: native IPv6 lookups faster than this (issue 6).
pub const IPV6_TARGET_NS: f64 = 30.0;
/// Target: lookups at least this many times faster than `prefix-trie` in
/// the same run (issue 6).
pub const RATIO_TARGET: f64 = 4.0;

/// One family's row of a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LookupRow {
    /// pure6's median warm lookup, in nanoseconds.
    pub pure6_ns: f64,
    /// `prefix-trie`'s, same destinations, same run.
    pub prefix_trie_ns: f64,
    /// Median of the per-round ratios `prefix-trie / pure6`.
    pub ratio: f64,
}

/// One `-- lookups-only` run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LookupRun {
    /// Destinations under pool6 (the IPv4 trie).
    pub mapped_ipv4: LookupRow,
    /// Native IPv6 destinations.
    pub ipv6: LookupRow,
}

impl LookupRun {
    /// Whether this run met every lookup target at once.
    pub fn meets_every_target(&self) -> bool {
        self.mapped_ipv4.pure6_ns < MAPPED_IPV4_TARGET_NS
            && self.ipv6.pure6_ns < IPV6_TARGET_NS
            && self.mapped_ipv4.ratio >= RATIO_TARGET
            && self.ipv6.ratio >= RATIO_TARGET
    }
}

/// Parses the output of one `-- lookups-only` run: its lines
/// `lookup mapped IPv4, warm: 20.1 ns, prefix-trie 350.2 ns, ratio 17.40`
/// and `lookup native IPv6, warm: ...`.
pub fn parse_run(output: &str) -> Result<LookupRun, String> {
    let mut mapped_ipv4 = None;
    let mut ipv6 = None;
    for line in output.lines() {
        if let Some(rest) = line.strip_prefix("lookup mapped IPv4, warm: ") {
            mapped_ipv4 = Some(parse_row(rest).ok_or_else(|| format!("unreadable row: {line}"))?);
        } else if let Some(rest) = line.strip_prefix("lookup native IPv6, warm: ") {
            ipv6 = Some(parse_row(rest).ok_or_else(|| format!("unreadable row: {line}"))?);
        }
    }
    match (mapped_ipv4, ipv6) {
        (Some(mapped_ipv4), Some(ipv6)) => Ok(LookupRun { mapped_ipv4, ipv6 }),
        _ => Err(format!(
            "the output has no mapped IPv4 and native IPv6 lookup rows:\n{output}"
        )),
    }
}

/// `20.1 ns, prefix-trie 350.2 ns, ratio 17.40`.
fn parse_row(text: &str) -> Option<LookupRow> {
    let (pure6, rest) = text.split_once(" ns, prefix-trie ")?;
    let (prefix_trie, ratio) = rest.split_once(" ns, ratio ")?;
    let number = |text: &str| {
        text.trim()
            .parse::<f64>()
            .ok()
            .filter(|value| value.is_finite())
    };
    Some(LookupRow {
        pure6_ns: number(pure6)?,
        prefix_trie_ns: number(prefix_trie)?,
        ratio: number(ratio)?,
    })
}

/// A markdown table of the runs, then per column the median and range and
/// the runs that met the column's target.
pub fn report(runs: &[LookupRun]) -> String {
    let mut text = String::new();
    let _ = writeln!(
        text,
        "| run | mapped IPv4 | prefix-trie | ratio | IPv6 | prefix-trie | ratio | every target |"
    );
    let _ = writeln!(text, "|---:|---:|---:|---:|---:|---:|---:|---|");
    for (index, run) in runs.iter().enumerate() {
        let _ = writeln!(
            text,
            "| {} | {:.1} ns | {:.1} ns | {:.2}x | {:.1} ns | {:.1} ns | {:.2}x | {} |",
            index + 1,
            run.mapped_ipv4.pure6_ns,
            run.mapped_ipv4.prefix_trie_ns,
            run.mapped_ipv4.ratio,
            run.ipv6.pure6_ns,
            run.ipv6.prefix_trie_ns,
            run.ipv6.ratio,
            if run.meets_every_target() { "met" } else { "-" }
        );
    }
    let count = runs.len();
    let column = |select: &dyn Fn(&LookupRun) -> f64| {
        median_and_range(&runs.iter().map(select).collect::<Vec<f64>>())
    };
    let met = |test: &dyn Fn(&LookupRun) -> bool| runs.iter().filter(|run| test(run)).count();
    let lines = [
        (
            "mapped IPv4 lookup",
            column(&|run| run.mapped_ipv4.pure6_ns),
            "ns, target under 15 ns",
            met(&|run| run.mapped_ipv4.pure6_ns < MAPPED_IPV4_TARGET_NS),
        ),
        (
            "IPv6 lookup",
            column(&|run| run.ipv6.pure6_ns),
            "ns, target under 30 ns",
            met(&|run| run.ipv6.pure6_ns < IPV6_TARGET_NS),
        ),
        (
            "mapped IPv4 ratio to prefix-trie",
            column(&|run| run.mapped_ipv4.ratio),
            "x, target at least 4x",
            met(&|run| run.mapped_ipv4.ratio >= RATIO_TARGET),
        ),
        (
            "IPv6 ratio to prefix-trie",
            column(&|run| run.ipv6.ratio),
            "x, target at least 4x",
            met(&|run| run.ipv6.ratio >= RATIO_TARGET),
        ),
    ];
    let _ = writeln!(text);
    for (name, (middle, minimum, maximum), unit, met) in lines {
        let _ = writeln!(
            text,
            "{name}: median {middle:.2} (range {minimum:.2} to {maximum:.2}) {unit}: met in {met} of {count} runs"
        );
    }
    let _ = writeln!(
        text,
        "every lookup target at once: met in {} of {count} runs",
        met(&|run| run.meets_every_target())
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTPUT: &str = "\
lookup mapped IPv4, warm: 14.0 ns, prefix-trie 305.8 ns, ratio 20.93
lookup native IPv6, warm: 26.7 ns, prefix-trie 116.8 ns, ratio 4.35
";

    #[test]
    fn parses_both_rows_of_a_run() {
        let run = parse_run(OUTPUT).unwrap();
        assert_eq!(
            run.mapped_ipv4,
            LookupRow {
                pure6_ns: 14.0,
                prefix_trie_ns: 305.8,
                ratio: 20.93
            }
        );
        assert_eq!(run.ipv6.pure6_ns, 26.7);
        assert_eq!(run.ipv6.prefix_trie_ns, 116.8);
        assert_eq!(run.ipv6.ratio, 4.35);
        assert!(run.meets_every_target());
    }

    #[test]
    fn a_missing_or_unreadable_row_is_an_error() {
        assert!(
            parse_run("lookup mapped IPv4, warm: 14.0 ns, prefix-trie 305.8 ns, ratio 20.93")
                .is_err()
        );
        let broken = OUTPUT.replace("26.7 ns", "fast ns");
        let error = parse_run(&broken).unwrap_err();
        assert!(error.contains("unreadable row"), "{error}");
        assert!(parse_run(&OUTPUT.replace("26.7", "NaN")).is_err());
    }

    #[test]
    fn the_report_counts_runs_per_target() {
        let fast = parse_run(OUTPUT).unwrap();
        let slow = parse_run(
            "lookup mapped IPv4, warm: 20.5 ns, prefix-trie 364.9 ns, ratio 17.78\n\
             lookup native IPv6, warm: 40.5 ns, prefix-trie 160.4 ns, ratio 3.96\n",
        )
        .unwrap();
        let mixed = parse_run(
            "lookup mapped IPv4, warm: 16.0 ns, prefix-trie 319.0 ns, ratio 21.53\n\
             lookup native IPv6, warm: 29.2 ns, prefix-trie 138.7 ns, ratio 4.03\n",
        )
        .unwrap();
        let report = report(&[fast, slow, mixed]);
        assert!(
            report
                .contains("| 1 | 14.0 ns | 305.8 ns | 20.93x | 26.7 ns | 116.8 ns | 4.35x | met |"),
            "{report}"
        );
        assert!(
            report.contains("| 2 | 20.5 ns | 364.9 ns | 17.78x | 40.5 ns | 160.4 ns | 3.96x | - |"),
            "{report}"
        );
        assert!(report.contains("mapped IPv4 lookup: median 16.00 (range 14.00 to 20.50) ns, target under 15 ns: met in 1 of 3 runs"), "{report}");
        assert!(report.contains("IPv6 lookup: median 29.20 (range 26.70 to 40.50) ns, target under 30 ns: met in 2 of 3 runs"), "{report}");
        assert!(report.contains("IPv6 ratio to prefix-trie: median 4.03 (range 3.96 to 4.35) x, target at least 4x: met in 2 of 3 runs"), "{report}");
        assert!(
            report.contains("every lookup target at once: met in 1 of 3 runs"),
            "{report}"
        );
    }
}

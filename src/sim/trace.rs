//! Trace-driven uplinks: measured throughput traces replayed in place of the Shannon rate.
//!
//! A trace file is CSV with one row per sample, `trace_id,time_s,throughput_bps` (a header row is optional;
//! rows of several traces may be interleaved). Within a trace the times must increase strictly; the
//! throughput is the achievable uplink rate of one device using the whole band, bit/s, finite and >= 0 (0 is
//! an outage). A trace holds each sample until the next one (sample and hold) and repeats after its last
//! sample, with period `t_last - t_first + (t_last - t_prev)` (a one-sample trace is constant).
//!
//! Each device replays one trace, chosen at reset with a random offset into its period (both drawn from the
//! environment's RNG, so seeding still holds); at slot t its full-band throughput is
//! `trace((offset + t * slot_s) mod period)` and its rate with bandwidth share `b_n` is `R_n = b_n * trace`.

use crate::error::ConfigError;

/// Most samples a trace file may hold in all.
pub const MAX_SAMPLES: usize = 10_000_000;
/// Largest throughput a sample may give, bit/s.
pub const MAX_BPS: f64 = 1e15;

/// One throughput trace.
#[derive(Clone, Debug, PartialEq)]
pub struct Trace {
    /// The trace id of the file's first column.
    pub id: String,
    /// Sample times relative to the first sample, seconds, strictly increasing from 0.
    pub times: Vec<f64>,
    /// Throughput of each sample, bit/s.
    pub bps: Vec<f64>,
    /// Seconds after which the trace repeats.
    pub period: f64,
}

impl Trace {
    /// Throughput at `tau` seconds into the trace (any `tau >= 0`; it wraps at the period).
    #[inline]
    pub fn at(&self, tau: f64) -> f64 {
        let x = tau % self.period;
        // The last sample whose time is <= x (the first sample's time is 0 <= x).
        let i = self.times.partition_point(|&t| t <= x).max(1) - 1;
        self.bps[i]
    }
}

/// Every trace of one file, in order of first appearance.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceSet {
    /// The traces.
    pub traces: Vec<Trace>,
    /// Largest throughput of any sample, bit/s.
    pub max_bps: f64,
}

impl TraceSet {
    /// Reads and checks a trace file (errors name `radio.trace_file`, the path and the line).
    pub fn from_file(path: &str) -> Result<Self, ConfigError> {
        let field = "radio.trace_file";
        let text = crate::config::read_small_file(path).map_err(|e| ConfigError::new(field, format!("cannot read {path:?}: {e}")))?;
        Self::from_csv(&text).map_err(|e| ConfigError::new(field, format!("({path}) {e}")))
    }

    /// Parses and checks trace CSV text; the error names the line.
    pub fn from_csv(text: &str) -> Result<Self, String> {
        let mut reader = csv::ReaderBuilder::new().has_headers(false).trim(csv::Trim::All).comment(Some(b'#')).flexible(true).from_reader(text.as_bytes());
        // Each trace with the absolute time of its first sample (its times are kept relative to it).
        let mut traces: Vec<(Trace, f64)> = Vec::new();
        let mut samples = 0usize;
        for (i, record) in reader.records().enumerate() {
            let record = record.map_err(|e| format!("is not valid CSV: {e}"))?;
            let line = record.position().map_or(i + 1, |p| p.line() as usize);
            if record.iter().all(|f| f.is_empty()) {
                continue;
            }
            if record.len() != 3 {
                return Err(format!("line {line}: expected 3 columns (trace_id,time_s,throughput_bps), got {}", record.len()));
            }
            let (id, t, r) = (&record[0], &record[1], &record[2]);
            let parse = |what: &str, s: &str| s.parse::<f64>().map_err(|_| format!("line {line}: {what} {s:?} is not a number"));
            if samples == 0 && traces.is_empty() && t.parse::<f64>().is_err() && r.parse::<f64>().is_err() {
                continue; // the header row
            }
            let (t, r) = (parse("time_s", t)?, parse("throughput_bps", r)?);
            if !t.is_finite() {
                return Err(format!("line {line}: time_s must be finite, got {t}"));
            }
            if !(r.is_finite() && (0.0..=MAX_BPS).contains(&r)) {
                return Err(format!("line {line}: throughput_bps must be finite and in [0, {MAX_BPS:e}], got {r}"));
            }
            samples += 1;
            if samples > MAX_SAMPLES {
                return Err(format!("line {line}: more than {MAX_SAMPLES} samples"));
            }
            match traces.iter_mut().find(|(tr, _)| tr.id == id) {
                Some((tr, t0)) => {
                    let t0 = *t0;
                    let rel = t - t0;
                    let last = *tr.times.last().expect("a trace starts with one sample");
                    if rel <= last {
                        return Err(format!("line {line}: time_s {t} of trace {id:?} must be after its previous sample ({})", last + t0));
                    }
                    tr.times.push(rel);
                    tr.bps.push(r);
                }
                None => traces.push((Trace { id: id.to_string(), times: vec![0.0], bps: vec![r], period: 1.0 }, t)),
            }
        }
        if traces.is_empty() {
            return Err("holds no samples (expected rows of trace_id,time_s,throughput_bps)".into());
        }
        let mut out = Vec::with_capacity(traces.len());
        for (mut tr, _) in traces {
            let k = tr.times.len();
            tr.period = if k == 1 { 1.0 } else { tr.times[k - 1] + (tr.times[k - 1] - tr.times[k - 2]) };
            out.push(tr);
        }
        let max_bps = out.iter().flat_map(|t| t.bps.iter().copied()).fold(0.0, f64::max);
        Ok(Self { traces: out, max_bps })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_interleaved_traces_with_a_header_and_holds_samples() {
        let set = TraceSet::from_csv("trace_id,time_s,throughput_bps\na,10,1e6\nb,0,5\na,11,2e6\na,13,3e6\n").unwrap();
        assert_eq!(set.traces.len(), 2);
        let a = &set.traces[0];
        assert_eq!(a.times, [0.0, 1.0, 3.0]);
        assert_eq!(a.period, 5.0);
        assert_eq!((a.at(0.0), a.at(0.99), a.at(1.0), a.at(2.5), a.at(3.0), a.at(4.9)), (1e6, 1e6, 2e6, 2e6, 3e6, 3e6));
        // It repeats.
        assert_eq!((a.at(5.0), a.at(6.5)), (1e6, 2e6));
        let b = &set.traces[1];
        assert_eq!((b.period, b.at(123.4)), (1.0, 5.0));
        assert_eq!(set.max_bps, 3e6);
    }

    #[test]
    fn bad_traces_name_the_line() {
        let cases = [
            ("", "no samples"),
            ("trace_id,time_s,throughput_bps\n", "no samples"),
            ("a,0,1\na,1,-5\n", "line 2: throughput_bps"),
            ("a,0,1\na,1,NaN\n", "line 2: throughput_bps"),
            ("a,0,1\na,1,2\na,1,3\n", "line 3: time_s 1 of trace \"a\" must be after"),
            ("a,0,1\na,2,2\na,1,3\n", "line 3"),
            ("a,0,1\nb,x,3\n", "line 2: time_s \"x\" is not a number"),
            ("a,0\n", "line 1: expected 3 columns"),
            ("a,inf,1\n", "line 1: time_s must be finite"),
        ];
        for (text, want) in cases {
            let e = TraceSet::from_csv(text).unwrap_err();
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }
}

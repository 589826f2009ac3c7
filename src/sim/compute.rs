//! Compute: effective FLOP/s under background load, and the latency terms of one task.

/// Effective FLOP/s of a processor with peak `peak_flops` (already scaled by its efficiency) under
/// background load `rho`: `peak * (1 - rho)`.
#[inline]
pub fn effective_flops(peak_flops: f64, rho: f64) -> f64 {
    peak_flops * (1.0 - rho)
}

/// Longest time any latency term or backlog reaches, seconds (about 32 years): longer times count as this.
/// With the config's ranges it is only ever reached by absurd scenarios or actions (a rate that underflows to
/// zero, say), and it keeps every latency, backlog and reward finite in them.
pub const MAX_TIME_S: f64 = 1e9;

/// `t` capped at [`MAX_TIME_S`] (an infinite `t` becomes the cap).
#[inline(always)]
pub fn cap_time(t: f64) -> f64 {
    t.min(MAX_TIME_S)
}

/// The latency terms of one task, seconds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Latency {
    /// Waiting for the device's backlog, `q_n`.
    pub wait: f64,
    /// Computing units 1..p on the device.
    pub local: f64,
    /// Uploading the cut tensor.
    pub tx: f64,
    /// Waiting for the work the edge still holds from earlier slots, `q_E`, then computing units p+1..L on
    /// the edge.
    pub edge: f64,
    /// Sending the second cut's tensor over the WAN plus its round trip (0 without the cloud).
    pub wan: f64,
    /// Computing the remaining units in the cloud (0 without the cloud).
    pub cloud: f64,
}

impl Latency {
    /// End-to-end latency `T = wait + local + tx + edge + wan + cloud` (each term is at most
    /// [`MAX_TIME_S`]; the last two are 0 unless the task uses the cloud).
    #[inline]
    pub fn total(&self) -> f64 {
        self.wait + self.local + self.tx + self.edge + self.wan + self.cloud
    }
}

/// Latency of a task cut after `p` of `L` units.
///
/// `local_flops` = FLOPs of units 1..p, `edge_flops` = FLOPs of units p+1..L, `upload_bytes` = bytes sent,
/// `rate_bps` = uplink rate, `f_dev` / `f_edge_share` = device FLOP/s and the edge FLOP/s granted to it
/// (`c_n F_E`), `edge_backlog_s` = the edge's queued work `q_E`, which an offloaded task waits for first.
/// When `offloads` is false (p = L) nothing is sent and the edge does nothing.
#[inline]
#[allow(clippy::too_many_arguments)]
pub fn task_latency(backlog_s: f64, local_flops: f64, f_dev: f64, offloads: bool, upload_bytes: f64, rate_bps: f64, edge_flops: f64, f_edge_share: f64, edge_backlog_s: f64) -> Latency {
    let local = cap_time(local_flops / f_dev);
    let (tx, edge) = if offloads {
        let tx = if upload_bytes > 0.0 { cap_time(8.0 * upload_bytes / rate_bps) } else { 0.0 };
        let edge = cap_time(edge_backlog_s + if edge_flops > 0.0 { edge_flops / f_edge_share } else { 0.0 });
        (tx, edge)
    } else {
        (0.0, 0.0)
    };
    Latency { wait: backlog_s, local, tx, edge, wan: 0.0, cloud: 0.0 }
}

/// The cloud terms of a task that leaves the edge after its second cut (SPEC section 8): `wan` sends
/// `wan_bytes` at `wan_bps_each` (the task's equal share of the available backhaul) plus the round trip
/// `rtt_s`; `cloud` computes `cloud_flops_work` at `f_cloud`.
#[inline]
pub fn cloud_terms(wan_bytes: f64, wan_bps_each: f64, rtt_s: f64, cloud_flops_work: f64, f_cloud: f64) -> (f64, f64) {
    let wan = cap_time(if wan_bytes > 0.0 { 8.0 * wan_bytes / wan_bps_each } else { 0.0 } + rtt_s);
    let cloud = cap_time(if cloud_flops_work > 0.0 { cloud_flops_work / f_cloud } else { 0.0 });
    (wan, cloud)
}

/// Backlog after a slot: a device with a task stays busy for its local compute and upload,
/// `max(0, q + local + tx - slot)`; an idle device drains, `max(0, q - slot)`.
#[inline]
pub fn next_backlog(backlog_s: f64, busy_s: f64, slot_s: f64) -> f64 {
    cap_time((backlog_s + busy_s - slot_s).max(0.0))
}

/// Edge backlog after a slot: `max(0, q_E + W / F_E - slot)`, where `W` is the edge work (FLOPs) the
/// slot's offloading tasks brought and `F_E` the slot's effective edge FLOP/s: the edge works at full speed
/// on whatever it holds.
#[inline]
pub fn next_edge_backlog(edge_backlog_s: f64, edge_work_flops: f64, f_edge: f64, slot_s: f64) -> f64 {
    cap_time((edge_backlog_s + edge_work_flops / f_edge - slot_s).max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_terms_hand_values() {
        // 2 GFLOP locally at 1 GFLOP/s, 1000 bytes at 8 kbit/s, 3 GFLOP on 6 GFLOP/s of edge, 0.25 s backlog.
        let l = task_latency(0.25, 2e9, 1e9, true, 1000.0, 8000.0, 3e9, 6e9, 0.0);
        assert_eq!(l, Latency { wait: 0.25, local: 2.0, tx: 1.0, edge: 0.5, wan: 0.0, cloud: 0.0 });
        assert_eq!(l.total(), 3.75);
        // The edge still holds 0.125 s of work: the task waits for it first.
        let l = task_latency(0.25, 2e9, 1e9, true, 1000.0, 8000.0, 3e9, 6e9, 0.125);
        assert_eq!(l.edge, 0.625);
        // Fully local: no upload, no edge, whatever the edge holds.
        let l = task_latency(0.0, 2e9, 1e9, false, 1000.0, 0.0, 0.0, 0.0, 0.125);
        assert_eq!(l, Latency { wait: 0.0, local: 2.0, tx: 0.0, edge: 0.0, wan: 0.0, cloud: 0.0 });
        assert_eq!(effective_flops(10e9, 0.3), 7e9);
        // 1e6 bytes over a 4 Mbit/s share of the WAN with a 40 ms round trip; 8.1 GFLOP on 810 GFLOP/s.
        assert_eq!(cloud_terms(1e6, 4e6, 0.04, 8.1e9, 810e9), (2.04, 0.01));
        // A zero WAN share (an absurd scenario) stays finite.
        assert_eq!(cloud_terms(1e6, 0.0, 0.04, 0.0, 810e9), (MAX_TIME_S, 0.0));
    }

    #[test]
    fn backlog_drains_and_accumulates() {
        assert_eq!(next_backlog(0.2, 0.0, 0.5), 0.0);
        assert_eq!(next_backlog(0.2, 0.6, 0.5), 0.2 + 0.6 - 0.5);
        // 3 GFLOP arriving at a 4 GFLOP/s edge that holds 0.5 s: 0.5 + 0.75 - 0.5 s left.
        assert_eq!(next_edge_backlog(0.5, 3e9, 4e9, 0.5), 0.75);
        assert_eq!(next_edge_backlog(0.1, 1e9, 4e9, 0.5), 0.0);
        // Times are capped: a zero rate or an endless queue stays finite.
        assert_eq!(task_latency(0.0, 0.0, 1e9, true, 1000.0, 0.0, 1e9, 1e9, 0.0).tx, MAX_TIME_S);
        assert_eq!(next_backlog(MAX_TIME_S, MAX_TIME_S, 0.5), MAX_TIME_S);
    }
}

//! The outcome of one decision for one device in one slot: the composition of the physics that both the
//! environment step and the baseline policies evaluate, so that they can never disagree.

use crate::env::Env;
use crate::scenario::Scenario;
use crate::sim::compute::{self, Latency};
use crate::sim::{radio, tasks};

/// What a device's task outcome depends on besides the decision.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DeviceContext {
    /// Task code: 0 none, 1 AS, 2 LS.
    pub task: u8,
    /// Channel power gain g_n.
    pub gain: f64,
    /// Effective device FLOP/s F_n.
    pub f_dev: f64,
    /// Queued local work q_n, seconds.
    pub backlog_s: f64,
    /// Full-band uplink throughput of the device's trace this slot, bit/s (0 on synthetic channels).
    pub trace_bps: f64,
}

/// The edge server as one slot sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EdgeContext {
    /// Effective edge FLOP/s `F_E`.
    pub flops: f64,
    /// Work the edge still holds from earlier slots, `q_E`, seconds at full edge speed.
    pub backlog_s: f64,
    /// Available WAN capacity behind the edge, `R_W`, bit/s (0 without the cloud tier).
    pub wan_bps: f64,
}

/// The cloud tier as one slot sees it (SPEC section 8).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CloudContext {
    /// Available WAN capacity `R_W = backhaul_bps * (1 - rho_W)`, bit/s.
    pub wan_bps: f64,
    /// Number of tasks that cross the WAN this slot, `|S_C|` (at least 1 for a task that does).
    pub wan_users: f64,
}

/// One device's decision: version, first and (effective) second cut, bandwidth and compute shares.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Decision {
    /// Version index.
    pub v: usize,
    /// First cut p1: units 1..p1 on the device.
    pub p1: usize,
    /// Effective second cut `p2' = max(p1, p2)`: units p1+1..p2' on the edge, the rest in the cloud (L = no cloud).
    pub p2: usize,
    /// Bandwidth share (ignored unless p1 < L).
    pub b: f64,
    /// Edge compute share (ignored unless p1 < p2').
    pub c: f64,
}

/// Latency and utility of one device's task.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DeviceOutcome {
    /// The latency terms.
    pub latency: Latency,
    /// End-to-end latency T.
    pub total: f64,
    /// Utility u_n.
    pub utility: f64,
}

impl Scenario {
    /// Latency and utility of device `ctx` running version `v` cut after unit `p`, with bandwidth share `b`
    /// and edge-compute share `c` (both ignored when `p = L`) on the edge `edge`.
    #[inline]
    pub fn device_outcome(&self, ctx: &DeviceContext, edge: &EdgeContext, v: usize, p: usize, b: f64, c: f64) -> DeviceOutcome {
        let rate = self.uplink_rate(ctx, p < self.l, b);
        self.device_outcome_at_rate(ctx, edge, v, p, c, rate)
    }

    /// [`Scenario::device_outcome`] with the uplink rate already computed (the environment computes the rates
    /// of all its devices at once).
    #[inline]
    pub fn device_outcome_at_rate(&self, ctx: &DeviceContext, edge: &EdgeContext, v: usize, p: usize, c: f64, rate_bps: f64) -> DeviceOutcome {
        let offloads = p < self.l;
        let local_flops = self.flops_until(v, p);
        let edge_work = self.flops_until(v, self.l) - local_flops;
        let latency = compute::task_latency(ctx.backlog_s, local_flops, ctx.f_dev, offloads, self.bytes_at(v, p), rate_bps, edge_work, c * edge.flops, edge.backlog_s);
        let total = latency.total();
        let utility = self.task_utility(ctx.task, v, total);
        DeviceOutcome { latency, total, utility }
    }

    /// [`Scenario::device_outcome`] with the cloud tier: the decision `d` may send the tail of the model
    /// (units p2'+1..L) to the cloud. The edge computes only when `p1 < p2'`, and its queue is waited for only
    /// then; the WAN and cloud terms apply when `p2' < L`. With `p2' = L` this equals the edge-only outcome.
    #[inline]
    pub fn device_outcome_cloud(&self, ctx: &DeviceContext, edge: &EdgeContext, cloud: &CloudContext, d: &Decision, rate_bps: f64) -> DeviceOutcome {
        let l = self.l;
        let (v, p1, p2) = (d.v, d.p1, d.p2);
        let (in_s, in_se, in_sc) = (p1 < l, p1 < p2, p2 < l);
        let local_flops = self.flops_until(v, p1);
        let edge_work = self.flops_until(v, p2) - local_flops;
        let mut latency = compute::task_latency(ctx.backlog_s, local_flops, ctx.f_dev, in_s, self.bytes_at(v, p1), rate_bps, edge_work, d.c * edge.flops, edge.backlog_s);
        if !in_se {
            latency.edge = 0.0; // the edge only relays: no queue, no work
        }
        if in_sc {
            let each = cloud.wan_bps / cloud.wan_users.max(1.0);
            (latency.wan, latency.cloud) = compute::cloud_terms(self.bytes_at(v, p2), each, self.config.cloud.wan_rtt_s, self.flops_until(v, l) - self.flops_until(v, p2), self.cloud_flops);
        }
        let total = latency.total();
        let utility = self.task_utility(ctx.task, v, total);
        DeviceOutcome { latency, total, utility }
    }

    /// Device `ctx`'s uplink rate with bandwidth share `b` (0 when it does not upload): the Shannon rate of
    /// its channel, or `b` times its trace's throughput `trace_bps` on a trace-driven uplink.
    #[inline]
    pub fn uplink_rate(&self, ctx: &DeviceContext, uploads: bool, b: f64) -> f64 {
        if !uploads {
            0.0
        } else if self.traces.is_some() {
            b * ctx.trace_bps
        } else {
            let r = &self.config.radio;
            radio::rate_bps(b, r.bandwidth_hz, r.tx_power_w, ctx.gain, self.n0)
        }
    }

    /// Utility of a task of type `task` served by version `v` with latency `total`.
    #[inline]
    pub fn task_utility(&self, task: u8, v: usize, total: f64) -> f64 {
        let rw = &self.config.reward;
        let pr = &self.prefs[task as usize];
        tasks::utility(pr.weight, self.accuracy_hat[v], total, pr.deadline_s, rw.latency_cap, rw.deadline_penalty, rw.accuracy_penalty, self.accuracy[v], pr.min_accuracy)
    }
}

impl Env {
    /// The context of device k in the current state.
    #[inline]
    pub fn device_context(&self, k: usize) -> DeviceContext {
        let sc = self.scenario();
        let dev = &self.devices()[k];
        DeviceContext {
            task: dev.task,
            gain: self.gain(k),
            f_dev: compute::effective_flops(sc.device_peak_flops[k], sc.device_levels[dev.load as usize]),
            backlog_s: dev.backlog_s,
            trace_bps: self.trace_bps(k),
        }
    }

    /// The cloud in the current state, for a slot in which `wan_users` tasks cross the WAN.
    #[inline]
    pub fn cloud_context(&self, wan_users: usize) -> CloudContext {
        CloudContext { wan_bps: self.wan_bps(), wan_users: wan_users as f64 }
    }

    /// Effective edge FLOP/s in the current state.
    #[inline]
    pub fn edge_flops(&self) -> f64 {
        let sc = self.scenario();
        compute::effective_flops(sc.edge_peak_flops, sc.edge_levels[self.edge_load() as usize])
    }

    /// The edge in the current state: its effective FLOP/s and the work it still holds.
    #[inline]
    pub fn edge_context(&self) -> EdgeContext {
        EdgeContext { flops: self.edge_flops(), backlog_s: self.edge_backlog_s(), wan_bps: self.wan_bps() }
    }
}

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
}

/// The edge server as one slot sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EdgeContext {
    /// Effective edge FLOP/s `F_E`.
    pub flops: f64,
    /// Work the edge still holds from earlier slots, `q_E`, seconds at full edge speed.
    pub backlog_s: f64,
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
        let r = &self.config.radio;
        let rate = if p < self.l { radio::rate_bps(b, r.bandwidth_hz, r.tx_power_w, ctx.gain, self.n0) } else { 0.0 };
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
        DeviceContext { task: dev.task, gain: self.gain(k), f_dev: compute::effective_flops(sc.device_peak_flops[k], sc.device_levels[dev.load as usize]), backlog_s: dev.backlog_s }
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
        EdgeContext { flops: self.edge_flops(), backlog_s: self.edge_backlog_s() }
    }
}

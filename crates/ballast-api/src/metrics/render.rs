//! The metrics, rendered from what a scrape gathered ([`Sources`]) — pure: no I/O, the time
//! given. Every family is `ballast_`-prefixed, in base units (`_seconds`, ratios 0–1), counters
//! end in `_total`, and labels are bounded: subsystem, service, component, outcome, check and the
//! value of a state set (status, policy, state) — never a symbol or an order id.

use std::sync::atomic::AtomicU64;

use ballast_core::Timestamp;
use ballast_core::engine::Histogram;
use ballast_core::guard::{Check, TradingState};
use ballast_core::health::Status;
use ballast_core::policy::Policy;
use ballast_store::files::health::{HealthFile, HealthReport};
use ballast_store::files::heartbeat::Heartbeat;
use ballast_supervisor::control::ServiceStatus;
use ballast_supervisor::counts::OpsCounts;
use prometheus_client::encoding::{EncodeMetric, MetricEncoder};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

/// What one scrape gathered; each part is absent when its source is (a standalone engine has no
/// supervisor; before the engine's first loop there is no heartbeat).
#[derive(Debug, Clone, Default)]
pub struct Sources {
    pub health: Option<HealthFile>,
    /// The supervisor's services, as its last status answer gave them.
    pub services: Option<Vec<ServiceStatus>>,
    pub ops: Option<OpsCounts>,
    /// Alert deliveries and failed attempts per sink kind (a supervisor's).
    pub alerts: Option<Vec<ballast_supervisor::surface::AlertDeliveries>>,
    pub heartbeat: Option<Heartbeat>,
    /// Whether the services are an older answer than this scrape (the loop did not answer in
    /// time).
    pub services_stale: bool,
}

type Labels = Vec<(String, String)>;
type FGauge = Gauge<f64, AtomicU64>;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn dec(d: Decimal) -> f64 {
    d.to_f64().unwrap_or(0.0)
}

fn flag(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

/// A registry and the families added to it.
struct Out {
    reg: Registry,
}

impl Out {
    fn gauge(&mut self, name: &str, help: &str, unit: Option<Unit>, v: f64) {
        let g = FGauge::default();
        g.set(v);
        match unit {
            Some(u) => self.reg.register_with_unit(name, help, u, g),
            None => self.reg.register(name, help, g),
        }
    }

    fn gauges(&mut self, name: &str, help: &str, unit: Option<Unit>, rows: Vec<(Labels, f64)>) {
        let f = Rows::new(MetricType::Gauge, rows);
        match unit {
            Some(u) => self.reg.register_with_unit(name, help, u, f),
            None => self.reg.register(name, help, f),
        }
    }

    /// `name` without `_total`: the encoder adds it.
    fn counter(&mut self, name: &str, help: &str, v: u64) {
        let c = Counter::<u64>::default();
        c.inc_by(v);
        self.reg.register(name, help, c);
    }

    fn counters(&mut self, name: &str, help: &str, rows: Vec<(Labels, u64)>) {
        self.reg
            .register(name, help, Rows::new(MetricType::Counter, rows));
    }

    /// One series per value of a state set: 1 for the current one, 0 for the others.
    fn state_set(&mut self, name: &str, help: &str, key: &str, all: &[&str], now: Option<&str>) {
        let rows = all
            .iter()
            .map(|v| (labels(&[(key, v)]), flag(now == Some(*v))))
            .collect();
        self.gauges(name, help, None, rows);
    }
}

/// The series of one labelled family, in label order (a scrape reads the same order every
/// time; `prometheus-client`'s `Family` is a hash map). A family without series is left out of
/// the exposition.
#[derive(Debug)]
struct Rows<V> {
    kind: MetricType,
    rows: Vec<(Labels, V)>,
}

impl<V> Rows<V> {
    fn new(kind: MetricType, mut rows: Vec<(Labels, V)>) -> Rows<V> {
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        Rows { kind, rows }
    }
}

/// A value a row can carry: a gauge's float or a counter's count.
trait RowValue: std::fmt::Debug + Send + Sync + 'static {
    fn encode(&self, encoder: MetricEncoder) -> Result<(), std::fmt::Error>;
}

impl RowValue for f64 {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        encoder.encode_gauge(self)
    }
}

impl RowValue for u64 {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        encoder.encode_counter::<prometheus_client::encoding::NoLabelSet, _, u64>(self, None)
    }
}

impl<V: RowValue> EncodeMetric for Rows<V> {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        for (labels, v) in &self.rows {
            v.encode(encoder.encode_family(labels)?)?;
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        self.kind
    }

    fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// A histogram already bucketed by the engine, encoded as it is.
#[derive(Debug)]
struct Bucketed(Histogram);

impl EncodeMetric for Bucketed {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let h = &self.0;
        let mut buckets: Vec<(f64, u64)> = h
            .le_us
            .iter()
            .zip(&h.counts)
            .map(|(&le, &c)| (le as f64 / 1e6, c))
            .collect();
        buckets.push((f64::INFINITY, h.counts.last().copied().unwrap_or(0)));
        let sum = h.sum_us as f64 / 1e6;
        encoder.encode_histogram::<prometheus_client::encoding::NoLabelSet>(
            sum, h.count, &buckets, None,
        )
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

const OVERALL: [&str; 7] = [
    "HEALTHY",
    "DEGRADED",
    "CRITICAL",
    "FAILED",
    "FAILED_CONFIG",
    "FAILED_API_SCHEMA",
    "UNKNOWN",
];
const STATUS: [Status; 6] = [
    Status::Disabled,
    Status::Healthy,
    Status::Unknown,
    Status::Degraded,
    Status::Critical,
    Status::Failed,
];
const POLICIES: [Policy; 5] = [
    Policy::AllowAll,
    Policy::SafeRiskProfile,
    Policy::NoNewTrades,
    Policy::DefensiveExit,
    Policy::EmergencyShutdown,
];
const TRADING: [TradingState; 3] = [
    TradingState::Active,
    TradingState::Reducing,
    TradingState::Halted,
];

/// The Registry of every family `sources` can fill, at `now`.
pub fn registry(sources: &Sources, now: Timestamp) -> Registry {
    let mut out = Out {
        reg: Registry::default(),
    };
    out.gauge(
        "ballast_supervisor_up",
        "1 when this process is a supervisor whose loop published a health report, 0 for a standalone engine or before the first cycle",
        None,
        flag(matches!(sources.health, Some(HealthFile::Report(_)))),
    );
    health(&mut out, sources.health.as_ref(), now);
    if let Some(services) = &sources.services {
        self::services(&mut out, services, sources.services_stale);
    }
    if let Some(ops) = &sources.ops {
        self::ops(&mut out, ops);
    }
    if let Some(alerts) = &sources.alerts {
        self::alerts(&mut out, alerts);
    }
    engine(&mut out, sources.heartbeat.as_ref(), now);
    out.reg
}

fn health(out: &mut Out, file: Option<&HealthFile>, now: Timestamp) {
    let (overall, policy) = match file {
        Some(HealthFile::Report(r)) => (Some(r.overall.as_str()), Some(r.policy.policy)),
        Some(HealthFile::Pending(p)) => (Some("UNKNOWN"), Some(p.policy)),
        None => (None, None),
    };
    out.state_set(
        "ballast_overall_status",
        "The overall health status: 1 for the current one",
        "status",
        &OVERALL,
        overall,
    );
    let policies: Vec<&str> = POLICIES.iter().map(|p| p.as_str()).collect();
    out.state_set(
        "ballast_policy",
        "The safety policy in force: 1 for the current one",
        "policy",
        &policies,
        policy.map(Policy::as_str),
    );
    if let Some(HealthFile::Report(r)) = file {
        report(out, r, now);
    }
}

fn report(out: &mut Out, r: &HealthReport, now: Timestamp) {
    out.gauge(
        "ballast_health_score",
        "The health score, 0 (down) to 100 (all healthy)",
        None,
        f64::from(r.score),
    );
    out.gauge(
        "ballast_health_report_age",
        "Time since the last health cycle's report",
        Some(Unit::Seconds),
        now.ms_since(r.at).max(0) as f64 / 1e3,
    );
    let trading: Vec<String> = TRADING.iter().map(|t| t.to_string()).collect();
    let trading: Vec<&str> = trading.iter().map(String::as_str).collect();
    let now_state = r.policy.trading_state.to_string();
    out.state_set(
        "ballast_trading_state",
        "The trading state the policy allows: 1 for the current one",
        "state",
        &trading,
        Some(&now_state),
    );
    out.gauge(
        "ballast_trading_allowed",
        "1 when new trades are allowed (what /readyz answers)",
        None,
        flag(r.trading_allowed),
    );
    out.gauge(
        "ballast_kill_switch_engaged",
        "1 while the kill switch is engaged",
        None,
        flag(r.policy.kill_switch),
    );
    out.gauge(
        "ballast_policy_size_multiplier_ratio",
        "The factor the policy applies to order sizes (1 = full size)",
        None,
        dec(r.policy.size_multiplier),
    );
    out.gauge(
        "ballast_issues",
        "Open health issues",
        None,
        r.issues.len() as f64,
    );
    out.gauge(
        "ballast_recommendations_pending",
        "Recommendations waiting for an operator",
        None,
        r.recommendations.len() as f64,
    );
    subsystems(out, r);
}

fn subsystems(out: &mut Out, r: &HealthReport) {
    let mut status = Vec::new();
    let mut healthy = Vec::new();
    let mut latency = Vec::new();
    for s in &r.subsystems {
        let name = s.subsystem.name.as_str();
        for st in STATUS {
            let l = labels(&[("subsystem", name), ("status", st.as_str())]);
            status.push((l, flag(s.status == st)));
        }
        let ok = matches!(s.status, Status::Healthy | Status::Disabled);
        healthy.push((labels(&[("subsystem", name)]), flag(ok)));
        latency.push((labels(&[("subsystem", name)]), s.latency_us as f64 / 1e6));
    }
    out.gauges(
        "ballast_subsystem_status",
        "Each subsystem's health status: 1 for its current one",
        None,
        status,
    );
    out.gauges(
        "ballast_subsystem_healthy",
        "1 when the subsystem is healthy (or disabled), 0 otherwise",
        None,
        healthy,
    );
    out.gauges(
        "ballast_subsystem_check_duration",
        "How long the subsystem's checks took in the last cycle",
        Some(Unit::Seconds),
        latency,
    );
}

fn services(out: &mut Out, services: &[ServiceStatus], stale: bool) {
    let by = |f: &dyn Fn(&ServiceStatus) -> Option<f64>| -> Vec<(Labels, f64)> {
        services
            .iter()
            .filter_map(|s| f(s).map(|v| (labels(&[("service", s.name.as_str())]), v)))
            .collect()
    };
    let restarts = services
        .iter()
        .map(|s| (labels(&[("service", s.name.as_str())]), s.restarts))
        .collect();
    out.counters(
        "ballast_service_restarts",
        "Restarts of each service since the supervisor started",
        restarts,
    );
    let running = by(&|s| Some(flag(s.pid.is_some() && s.state.starts_with("RUNNING"))));
    out.gauges(
        "ballast_service_running",
        "1 while the service runs (and is ready)",
        None,
        running,
    );
    let uptime = by(&|s| s.uptime_secs.map(|u| u as f64));
    out.gauges(
        "ballast_service_uptime",
        "Time since the service's current process started",
        Some(Unit::Seconds),
        uptime,
    );
    let failures = by(&|s| Some(s.failures_in_window as f64));
    out.gauges(
        "ballast_service_failures_in_window",
        "Unrequested exits inside the failure budget's window",
        None,
        failures,
    );
    let heartbeat = by(&|s| s.heartbeat_age_ms.map(|a| a as f64 / 1e3));
    out.gauges(
        "ballast_service_heartbeat_age",
        "Age of the service's heartbeat file",
        Some(Unit::Seconds),
        heartbeat,
    );
    out.gauge(
        "ballast_service_status_stale",
        "1 when the services are from an earlier scrape (the supervisor's loop did not answer in time)",
        None,
        flag(stale),
    );
}

fn alerts(out: &mut Out, alerts: &[ballast_supervisor::surface::AlertDeliveries]) {
    let rows = |f: fn(&ballast_supervisor::surface::AlertDeliveries) -> u64| {
        alerts
            .iter()
            .map(|a| (labels(&[("sink", a.kind)]), f(a)))
            .collect()
    };
    out.counters(
        "ballast_alert_deliveries",
        "Alert notifications delivered, by sink kind, since the supervisor started",
        rows(|a| a.sent),
    );
    out.counters(
        "ballast_alert_delivery_failures",
        "Failed alert delivery attempts (each retry counts), by sink kind",
        rows(|a| a.failed),
    );
}

fn ops(out: &mut Out, ops: &OpsCounts) {
    let heals = ops
        .heals
        .iter()
        .map(|((c, o), n)| (labels(&[("component", c), ("outcome", o.as_str())]), *n))
        .collect();
    out.counters(
        "ballast_heals",
        "Heals by component and outcome (applied, failed, dangerous, skipped) since the supervisor started",
        heals,
    );
    let per_service = |m: &std::collections::BTreeMap<String, u64>| {
        m.iter()
            .map(|(s, n)| (labels(&[("service", s)]), *n))
            .collect()
    };
    out.counters(
        "ballast_liveness_kills",
        "Services killed for a stale heartbeat or a missed watchdog",
        per_service(&ops.liveness_kills),
    );
    out.counters(
        "ballast_service_unrequested_exits",
        "Exits no operator asked for (crashes, kills from outside)",
        per_service(&ops.unrequested_exits),
    );
    out.counter(
        "ballast_policy_changes",
        "Safety policy changes",
        ops.policy_changes,
    );
    out.counter(
        "ballast_health_changes",
        "Overall health status changes",
        ops.health_changes,
    );
    out.counter(
        "ballast_recommendations_decided",
        "Recommendations approved, rejected or expired",
        ops.recommendations_decided,
    );
    out.counter(
        "ballast_ops_events_dropped",
        "Ops events the journal's queue could not take (the loss is journaled as ops.dropped)",
        ops.ops_dropped,
    );
}

fn engine(out: &mut Out, hb: Option<&Heartbeat>, now: Timestamp) {
    out.gauge(
        "ballast_engine_heartbeat_present",
        "1 when the engine's heartbeat file is there and readable",
        None,
        flag(hb.is_some()),
    );
    let Some(hb) = hb else { return };
    out.gauge(
        "ballast_engine_heartbeat_age",
        "Time since the engine's last loop wrote its heartbeat",
        Some(Unit::Seconds),
        now.ms_since(hb.time).max(0) as f64 / 1e3,
    );
    trading(out, hb);
    figures(out, hb);
    // Every active chaos mode, so that a dashboard or an alert rule never reads a chaos run
    // as a clean one.
    let chaos = hb
        .chaos
        .iter()
        .map(|m| (labels(&[("mode", m.as_str())]), 1.0))
        .collect();
    out.gauges(
        "ballast_chaos_active",
        "1 for each chaos mode the engine injects (paper only; docs/CHAOS.md)",
        None,
        chaos,
    );
}

fn trading(out: &mut Out, hb: &Heartbeat) {
    let st = &hb.status;
    let v = &hb.view;
    out.gauge(
        "ballast_equity",
        "Account equity, in the account's currency",
        None,
        dec(v.equity),
    );
    out.gauge(
        "ballast_cash",
        "Cash, in the account's currency",
        None,
        dec(v.cash),
    );
    out.gauge(
        "ballast_gross_exposure",
        "Sum of |quantity x mark| over the positions, in the account's currency",
        None,
        dec(v.gross_exposure),
    );
    out.gauge(
        "ballast_exposure_ratio",
        "Gross exposure over equity (0.5 = 50 %)",
        None,
        dec(v.exposure_pct) / 100.0,
    );
    out.gauge(
        "ballast_exposure_cap_ratio",
        "The auto-trim cap on gross exposure over equity",
        None,
        dec(v.exposure_cap_pct) / 100.0,
    );
    out.gauge(
        "ballast_positions",
        "Open positions",
        None,
        v.positions_total as f64,
    );
    out.gauge(
        "ballast_orders_open",
        "Orders the engine tracks (not yet filled or cancelled)",
        None,
        st.orders_open as f64,
    );
    out.gauge(
        "ballast_reconciliation_drift_orders",
        "Orders whose outcome at the venue is unknown (sent, no answer): local state not yet reconciled with the venue",
        None,
        st.orders_unknown as f64,
    );
    out.gauge(
        "ballast_signals_in_flight",
        "Signals not yet settled",
        None,
        st.signals_in_flight as f64,
    );
    out.counter("ballast_engine_bars", "Bars the engine processed", hb.bars);
    out.counter(
        "ballast_venue_rejections",
        "Orders the venue refused outright",
        st.venue_rejections,
    );
    out.counter(
        "ballast_order_unknown_outcomes",
        "Sends whose outcome was unknown (timeouts, transport errors)",
        st.unknown_outcomes,
    );
}

/// One series per guard check (0 for those that never refused); a name this build does not
/// know (a heartbeat is outside input) counts under `other`, never as a new label value.
fn rejections(by_check: &std::collections::BTreeMap<String, u64>) -> Vec<(Labels, u64)> {
    let mut rows: Vec<(Labels, u64)> = Check::ALL
        .iter()
        .map(|c| {
            (
                labels(&[("check", c.name())]),
                by_check.get(c.name()).copied().unwrap_or(0),
            )
        })
        .collect();
    let other: u64 = by_check
        .iter()
        .filter(|(name, _)| !Check::ALL.iter().any(|c| c.name() == name.as_str()))
        .map(|(_, n)| *n)
        .fold(0, u64::saturating_add);
    if other > 0 {
        rows.push((labels(&[("check", "other")]), other));
    }
    rows
}

fn figures(out: &mut Out, hb: &Heartbeat) {
    let f = &hb.figures;
    out.counter("ballast_orders", "Orders journaled (intents)", f.orders);
    out.counter("ballast_fills", "Fills booked", f.fills);
    out.counters(
        "ballast_guard_rejections",
        "Signals the trade guard rejected, by the check that refused",
        rejections(&f.rejections),
    );
    out.gauge(
        "ballast_engine_loop_lag",
        "How late the engine's last loop ended behind its pace",
        Some(Unit::Seconds),
        f.loop_lag_ms as f64 / 1e3,
    );
    out.gauge(
        "ballast_oldest_in_flight_order_age",
        "Age of the oldest order in flight (journaled, not yet confirmed by the venue); 0 when none is",
        Some(Unit::Seconds),
        f.oldest_in_flight_ms as f64 / 1e3,
    );
    if f.journal_sync.is_well_formed() {
        out.reg.register_with_unit(
            "ballast_journal_fsync_duration",
            "Write + fdatasync of each engine journal batch, since the engine started",
            Unit::Seconds,
            Bucketed(f.journal_sync.clone()),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ballast_core::engine::EngineFigures;

    fn text(sources: &Sources) -> String {
        let reg = registry(sources, Timestamp::from_unix_ms(10_000));
        super::super::text::to_prometheus_text(&super::super::text::openmetrics(&reg))
    }

    fn heartbeat() -> Heartbeat {
        let mut figures = EngineFigures {
            orders: 3,
            fills: 2,
            ..EngineFigures::default()
        };
        figures.rejections.insert("max_drawdown".into(), 4);
        figures.rejections.insert("made_up_check".into(), 5);
        figures.rejections.insert("another_one".into(), 1);
        figures.journal_sync = Histogram::new(&[1_000, 10_000]);
        for us in [500, 2_000, 20_000] {
            figures.journal_sync.observe(Duration::from_micros(us));
        }
        Heartbeat {
            version: 1,
            pid: 7,
            loops: 9,
            time: Timestamp::from_unix_ms(7_500),
            bars: 9,
            last_seq: 30,
            status: Default::default(),
            view: Default::default(),
            figures,
            signals_seq: 0,
            chaos: Vec::new(),
        }
    }

    use std::time::Duration;

    #[test]
    fn without_sources_the_scrape_says_so() {
        let t = text(&Sources::default());
        assert!(t.contains("ballast_supervisor_up 0.0\n"), "{t}");
        assert!(t.contains("ballast_engine_heartbeat_present 0.0\n"), "{t}");
        assert!(!t.contains("ballast_equity"), "{t}");
        assert!(!t.contains("status=\"HEALTHY\"} 1"), "{t}");
    }

    #[test]
    fn the_engine_s_figures_keep_their_buckets_and_unknown_checks_are_other() {
        let t = text(&Sources {
            heartbeat: Some(heartbeat()),
            ..Sources::default()
        });
        for line in [
            "ballast_engine_heartbeat_age_seconds 2.5\n",
            "ballast_orders_total 3\n",
            "ballast_fills_total 2\n",
            "ballast_guard_rejections_total{check=\"max_drawdown\"} 4\n",
            "ballast_guard_rejections_total{check=\"buying_power\"} 0\n",
            "ballast_guard_rejections_total{check=\"other\"} 6\n",
            "ballast_journal_fsync_duration_seconds_count 3\n",
            "ballast_journal_fsync_duration_seconds_sum 0.0225\n",
            "ballast_journal_fsync_duration_seconds_bucket{le=\"0.001\"} 1\n",
            "ballast_journal_fsync_duration_seconds_bucket{le=\"0.01\"} 2\n",
            "ballast_journal_fsync_duration_seconds_bucket{le=\"+Inf\"} 3\n",
        ] {
            assert!(t.contains(line), "{line:?} missing:\n{t}");
        }
        assert!(!t.contains("made_up_check"), "{t}");
        let checks = t
            .lines()
            .filter(|l| l.starts_with("ballast_guard_rejections_total{"))
            .count();
        assert_eq!(checks, Check::ALL.len() + 1);
    }

    #[test]
    fn a_malformed_histogram_is_left_out_and_the_output_is_in_a_stable_order() {
        let mut hb = heartbeat();
        hb.figures.journal_sync.counts.pop();
        let sources = Sources {
            heartbeat: Some(hb),
            ..Sources::default()
        };
        let t = text(&sources);
        assert!(!t.contains("fsync"), "{t}");
        assert_eq!(t, text(&sources));
        let rows: Vec<&str> = t
            .lines()
            .filter(|l| l.starts_with("ballast_guard_rejections_total{"))
            .collect();
        let mut sorted = rows.clone();
        sorted.sort();
        assert_eq!(rows, sorted);
    }

    #[test]
    fn every_counter_ends_in_total_in_the_text_format() {
        let t = text(&Sources {
            heartbeat: Some(heartbeat()),
            ops: Some(OpsCounts::default()),
            services: Some(Vec::new()),
            ..Sources::default()
        });
        for line in t.lines().filter(|l| l.starts_with("# TYPE ")) {
            if line.ends_with(" counter") {
                let name = line.split(' ').nth(2).unwrap();
                assert!(name.ends_with("_total"), "{line}");
            }
        }
    }
}

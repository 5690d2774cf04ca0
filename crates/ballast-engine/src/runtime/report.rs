//! The engine's pipeline report snapshot (`state/pipeline.snapshot.*`): the decision
//! tracker, the pipeline monitor, the shadow totals — what the dashboard and the healer read.

use super::*;

use crate::limits::REPORT_DECISIONS;

#[derive(serde::Serialize)]
pub(super) struct PipelineFile<'a> {
    pipeline: ballast_core::pipeline::PipelineReport,
    stats: &'a ballast_core::engine::Stats,
    recent_decisions: Vec<&'a ballast_core::pipeline::Decision>,
    shadow: &'a ballast_core::shadow::ShadowTotals,
    trim_failures: u32,
    liquidations_in_progress: usize,
}

/// The pipeline report, on the engine's (market) time.
pub(super) fn pipeline_report(state: &EngineState) -> PipelineFile<'_> {
    let now = state.last_bar.unwrap_or(ballast_core::Timestamp::EPOCH);
    PipelineFile {
        pipeline: {
            let (stuck, age) = state.stale_thresholds();
            ballast_core::pipeline::report(
                &state.signals,
                now,
                stuck,
                age,
                ballast_core::engine::MAX_STUCK,
            )
        },
        stats: &state.stats,
        recent_decisions: state
            .decisions
            .log
            .recent()
            .take(REPORT_DECISIONS)
            .collect(),
        shadow: &state.shadow.totals,
        trim_failures: state.orders.trim_failures,
        liquidations_in_progress: state.orders.liquidations.len(),
    }
}

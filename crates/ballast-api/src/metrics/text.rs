//! The two expositions of one registry: OpenMetrics (what `prometheus-client` writes, served to
//! a scraper that asks for it) and the Prometheus text format 0.0.4 (what everything else gets:
//! `curl`, `promtool check metrics`, older scrapers). They differ in three ways this module
//! carries over, purely: a counter family is named with its `_total` in the text format, there
//! is no `# UNIT` line and no `# EOF` marker.

use prometheus_client::registry::Registry;

/// The OpenMetrics content type.
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// The Prometheus text format's content type.
pub const TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Whether a scraper's `Accept` header asks for OpenMetrics.
pub fn wants_openmetrics(accept: Option<&str>) -> bool {
    accept.is_some_and(|a| a.contains("application/openmetrics-text"))
}

/// The registry in OpenMetrics.
pub fn openmetrics(registry: &Registry) -> String {
    let mut text = String::new();
    // Writing to a String cannot fail; an encoder error (a malformed family) would leave a
    // partial text, which the caller's tests would see.
    let _ = prometheus_client::encoding::text::encode(&mut text, registry);
    text
}

/// OpenMetrics text as the Prometheus text format 0.0.4.
pub fn to_prometheus_text(openmetrics: &str) -> String {
    let counters: Vec<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len() + counters.len() * 16);
    for line in openmetrics.lines() {
        if line.starts_with("# UNIT ") || line == "# EOF" {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(&name)
                .then(|| format!("{prefix}{name}_total {tail}"))
        });
        match renamed {
            Some(l) => out.push_str(&l),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_get_their_total_and_units_and_the_end_marker_go() {
        let om = "# HELP ballast_x Things.\n# TYPE ballast_x counter\nballast_x_total 3\n\
                  # HELP ballast_y_seconds Lag.\n# TYPE ballast_y_seconds gauge\n# UNIT ballast_y_seconds seconds\n\
                  ballast_y_seconds 0.5\n# EOF\n";
        assert_eq!(
            to_prometheus_text(om),
            "# HELP ballast_x_total Things.\n# TYPE ballast_x_total counter\nballast_x_total 3\n\
             # HELP ballast_y_seconds Lag.\n# TYPE ballast_y_seconds gauge\nballast_y_seconds 0.5\n"
        );
    }

    #[test]
    fn only_a_scraper_that_asks_gets_openmetrics() {
        assert!(wants_openmetrics(Some(
            "application/openmetrics-text;version=1.0.0,text/plain;q=0.5"
        )));
        assert!(!wants_openmetrics(Some("*/*")));
        assert!(!wants_openmetrics(None));
    }
}

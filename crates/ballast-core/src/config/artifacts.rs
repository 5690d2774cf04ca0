//! `[[artifacts]]`: files and directories of user services that the healer keeps healthy
//! (SPEC §4, declared artifacts). Checked key by key like `[[services]]`, then: the service
//! is declared, the path is set, a json default is an object holding every required key, a
//! heartbeat has a max age, a cache is a directory of its own (never the service's working
//! directory or above it, `/`, the data directory or anything above or inside it) that is
//! not and holds no service's cwd, declared artifact, heartbeat file or other cache (nor is
//! inside another cache) as declared — the supervisor compares them resolved, and `ballast
//! check` where the filesystem can be read — and only a cache has `auto_clear` /
//! `max_clear_entries`.

use super::error::{ConfigError, Origin};
use super::model::{ArtifactKind, Config};
use super::schema::ARTIFACT_KEYS;
use super::services::{ServiceValues, TableArray, err};
use super::suggest::closest;
use crate::limits::MAX_ARTIFACTS_COUNT;

pub const ARTIFACTS: TableArray = TableArray {
    name: "artifacts",
    keys: ARTIFACT_KEYS,
    max: MAX_ARTIFACTS_COUNT,
    required: &["service", "path"],
};

pub fn check(config: &Config, values: &[ServiceValues]) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    let origin = |i: usize, key: &str| ARTIFACTS.origin(values, i, key);
    let mut push = |origin: Origin, message: String, help: String| {
        errors.push(err(origin, message, help));
    };
    for (i, a) in config.artifacts.iter().enumerate() {
        if a.service.is_empty() || a.path.is_empty() {
            continue; // reported as missing
        }
        if !config.services.iter().any(|s| s.name == a.service) {
            let help = match closest(&a.service, config.services.iter().map(|s| s.name.as_str())) {
                Some(n) => format!("did you mean {n:?}?"),
                None => "declare the service in a [[services]] table first".into(),
            };
            push(
                origin(i, "service"),
                format!(
                    "[[artifacts]] {}: service {:?} is not declared",
                    a.path, a.service
                ),
                help,
            );
        }
        match a.kind {
            ArtifactKind::Json => match serde_json::from_str::<serde_json::Value>(&a.default) {
                Ok(serde_json::Value::Object(map)) => {
                    for k in &a.required_keys {
                        if !map.contains_key(k) {
                            push(
                                origin(i, "required_keys"),
                                format!(
                                    "[[artifacts]] {}: required key {k:?} is not in default",
                                    a.path
                                ),
                                "add it to default: a missing key is filled from there".into(),
                            );
                        }
                    }
                }
                Ok(_) => push(
                    origin(i, "default"),
                    format!("[[artifacts]] {}: default must be a JSON object", a.path),
                    "write it as default = '{\"key\": \"value\"}'".into(),
                ),
                Err(e) => push(
                    origin(i, "default"),
                    format!("[[artifacts]] {}: default is not JSON: {e}", a.path),
                    "write it as default = '{\"key\": \"value\"}'".into(),
                ),
            },
            ArtifactKind::Heartbeat if a.max_age_secs == 0 => push(
                origin(i, "max_age_secs"),
                format!("[[artifacts]] {}: a heartbeat needs max_age_secs", a.path),
                "set max_age_secs to the age after which the service is restarted".into(),
            ),
            ArtifactKind::Cache => {
                for (key, why) in cache_problems(config, i) {
                    push(
                        origin(i, key),
                        format!("[[artifacts]] {}: {why}", a.path),
                        "declare the directory the service keeps its disposable files in (e.g. path = \"cache\"): everything in it may be deleted".into(),
                    );
                }
            }
            _ => {}
        }
        if a.kind != ArtifactKind::Cache && a.auto_clear {
            push(
                origin(i, "auto_clear"),
                format!(
                    "[[artifacts]] {}: auto_clear applies to a cache only",
                    a.path
                ),
                "remove it, or set kind = \"cache\"".into(),
            );
        }
    }
    errors
}

/// What is wrong with cache artifact `i`'s path: refused by itself, the data directory's
/// relation to it (when the configuration names an absolute one), another declared file inside
/// it (a clear would delete it).
fn cache_problems(config: &Config, i: usize) -> Vec<(&'static str, String)> {
    use std::path::Path;
    let a = &config.artifacts[i];
    let mut out = Vec::new();
    if let Some(why) = crate::cache::declared_refusal(&a.path) {
        out.push(("path", why));
        return out;
    }
    let Some(service) = config.services.iter().find(|s| s.name == a.service) else {
        return out;
    };
    let dir = service.declared_path(&a.path);
    let data = Path::new(&config.general.data_dir);
    let cwd = Path::new(&service.cwd);
    if dir.is_absolute() {
        let data = data.is_absolute().then_some(data);
        let cwd = cwd.is_absolute().then_some(cwd);
        if let Some(why) = crate::cache::refusal(&dir, data, cwd) {
            out.push(("path", why));
        }
    }
    // Every other service's cwd, declared file, heartbeat and cache (nested caches refused),
    // as declared; the supervisor compares them resolved again before every clear, and
    // `ballast check` resolves them where the filesystem can be read.
    let data = data.is_absolute().then_some(data);
    let guarded = crate::cache::guarded(config, i, None, data);
    if let Some(why) = crate::cache::guarded_refusal(&dir, &guarded) {
        out.push(("path", why));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::{Config, ConfigErrors, Source, load};

    fn file(text: &str) -> Result<Config, ConfigErrors> {
        load(
            Some(Source {
                path: "ballast.toml",
                text,
            }),
            &[],
        )
    }

    const BASE: &str = "[general]\ndata_dir = \"/srv/ballast-data\"\n[[services]]\nname = \"bot\"\ncommand = \"x\"\ncwd = \"/srv/bot\"\nheartbeat_file = \"cache/hb\"\n";

    fn cache(path: &str, extra: &str) -> String {
        format!(
            "{BASE}[[artifacts]]\nservice = \"bot\"\nkind = \"cache\"\npath = \"{path}\"\n{extra}"
        )
    }

    #[test]
    fn a_cache_is_a_directory_of_its_own_and_says_its_bounds() {
        let ok = file(&cache("/srv/bot/tmp", "auto_clear = true\n")).unwrap();
        let a = &ok.artifacts[0];
        assert_eq!(a.kind, super::ArtifactKind::Cache);
        assert!(a.auto_clear);
        assert_eq!(a.max_clear_entries, 1_000, "the documented default");
        let ok = file(&cache("/srv/bot/tmp", "")).unwrap();
        assert!(!ok.artifacts[0].auto_clear, "auto_clear is off by default");
        // A careless path would delete the service's own files, or Ballast's.
        for (path, want) in [
            (
                ".",
                "the service's working directory or a directory above it",
            ),
            (
                "..",
                "the service's working directory or a directory above it",
            ),
            ("/", "is / or a top-level directory"),
            ("/srv", "is / or a top-level directory"),
            (
                "/srv/ballast-data/journal",
                "inside Ballast's data directory",
            ),
            ("/srv/bot/../ballast-data", "Ballast's data directory"),
            (
                "cache",
                "it holds service bot's heartbeat file /srv/bot/cache/hb",
            ),
        ] {
            let text = file(&cache(path, "")).unwrap_err().to_string();
            assert!(text.contains(want), "{path}: {want}: {text}");
            assert!(text.contains("ballast.toml:"), "{text}");
        }
        // Another service's working directory, another declared file, another cache (nested
        // both ways): each refused, naming which path and why.
        let two = |cache: &str, more: &str| {
            format!(
                "{BASE}[[services]]\nname = \"bot2\"\ncommand = \"x\"\ncwd = \"/srv/f\"\n[[artifacts]]\nservice = \"bot2\"\nkind = \"cache\"\npath = \"{cache}\"\n{more}"
            )
        };
        for (cache, more, want) in [
            (
                "/srv/bot",
                "",
                "it is service bot's working directory /srv/bot",
            ),
            ("/srv/f/../bot/x/..", "", "service bot's working directory"),
            (
                "c",
                "[[artifacts]]\nservice = \"bot\"\nkind = \"json\"\npath = \"/srv/f/c/state.json\"\n",
                "it holds service bot's declared json artifact /srv/f/c/state.json",
            ),
            (
                "c",
                "[[artifacts]]\nservice = \"bot\"\nkind = \"cache\"\npath = \"/srv/f/c/inner\"\n",
                "it holds service bot's declared cache /srv/f/c/inner",
            ),
            (
                "c/inner",
                "[[artifacts]]\nservice = \"bot\"\nkind = \"cache\"\npath = \"/srv/f/c\"\n",
                "it is inside service bot's declared cache /srv/f/c",
            ),
        ] {
            let text = file(&two(cache, more)).unwrap_err().to_string();
            assert!(text.contains(want), "{cache}: {want}: {text}");
            assert!(
                text.contains("ballast.toml:"),
                "at its file:line:col: {text}"
            );
        }
        assert!(file(&two("c", "")).is_ok(), "a cache of its own is fine");
        let text = file(&format!(
            "{BASE}[[artifacts]]\nservice = \"bot\"\nkind = \"dir\"\npath = \"d\"\nauto_clear = true\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(
            text.contains("auto_clear applies to a cache only"),
            "{text}"
        );
        let text = file(&cache("tmp", "max_clear_entries = 0\n"))
            .unwrap_err()
            .to_string();
        assert!(text.contains("max_clear_entries"), "{text}");
        // A chunk is one loop turn's work: bounded so the turn stays well under 50 ms.
        let text = file(&cache(
            "tmp",
            "max_clear_entries = 2001
",
        ))
        .unwrap_err()
        .to_string();
        assert!(
            text.contains("max_clear_entries") && text.contains("2000"),
            "{text}"
        );
        assert!(
            file(&cache(
                "tmp",
                "max_clear_entries = 2000
"
            ))
            .is_ok()
        );
    }
}

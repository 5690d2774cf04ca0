//! A small checker of JSON values against an OpenAPI 3.0 document's schemas: only what
//! Alpaca's schemas use (`$ref`, `type`, `nullable`, `required`, `properties`,
//! `additionalProperties`, `items`, `maxItems`, `enum`, `format`, `minLength`/`maxLength`,
//! `oneOf`/`anyOf`). A keyword or format it does not know is a failure, never a pass.
//! Shared by the fake's conformance test and the adapter's official-examples test (`#[path]`).
#![allow(dead_code)]
use serde_json::Value;

/// Keywords that describe and never constrain.
const ANNOTATIONS: &[&str] = &[
    "title",
    "description",
    "example",
    "x-examples",
    "x-go-name",
    "deprecated",
    "x-deprecation",
    "default",
];

/// One OpenAPI document.
pub struct Spec {
    pub doc: Value,
}

impl Spec {
    pub fn new(text: &str) -> Spec {
        Spec {
            doc: serde_json::from_str(text).expect("the vendored subset is JSON"),
        }
    }

    /// The target of a local `$ref`.
    pub fn resolve<'a>(&'a self, pointer: &str) -> Result<&'a Value, String> {
        pointer
            .strip_prefix('#')
            .and_then(|p| self.doc.pointer(p))
            .ok_or_else(|| format!("$ref {pointer} is not in the document"))
    }

    /// The schema of `method path`'s `status` answer: `Ok(Some)` a body schema,
    /// `Ok(None)` documented without a body, `Err` not documented.
    pub fn response(
        &self,
        path: &str,
        method: &str,
        status: u16,
    ) -> Result<Option<&Value>, String> {
        let op = &self.doc["paths"][path][method];
        if op.is_null() {
            return Err(format!("{method} {path} is not in the document"));
        }
        let mut r = &op["responses"][status.to_string()];
        if r.is_null() {
            return Err(format!("{method} {path} documents no {status}"));
        }
        if let Some(p) = r["$ref"].as_str() {
            r = self.resolve(p)?;
        }
        Ok(r["content"]["application/json"].get("schema"))
    }

    /// The schema of `method path`'s JSON request body, and its examples by name.
    pub fn request(&self, path: &str, method: &str) -> Option<(&Value, Vec<(String, Value)>)> {
        let media =
            self.doc["paths"][path][method]["requestBody"]["content"].get("application/json")?;
        let examples = media["examples"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v["value"].clone()))
                    .collect()
            })
            .unwrap_or_default();
        Some((media.get("schema")?, examples))
    }

    /// Every way `value` breaks `schema`, each with its JSON path (`$` the root).
    pub fn check(&self, schema: &Value, value: &Value) -> Vec<String> {
        let mut out = Vec::new();
        self.walk(schema, value, "$", &mut out);
        out
    }

    fn walk(&self, schema: &Value, v: &Value, at: &str, out: &mut Vec<String>) {
        let Some(s) = schema.as_object() else {
            out.push(format!("{at}: the schema is not an object"));
            return;
        };
        if let Some(p) = s.get("$ref").and_then(Value::as_str) {
            match self.resolve(p) {
                Ok(target) => self.walk(target, v, at, out),
                Err(e) => out.push(format!("{at}: {e}")),
            }
            return;
        }
        for k in s.keys() {
            let known = ANNOTATIONS.contains(&k.as_str())
                || matches!(
                    k.as_str(),
                    "type"
                        | "nullable"
                        | "required"
                        | "properties"
                        | "additionalProperties"
                        | "items"
                        | "maxItems"
                        | "enum"
                        | "format"
                        | "minLength"
                        | "maxLength"
                        | "oneOf"
                        | "anyOf"
                );
            if !known {
                out.push(format!("{at}: the checker does not know keyword {k:?}"));
            }
        }
        if v.is_null() {
            if s.get("nullable") != Some(&Value::Bool(true)) && s.contains_key("type") {
                out.push(format!("{at}: null, but the schema is not nullable"));
            }
            return;
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(branches) = s.get(key).and_then(Value::as_array) {
                let fits = branches.iter().any(|b| self.check(b, v).is_empty());
                if !fits {
                    out.push(format!("{at}: matches no branch of {key}"));
                }
            }
        }
        if let Some(t) = s.get("type").and_then(Value::as_str) {
            if !type_fits(t, v) {
                out.push(format!("{at}: {} is not of type {t}", short(v)));
                return;
            }
        }
        if let Some(values) = s.get("enum").and_then(Value::as_array) {
            if !values.contains(v) {
                out.push(format!(
                    "{at}: {} is not one of {}",
                    short(v),
                    short(&Value::Array(values.clone()))
                ));
            }
        }
        if let (Some(f), Some(text)) = (s.get("format").and_then(Value::as_str), v.as_str()) {
            if let Err(e) = format_fits(f, text) {
                out.push(format!("{at}: {text:?} is not {f}: {e}"));
            }
        }
        if let (Some(f), Value::Number(n)) = (s.get("format").and_then(Value::as_str), v) {
            let ok = match f {
                "double" => true,
                "int64" => n.is_i64() || n.is_u64(),
                _ => false,
            };
            if !ok {
                out.push(format!("{at}: {n} is not {f}"));
            }
        }
        if let Some(text) = v.as_str() {
            let n = text.chars().count() as u64;
            if s.get("minLength")
                .and_then(Value::as_u64)
                .is_some_and(|m| n < m)
            {
                out.push(format!("{at}: {text:?} is shorter than minLength"));
            }
            if s.get("maxLength")
                .and_then(Value::as_u64)
                .is_some_and(|m| n > m)
            {
                out.push(format!("{at}: {} is longer than maxLength", short(v)));
            }
        }
        if let Some(obj) = v.as_object() {
            for r in s
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(name) = r.as_str().filter(|n| !obj.contains_key(*n)) {
                    out.push(format!("{at}: required field {name:?} is missing"));
                }
            }
            let props = s.get("properties").and_then(Value::as_object);
            for (k, fv) in obj {
                let here = format!("{at}.{k}");
                match (props.and_then(|p| p.get(k)), s.get("additionalProperties")) {
                    (Some(ps), _) => self.walk(ps, fv, &here, out),
                    (None, Some(Value::Bool(false))) => {
                        out.push(format!("{here}: not allowed (additionalProperties false)"))
                    }
                    (None, Some(extra @ Value::Object(_))) => self.walk(extra, fv, &here, out),
                    // Not described: allowed (OpenAPI's default), and not checked.
                    (None, _) => {}
                }
            }
        }
        if let (Some(max), Some(list)) = (s.get("maxItems").and_then(Value::as_u64), v.as_array()) {
            if list.len() as u64 > max {
                out.push(format!(
                    "{at}: {} items, more than maxItems {max}",
                    list.len()
                ));
            }
        }
        if let (Some(items), Some(list)) = (s.get("items"), v.as_array()) {
            for (i, item) in list.iter().enumerate() {
                self.walk(items, item, &format!("{at}[{i}]"), out);
            }
        }
    }
}

fn type_fits(t: &str, v: &Value) -> bool {
    match t {
        "string" => v.is_string(),
        "number" => v.is_number(),
        "integer" => v.as_i64().is_some() || v.as_u64().is_some(),
        "boolean" => v.is_boolean(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        _ => false,
    }
}

fn short(v: &Value) -> String {
    let t = v.to_string();
    if t.chars().count() > 80 {
        format!("{}…", t.chars().take(80).collect::<String>())
    } else {
        t
    }
}

fn digits(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_digit())
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` (RFC 3339's date-time).
fn date_time(t: &str) -> Result<(), &'static str> {
    let (date, time) = t.split_once(['T', 't']).ok_or("no 'T'")?;
    let d: Vec<&str> = date.split('-').collect();
    if d.len() != 3 || !digits(d[0], 4) || !digits(d[1], 2) || !digits(d[2], 2) {
        return Err("the date is not YYYY-MM-DD");
    }
    let (clock, offset) = if let Some(c) = time.strip_suffix(['Z', 'z']) {
        (c, None)
    } else {
        let at = time.rfind(['+', '-']).ok_or("no offset (Z or ±HH:MM)")?;
        (&time[..at], Some(&time[at + 1..]))
    };
    if let Some(o) = offset {
        let parts: Vec<&str> = o.split(':').collect();
        if parts.len() != 2 || !digits(parts[0], 2) || !digits(parts[1], 2) {
            return Err("the offset is not ±HH:MM");
        }
    }
    let (hms, frac) = clock.split_once('.').unwrap_or((clock, "0"));
    let h: Vec<&str> = hms.split(':').collect();
    if h.len() != 3 || !h.iter().all(|p| digits(p, 2)) {
        return Err("the time is not HH:MM:SS");
    }
    if frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err("the fraction is not digits");
    }
    Ok(())
}

fn format_fits(f: &str, t: &str) -> Result<(), String> {
    match f {
        "date-time" => date_time(t).map_err(str::to_owned),
        "uuid" => {
            let groups: Vec<&str> = t.split('-').collect();
            let lens = [8, 4, 4, 4, 12];
            let ok = groups.len() == 5
                && groups
                    .iter()
                    .zip(lens)
                    .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()));
            if ok {
                Ok(())
            } else {
                Err("not 8-4-4-4-12 hex digits".into())
            }
        }
        "decimal" => t
            .parse::<rust_decimal::Decimal>()
            .map(|_| ())
            .map_err(|e| e.to_string()),
        other => Err(format!("the checker does not know format {other:?}")),
    }
}

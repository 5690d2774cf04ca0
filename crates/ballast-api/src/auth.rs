//! Who may call what: two bearer tokens — the operator's (control) and the viewer's
//! (read-only) — and each route's [`Access`]. The decision ([`authorize`]) is pure; reading,
//! generating and checking the token files is the shell below it.
//!
//! Tokens are compared in constant time (`subtle`). A token is generated at first start into
//! `run/api.token` / `run/api.viewer.token` (0600, 32 random bytes from `/dev/urandom` as 64
//! hex digits) unless `[api] token_file` / `viewer_token_file` supply one (a 0600 file, like a
//! secret). A non-loopback bind needs a supplied operator token ([`remote_refusal`]).

use std::io::{Read, Write};
use std::net::IpAddr;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use axum::http::HeaderMap;
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::routes::Access;

/// Random bytes in a generated token.
pub const TOKEN_BYTES: usize = 32;
/// The shortest token accepted from a file: a guessable one is refused, never used.
pub const MIN_TOKEN_CHARS: usize = 32;
/// The largest token file read (a token is one line).
pub const MAX_TOKEN_FILE_BYTES: u64 = 4096;

/// A caller's role, decided from its token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Viewer,
    Operator,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
        }
    }
}

/// Where a token came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Generated now into this file (printed once at start).
    Generated(PathBuf),
    /// Generated at an earlier start into this file.
    Kept(PathBuf),
    /// Supplied by the operator (`[api] token_file` / `viewer_token_file`).
    Supplied(PathBuf),
}

impl Origin {
    pub fn path(&self) -> &Path {
        match self {
            Origin::Generated(p) | Origin::Kept(p) | Origin::Supplied(p) => p,
        }
    }
}

/// One role's token. Its `Debug` never shows the secret.
#[derive(Clone)]
pub struct Token {
    secret: Vec<u8>,
    pub origin: Origin,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Token(*** from {})", self.origin.path().display())
    }
}

impl Token {
    pub fn new(secret: impl Into<Vec<u8>>, origin: Origin) -> Token {
        Token {
            secret: secret.into(),
            origin,
        }
    }

    /// The secret, for the one place that shows it: the start message right after it was
    /// generated.
    pub fn reveal(&self) -> &str {
        std::str::from_utf8(&self.secret).unwrap_or("")
    }

    fn matches(&self, presented: &[u8]) -> bool {
        self.secret.ct_eq(presented).into()
    }
}

/// The operator's and the viewer's tokens.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub operator: Token,
    pub viewer: Token,
}

impl Tokens {
    /// The role of `presented`, if it is one of the two tokens (both compared, in constant
    /// time each).
    pub fn role(&self, presented: &[u8]) -> Option<Role> {
        let operator = self.operator.matches(presented);
        let viewer = self.viewer.matches(presented);
        if operator {
            Some(Role::Operator)
        } else if viewer {
            Some(Role::Viewer)
        } else {
            None
        }
    }
}

/// The bearer token of an `Authorization` header (`Bearer <token>`, the scheme in any case).
pub fn bearer(headers: &HeaderMap) -> Option<&[u8]> {
    let value = headers.get(axum::http::header::AUTHORIZATION)?.as_bytes();
    let (scheme, rest) = value.split_at_checked(7)?;
    scheme
        .eq_ignore_ascii_case(b"bearer ")
        .then(|| rest.trim_ascii())
}

/// Decide a call: the caller's role (`None` for an open route called without a token), or
/// the refusal — 401 without a token or with a wrong one, 403 for the viewer on an operator
/// route.
pub fn authorize(
    access: Access,
    presented: Option<&[u8]>,
    tokens: &Tokens,
) -> Result<Option<Role>, ApiError> {
    let role = presented.and_then(|p| tokens.role(p));
    match (access, presented, role) {
        (Access::Open, _, role) => Ok(role),
        (_, None, _) => Err(ApiError::unauthorized(
            "this route needs a bearer token: send `Authorization: Bearer <token>` with the operator's token (run/api.token) or the viewer's (run/api.viewer.token)",
        )),
        (_, Some(_), None) => Err(ApiError::unauthorized(
            "the bearer token is not one of this Ballast's tokens: use the operator's (run/api.token, or [api] token_file) or the viewer's (run/api.viewer.token, or [api] viewer_token_file)",
        )),
        (Access::Operator, Some(_), Some(Role::Viewer)) => Err(ApiError::forbidden(
            "the viewer's token is read-only: this is a control action and needs the operator's token",
        )),
        (_, Some(_), Some(role)) => Ok(Some(role)),
    }
}

/// Why a bind is refused before anything listens: a non-loopback address needs
/// `allow_remote = true` and an operator token supplied by the operator (not generated, so
/// never one that sat in the data directory). `None` when the bind is safe.
pub fn remote_refusal(bind: IpAddr, allow_remote: bool, token_supplied: bool) -> Option<String> {
    if bind.is_loopback() {
        return None;
    }
    let mut missing = Vec::new();
    if !allow_remote {
        missing.push("[api] allow_remote = true");
    }
    if !token_supplied {
        missing.push("an operator token of your own in [api] token_file (a 0600 file with at least 32 random characters, e.g. `openssl rand -hex 32 > api.token && chmod 600 api.token`)");
    }
    (!missing.is_empty()).then(|| {
        format!(
            "[api] bind = \"{bind}\" is not a loopback address, and the API controls trading: a remote bind needs {}; or keep bind = \"127.0.0.1\"",
            missing.join(" and ")
        )
    })
}

/// Read or generate both tokens: a supplied file wins; else the token generated at an
/// earlier start; else a new one, written 0600.
pub fn load(
    operator_file: Option<&Path>,
    viewer_file: Option<&Path>,
    generated_operator: &Path,
    generated_viewer: &Path,
) -> Result<Tokens, String> {
    let operator = one("operator", "token_file", operator_file, generated_operator)?;
    let viewer = one("viewer", "viewer_token_file", viewer_file, generated_viewer)?;
    if operator.secret.ct_eq(&viewer.secret).into() {
        return Err(format!(
            "the operator's token ({}) and the viewer's ({}) are the same: the viewer could then control trading; give the viewer a token of its own",
            operator.origin.path().display(),
            viewer.origin.path().display()
        ));
    }
    Ok(Tokens { operator, viewer })
}

fn one(role: &str, key: &str, supplied: Option<&Path>, generated: &Path) -> Result<Token, String> {
    if let Some(path) = supplied {
        let secret = read_token(path, true)
            .map_err(|e| format!("[api] {key} ({role}'s token): {e}"))?
            .ok_or_else(|| {
                format!(
                    "[api] {key} = {:?} does not exist: create it (0600) with the {role}'s token, or remove the key to have one generated",
                    path.display()
                )
            })?;
        return Ok(Token::new(secret, Origin::Supplied(path.to_owned())));
    }
    match read_token(generated, false).map_err(|e| format!("the {role}'s token: {e}"))? {
        Some(secret) => Ok(Token::new(secret, Origin::Kept(generated.to_owned()))),
        None => {
            let secret = generate()?;
            write_new(generated, &secret)?;
            Ok(Token::new(secret, Origin::Generated(generated.to_owned())))
        }
    }
}

/// A token file's token (its first line, trimmed), checked: a regular file, 0600 or
/// stricter, at most [`MAX_TOKEN_FILE_BYTES`], at least [`MIN_TOKEN_CHARS`] printable
/// characters. `None` when it does not exist.
fn read_token(path: &Path, follow: bool) -> Result<Option<Vec<u8>>, String> {
    let read = if follow {
        ballast_store::bounded::read_regular(path, MAX_TOKEN_FILE_BYTES)
    } else {
        ballast_store::bounded::read_own(path, MAX_TOKEN_FILE_BYTES)
    };
    let bytes = match read {
        Ok(b) => b,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    let mode = std::fs::metadata(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(format!(
            "{} is readable or writable by others (mode {:o}): a token file must be the owner's only; `chmod 600 {}`",
            path.display(),
            mode & 0o777,
            path.display()
        ));
    }
    let token = bytes
        .split(|b| *b == b'\n')
        .next()
        .unwrap_or_default()
        .trim_ascii();
    if token.len() < MIN_TOKEN_CHARS || !token.iter().all(|b| b.is_ascii_graphic()) {
        return Err(format!(
            "{} holds no usable token: it needs at least {MIN_TOKEN_CHARS} printable characters without spaces on its first line (found {}); e.g. `openssl rand -hex 32`",
            path.display(),
            token.len()
        ));
    }
    Ok(Some(token.to_vec()))
}

/// A new token: [`TOKEN_BYTES`] bytes of `/dev/urandom` as hex.
fn generate() -> Result<Vec<u8>, String> {
    let mut bytes = [0u8; TOKEN_BYTES];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| format!("cannot read random bytes from /dev/urandom for a token: {e}"))?;
    Ok(hex(&bytes).into_bytes())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Write `secret` to the new file `path`, 0600, synced.
fn write_new(path: &Path, secret: &[u8]) -> Result<(), String> {
    let fail = |e: std::io::Error| format!("cannot write the token {}: {e}", path.display());
    if let Some(dir) = path.parent() {
        ballast_store::storage::create_dirs(dir, ballast_store::storage::PRIVATE_DIR_MODE)
            .map_err(fail)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(fail)?;
    file.write_all(secret).map_err(fail)?;
    file.write_all(b"\n").map_err(fail)?;
    file.sync_all().map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> Tokens {
        Tokens {
            operator: Token::new(*b"op-secret", Origin::Kept("a".into())),
            viewer: Token::new(*b"view-secret", Origin::Kept("b".into())),
        }
    }

    #[test]
    fn each_access_decides_each_token() {
        let t = tokens();
        let op = Some(&b"op-secret"[..]);
        let view = Some(&b"view-secret"[..]);
        let wrong = Some(&b"op-secreT"[..]);
        assert_eq!(authorize(Access::Open, None, &t), Ok(None));
        assert_eq!(authorize(Access::Open, wrong, &t), Ok(None));
        assert_eq!(authorize(Access::Viewer, view, &t), Ok(Some(Role::Viewer)));
        assert_eq!(authorize(Access::Viewer, op, &t), Ok(Some(Role::Operator)));
        assert_eq!(
            authorize(Access::Operator, op, &t),
            Ok(Some(Role::Operator))
        );
        for (access, presented, status) in [
            (Access::Viewer, None, 401),
            (Access::Viewer, wrong, 401),
            (Access::Operator, None, 401),
            (Access::Operator, wrong, 401),
            (Access::Operator, view, 403),
        ] {
            let e = authorize(access, presented, &t).unwrap_err();
            assert_eq!(e.status, status, "{access:?} {presented:?}");
            assert!(!e.message.contains("secret"), "{}", e.message);
        }
    }

    #[test]
    fn the_bearer_scheme_is_read_in_any_case() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert("authorization", "bearer  abc ".parse().unwrap());
        assert_eq!(bearer(&h), Some(&b"abc"[..]));
        h.insert("authorization", "Basic abc".parse().unwrap());
        assert_eq!(bearer(&h), None);
    }

    #[test]
    fn a_remote_bind_needs_both_conditions() {
        let remote: IpAddr = "0.0.0.0".parse().unwrap();
        let local: IpAddr = "::1".parse().unwrap();
        assert_eq!(remote_refusal(local, false, false), None);
        assert_eq!(remote_refusal(remote, true, true), None);
        let both = remote_refusal(remote, false, false).unwrap();
        assert!(
            both.contains("allow_remote") && both.contains("token_file"),
            "{both}"
        );
        let token = remote_refusal(remote, true, false).unwrap();
        assert!(!token.contains("allow_remote") && token.contains("token_file"));
        let allow = remote_refusal(remote, false, true).unwrap();
        assert!(allow.contains("allow_remote") && !allow.contains("token_file"));
    }

    #[test]
    fn tokens_are_generated_once_0600_and_supplied_files_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let (op, view) = (dir.path().join("run/op"), dir.path().join("run/view"));
        let first = load(None, None, &op, &view).unwrap();
        assert!(matches!(first.operator.origin, Origin::Generated(_)));
        assert_eq!(first.operator.reveal().len(), 2 * TOKEN_BYTES);
        let mode = std::fs::metadata(&op).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = load(None, None, &op, &view).unwrap();
        assert!(matches!(again.operator.origin, Origin::Kept(_)));
        assert_eq!(again.operator.reveal(), first.operator.reveal());
        assert_ne!(again.viewer.reveal(), again.operator.reveal());
        assert!(!format!("{again:?}").contains(first.operator.reveal()));

        let mine = dir.path().join("mine");
        std::fs::write(&mine, "short\n").unwrap();
        std::fs::set_permissions(&mine, std::fs::Permissions::from_mode(0o644)).unwrap();
        let open = load(Some(&mine), None, &op, &view).unwrap_err();
        assert!(
            open.contains("token_file") && open.contains("chmod 600"),
            "{open}"
        );
        std::fs::set_permissions(&mine, std::fs::Permissions::from_mode(0o600)).unwrap();
        let short = load(Some(&mine), None, &op, &view).unwrap_err();
        assert!(short.contains("at least 32"), "{short}");
        std::fs::write(&mine, format!("{}\n", "x".repeat(40))).unwrap();
        let t = load(Some(&mine), None, &op, &view).unwrap();
        assert!(matches!(t.operator.origin, Origin::Supplied(_)));
        let same = load(Some(&mine), Some(&mine), &op, &view).unwrap_err();
        assert!(same.contains("the same"), "{same}");
    }
}

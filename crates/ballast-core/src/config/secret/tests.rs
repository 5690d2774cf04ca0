use serde_json::json;

use super::*;

#[test]
fn every_secret_spelling_is_a_secret_name() {
    for name in [
        "DB_PASS",
        "BROKER_KEY",
        "AUTH",
        "PGPWD",
        "token",
        "API_KEY",
        "api-key",
        "ApiKey",
        "apiKey",
        "db_password",
        "client_secret",
        "PASSWD",
        "GITHUB_PAT",
        "APCA_API_SECRET_KEY",
        "OAUTH",
    ] {
        assert!(is_secret_name(name), "{name}");
    }
    for name in [
        "mode",
        "command",
        "max_open_orders",
        "keyboard",
        "required_keys",
        "LEVEL",
        "readiness_url",
        "path",
    ] {
        assert!(!is_secret_name(name), "{name}");
    }
}

#[test]
fn secrets_inside_a_text_are_masked() {
    assert_eq!(
        mask_text("ftp://admin:TOPSECRET2@127.0.0.1:1/"),
        "ftp://admin:***@127.0.0.1:1/"
    );
    assert_eq!(
        mask_text("http://token@127.0.0.1:1/x?a=b@c"),
        "http://***@127.0.0.1:1/x?a=b@c"
    );
    assert_eq!(mask_text("http://127.0.0.1:1/"), "http://127.0.0.1:1/");
    assert_eq!(mask_text("Bearer abc.def"), "Bearer ***");
    assert_eq!(
        mask_text("Authorization: bearer xyz, more"),
        "Authorization: bearer ***, more"
    );
    assert_eq!(mask_text("--api-key=sk_live_1"), "--api-key=***");
    assert_eq!(mask_text("DB_PASS = \"hunter2\" x"), "DB_PASS = *** x");
    assert_eq!(mask_text("level=info"), "level=info");
    assert!(!text_has_secret("readiness = \"http\" needs readiness_url"));
}

#[test]
fn a_value_is_masked_by_its_name_its_text_and_its_args() {
    let env = json!({"DB_URL": "postgres://u:p@h/db", "DB_PASS": "x", "PGPWD": "y",
        "BROKER_KEY": "z", "AUTH": "Bearer t0k", "LEVEL": "info"});
    let m = mask_value("env", &env);
    assert_eq!(m["DB_URL"], "postgres://u:***@h/db");
    for k in ["DB_PASS", "PGPWD", "BROKER_KEY", "AUTH"] {
        assert_eq!(m[k], MASK, "{k}");
    }
    assert_eq!(m["LEVEL"], "info");
    assert_eq!(mask_value("note", &json!("Bearer t0k")), "Bearer ***");
    let args = mask_value("args", &json!(["--pass", "hunter2", "-k", "x"]));
    assert_eq!(
        args,
        json!([MASK, MASK, MASK, MASK]),
        "the whole array is hidden"
    );
    assert_eq!(
        mask_value("args", &json!(["bot.py", "-v"])),
        json!(["bot.py", "-v"])
    );
}

#[test]
fn an_error_message_never_echoes_a_secret() {
    let m = mask_message(
        "[[services]] bot: readiness = \"http\" needs readiness_url, found \"ftp://admin:TOPSECRET2@127.0.0.1:1/\"",
    );
    assert!(!m.contains("TOPSECRET2"), "{m}");
    assert!(m.contains("ftp://admin:***@127.0.0.1:1/"), "{m}");
    let m = mask_message("env.DB_PASS must be short, found \"hunter2\"");
    assert_eq!(m, "env.DB_PASS must be short, found \"***\"");
    let m = mask_message("unknown key \"foo\" in [general], found \"bar\"");
    assert!(
        m.contains("\"bar\""),
        "a message naming no secret keeps its value: {m}"
    );
}

#[test]
fn a_validation_error_never_echoes_a_url_password_or_a_secret_line() {
    let text = "[[services]]\nname = \"bot\"\ncommand = \"/bin/sleep\"\nreadiness = \"http\"\nreadiness_url = \"ftp://admin:TOPSECRET2@127.0.0.1:1/\"\n";
    let bad_toml = "[[services]]\nname = \"bot\"\ncommand = \"/bin/sleep\"\nenv = { DB_PASS = \"TOPSECRET3\" \n";
    for text in [text, bad_toml] {
        let e = match crate::config::load(
            Some(crate::config::Source {
                path: "ballast.toml",
                text,
            }),
            &[],
        ) {
            Ok(_) => panic!("the configuration must be invalid"),
            Err(e) => e.to_string(),
        };
        assert!(!e.contains("TOPSECRET"), "{e}");
        assert!(
            e.contains("ballast.toml:"),
            "the error still says where: {e}"
        );
    }
}

#[test]
fn masking_never_panics_and_always_ends_on_odd_text() {
    let pieces = [
        "=", "==", "\"", "'", "://", "@", "bearer ", "Bearer", "é", "ß", "🔑", "KEY", "pass", " ",
        "found \"", "&", "\n", "a:b@", "x",
    ];
    // Every pair and triple of the pieces: a boundary case of each scanner.
    for a in pieces {
        for b in pieces {
            for c in pieces {
                let text = format!("{a}{b}{c}");
                let _ = mask_text(&text);
                let _ = mask_message(&text);
                let _ = is_secret_name(&text);
                let _ = args_name_secret(&[text.as_str()]);
            }
        }
    }
}

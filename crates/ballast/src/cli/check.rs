//! `ballast check`: validate the configuration.

use super::ConfigArg;
use crate::exit::{self, Exit};
use crate::settings;

pub fn check(arg: &ConfigArg) -> Exit {
    match settings::load(arg.config.as_deref()) {
        Ok(c) => {
            let source = match &arg.config {
                Some(p) => p.display().to_string(),
                None => "no config file: the built-in paper configuration".to_owned(),
            };
            let symbols: Vec<&str> = c.feed.symbols.iter().map(|s| s.as_str()).collect();
            println!(
                "{source}: OK (mode {}, {} feed of {}, strategy {}, API on {}:{}, engine {}, {} service(s))",
                c.general.mode.as_str(),
                c.feed.kind.as_str(),
                symbols.join(","),
                c.strategy.kind.as_str(),
                c.api.bind,
                c.api.port,
                if c.engine.enabled {
                    "enabled"
                } else {
                    "disabled"
                },
                c.services.len()
            );
            exit::OK
        }
        Err(errors) => {
            eprintln!("{errors}");
            exit::CONFIG
        }
    }
}

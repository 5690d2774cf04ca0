//! `ballast sim`: a seed's run passes and prints its figures; many seeds print seeds/s; a bad
//! plan or range is refused in words.

use std::process::{Command, Output};

fn ballast(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ballast"))
        .args(args)
        .env_remove("BALLAST_CONFIG")
        .env_remove("BALLAST_HOME")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn one_seed_runs_with_its_trace_and_many_print_seeds_per_second() {
    let out = ballast(&["sim", "--seed", "5", "--minutes", "60"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("seed 5: every invariant held"), "{stdout}");
    assert!(stdout.contains("engine started"), "{stdout}");
    let out = ballast(&["sim", "--seeds", "3", "--from", "10", "--minutes", "30"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("3 seeds (10..13) in"), "{stdout}");
    assert!(
        stdout.contains("seeds/s") && stdout.contains("0 failed"),
        "{stdout}"
    );
    // A plan given by hand runs exactly that plan.
    let out = ballast(&[
        "sim",
        "--seed",
        "5",
        "--minutes",
        "20",
        "--plan",
        "3:kill.1,6:resume",
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("minute 3: the operator engages the kill switch with --flatten"),
        "{stdout}"
    );
}

#[test]
fn a_bad_plan_or_range_is_refused_in_words() {
    let out = ballast(&["sim", "--seed", "1", "--plan", "3:melt"]);
    let stderr = text(&out.stderr);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr.contains("\"melt\" is not a fault"), "{stderr}");
    let out = ballast(&["sim", "--seeds", "2", "--minutes", "0"]);
    let stderr = text(&out.stderr);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr.contains("--minutes 0 is outside 1..=390"),
        "{stderr}"
    );
}

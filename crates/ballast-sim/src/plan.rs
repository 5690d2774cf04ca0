//! The fault plan of a run: which fault happens at which minute, drawn from the seed (pure),
//! and its one-line text form (`12:crash.2,40:lost.1`) that a reproduction command carries.

use std::fmt;

use crate::market::DAY_MINUTES;
use crate::rng::Rng;

/// Faults a plan holds at most (a plan text with more is refused).
pub const MAX_FAULTS: usize = 200;
/// Faults a seed draws at most.
pub const MAX_DRAWN: u64 = 40;

/// One fault, or an operator's action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The engine dies after this many records of the minute (kill -9), and restarts from a
    /// crash image of the storage (power cut: only what was synced, torn unsynced data).
    Crash { after: u8 },
    /// The engine stops cleanly and restarts (a deploy).
    Restart,
    /// The next send's answer is lost (`received`: the venue got the order).
    LostReply { received: bool },
    /// The venue refuses the next order.
    Reject,
    /// The venue answers 429 to the next call (send or lookup): nothing is journaled.
    RateLimited,
    /// The venue's answer breaks its contract (the order may be there); trading on it is
    /// refused for `minutes`.
    SchemaDrift { received: bool, minutes: u8 },
    /// The journal's `skip + 1`-th next write or sync fails (ENOSPC, EIO; a write may be
    /// torn: half of it written).
    Disk { kind: DiskFault, skip: u8 },
    /// The wall clock jumps (seconds; negative: backwards).
    ClockJump { secs: i16 },
    /// The feed gives no bar for this many minutes.
    StaleFeed { minutes: u8 },
    /// An operator engages the kill switch (`ballast kill [--flatten]`).
    Kill { flatten: bool },
    /// An operator releases the kill switch and the policy (`ballast resume`).
    Resume,
}

/// How the disk fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskFault {
    /// ENOSPC on a write, half of it written.
    FullTorn,
    /// ENOSPC on a write, nothing written.
    Full,
    /// EIO on a write.
    Eio,
    /// EIO on fsync (fatal for the file: never retried).
    Fsync,
}

/// A fault at a minute of the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Planned {
    pub minute: u16,
    pub fault: Fault,
}

/// The plan of a run, in minute order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub faults: Vec<Planned>,
}

impl Plan {
    /// The plan seed `seed` draws for a day of `minutes`.
    pub fn from_seed(seed: u64, minutes: usize) -> Plan {
        let mut rng = crate::rng::seeded(seed);
        let n = rng.below(MAX_DRAWN + 1);
        let minutes = minutes.clamp(1, DAY_MINUTES * 10) as u64;
        let mut faults: Vec<Planned> = Vec::new();
        for _ in 0..n {
            let minute = rng.below(minutes) as u16;
            let fault = draw(&mut rng);
            faults.push(Planned { minute, fault });
            // Most halts meet an operator later in the day (`ballast resume`).
            if matches!(fault, Fault::Kill { .. } | Fault::Disk { .. }) && rng.chance(700) {
                let later = (u64::from(minute) + 5 + rng.below(60)).min(minutes - 1);
                faults.push(Planned {
                    minute: later as u16,
                    fault: Fault::Resume,
                });
            }
        }
        faults.sort_by_key(|p| p.minute);
        Plan { faults }
    }

    /// The faults of `minute`, in plan order.
    pub fn at(&self, minute: usize) -> impl Iterator<Item = Fault> + '_ {
        self.faults
            .iter()
            .filter(move |p| usize::from(p.minute) == minute)
            .map(|p| p.fault)
    }

    /// Parse the text form, or say what is wrong with it, where.
    pub fn parse(text: &str) -> Result<Plan, String> {
        let text = text.trim();
        if text.is_empty() || text == "none" {
            return Ok(Plan::default());
        }
        let items: Vec<&str> = text.split(',').collect();
        if items.len() > MAX_FAULTS {
            return Err(format!(
                "the plan has {} faults, over the limit of {MAX_FAULTS}; shorten it",
                items.len()
            ));
        }
        let mut faults = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            faults.push(parse_one(item.trim()).map_err(|e| {
                format!("fault {} of the plan ({item:?}): {e}; the form is <minute>:<fault>[.<arg>], e.g. 12:crash.2,40:lost.1", i + 1)
            })?);
        }
        faults.sort_by_key(|p| p.minute);
        Ok(Plan { faults })
    }
}

fn draw(rng: &mut Rng) -> Fault {
    match rng.below(100) {
        0..=14 => Fault::Crash {
            after: rng.below(6) as u8,
        },
        15..=18 => Fault::Restart,
        19..=33 => Fault::LostReply {
            received: rng.chance(500),
        },
        34..=41 => Fault::Reject,
        42..=49 => Fault::RateLimited,
        50..=53 => Fault::SchemaDrift {
            received: rng.chance(500),
            minutes: 1 + rng.below(10) as u8,
        },
        54..=63 => Fault::Disk {
            kind: match rng.below(4) {
                0 => DiskFault::FullTorn,
                1 => DiskFault::Full,
                2 => DiskFault::Eio,
                _ => DiskFault::Fsync,
            },
            skip: rng.below(8) as u8,
        },
        64..=69 => Fault::ClockJump {
            secs: rng.below(7_200) as i16 - 3_600,
        },
        70..=77 => Fault::StaleFeed {
            minutes: 1 + rng.below(30) as u8,
        },
        78..=85 => Fault::Kill {
            flatten: rng.chance(500),
        },
        _ => Fault::Resume,
    }
}

fn parse_one(item: &str) -> Result<Planned, String> {
    let (minute, rest) = item.split_once(':').ok_or("no ':' after the minute")?;
    let minute: u16 = minute
        .parse()
        .map_err(|_| format!("the minute {minute:?} is not a whole number from 0 to 65535"))?;
    let (name, arg) = rest.split_once('.').unwrap_or((rest, ""));
    let num = |max: i64| -> Result<i64, String> {
        let n: i64 = arg
            .parse()
            .map_err(|_| format!("{name} needs a number after '.', got {arg:?}"))?;
        if n.abs() > max {
            return Err(format!("{name}'s number {n} is over its limit of {max}"));
        }
        Ok(n)
    };
    let flag = || -> Result<bool, String> { Ok(num(1)? == 1) };
    let fault = match name {
        "crash" => Fault::Crash {
            after: num(255)? as u8,
        },
        "restart" => Fault::Restart,
        "lost" => Fault::LostReply { received: flag()? },
        "reject" => Fault::Reject,
        "429" => Fault::RateLimited,
        "schema" => {
            let n = num(1_255)?;
            Fault::SchemaDrift {
                received: n >= 1_000,
                minutes: (n % 1_000).min(255) as u8,
            }
        }
        "disk" => {
            let n = num(399)?;
            let kind = match n / 100 {
                0 => DiskFault::FullTorn,
                1 => DiskFault::Full,
                2 => DiskFault::Eio,
                _ => DiskFault::Fsync,
            };
            Fault::Disk {
                kind,
                skip: (n % 100) as u8,
            }
        }
        "clock" => Fault::ClockJump {
            secs: num(32_767)? as i16,
        },
        "stale" => Fault::StaleFeed {
            minutes: num(255)? as u8,
        },
        "kill" => Fault::Kill { flatten: flag()? },
        "resume" => Fault::Resume,
        other => {
            return Err(format!(
                "{other:?} is not a fault this simulator knows (crash, restart, lost, reject, 429, schema, disk, clock, stale, kill, resume)"
            ));
        }
    };
    Ok(Planned { minute, fault })
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Fault::Crash { after } => {
                write!(f, "the engine is killed after {after} more record(s)")
            }
            Fault::Restart => f.write_str("the engine is restarted (a clean stop)"),
            Fault::LostReply { received: true } => {
                f.write_str("the next send's answer is lost (the venue got the order)")
            }
            Fault::LostReply { received: false } => {
                f.write_str("the next send is lost (the venue never got it)")
            }
            Fault::Reject => f.write_str("the venue refuses the next order"),
            Fault::RateLimited => f.write_str("the venue answers 429 to the next call"),
            Fault::SchemaDrift { received, minutes } => write!(
                f,
                "the venue's next answer breaks its contract (order {}), trading refused for {minutes} min",
                if received { "taken" } else { "not taken" }
            ),
            Fault::Disk { kind, skip } => write!(
                f,
                "the disk fails the journal's or a snapshot's {} next {}",
                ordinal(u32::from(skip) + 1),
                match kind {
                    DiskFault::FullTorn => "write with ENOSPC, half of it written",
                    DiskFault::Full => "write with ENOSPC",
                    DiskFault::Eio => "write with EIO",
                    DiskFault::Fsync => "fsync with EIO",
                }
            ),
            Fault::ClockJump { secs } => write!(f, "the wall clock jumps {secs} s"),
            Fault::StaleFeed { minutes } => write!(f, "the feed stalls for {minutes} min"),
            Fault::Kill { flatten } => write!(
                f,
                "the operator engages the kill switch{}",
                if flatten { " with --flatten" } else { "" }
            ),
            Fault::Resume => f.write_str("the operator runs `ballast resume`"),
        }
    }
}

fn ordinal(n: u32) -> String {
    match n {
        1 => "1st".into(),
        2 => "2nd".into(),
        3 => "3rd".into(),
        _ => format!("{n}th"),
    }
}

impl fmt::Display for Planned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.minute;
        match self.fault {
            Fault::Crash { after } => write!(f, "{m}:crash.{after}"),
            Fault::Restart => write!(f, "{m}:restart"),
            Fault::LostReply { received } => write!(f, "{m}:lost.{}", u8::from(received)),
            Fault::Reject => write!(f, "{m}:reject"),
            Fault::RateLimited => write!(f, "{m}:429"),
            Fault::SchemaDrift { received, minutes } => {
                write!(
                    f,
                    "{m}:schema.{}",
                    u32::from(received) * 1_000 + u32::from(minutes)
                )
            }
            Fault::Disk { kind, skip } => {
                let k = match kind {
                    DiskFault::FullTorn => 0,
                    DiskFault::Full => 1,
                    DiskFault::Eio => 2,
                    DiskFault::Fsync => 3,
                };
                write!(f, "{m}:disk.{}", k * 100 + u32::from(skip))
            }
            Fault::ClockJump { secs } => write!(f, "{m}:clock.{secs}"),
            Fault::StaleFeed { minutes } => write!(f, "{m}:stale.{minutes}"),
            Fault::Kill { flatten } => write!(f, "{m}:kill.{}", u8::from(flatten)),
            Fault::Resume => write!(f, "{m}:resume"),
        }
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.faults.is_empty() {
            return f.write_str("none");
        }
        for (i, p) in self.faults.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_reads_back_from_its_text() {
        for seed in 0..200 {
            let plan = Plan::from_seed(seed, DAY_MINUTES);
            assert_eq!(Plan::parse(&plan.to_string()).unwrap(), plan, "seed {seed}");
        }
        assert_eq!(Plan::parse("none").unwrap(), Plan::default());
    }

    #[test]
    fn a_bad_plan_is_refused_in_words() {
        let e = Plan::parse("12:crash.2,x:lost.1").unwrap_err();
        assert!(e.contains("fault 2 of the plan"), "{e}");
        let e = Plan::parse("3:melt").unwrap_err();
        assert!(e.contains("\"melt\" is not a fault"), "{e}");
        let e = Plan::parse("3:crash.999").unwrap_err();
        assert!(e.contains("over its limit of 255"), "{e}");
        let many = vec!["1:reject"; MAX_FAULTS + 1].join(",");
        assert!(Plan::parse(&many).unwrap_err().contains("over the limit"));
    }
}

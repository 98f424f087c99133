//! Privileges of a live capture: once the interface and the first savefile are open, svcscope gives
//! up everything it does not need to parse packets, so untrusted packets are never parsed with
//! privileges, and it never carries on with privileges it meant to drop (it stops instead).
//!
//! - Started as root: the bounding and ambient sets are emptied (root holds CAP_SETPCAP), the
//!   process becomes `--user` (default `nobody`; when there is no such account, uid and gid 65534,
//!   the kernel's overflow ids, rather than staying root), and every capability set is emptied.
//!   `--user root` alone keeps root and its capabilities.
//! - Started as another user with file capabilities (`setcap cap_net_raw,cap_net_admin=eip`): every
//!   capability set is emptied (the bounding set too when CAP_SETPCAP is held, which that recipe does
//!   not give). `--user` switches to that user only when CAP_SETUID and CAP_SETGID are held, and is
//!   an error otherwise.
//! - Always: `no_new_privs`, so nothing executed later can gain privileges, and a check of the result
//!   (the kernel's own account in `/proc/self/status`, where mounted) before any packet is parsed.
//!
//! Capabilities belong to threads: this runs before svcscope starts any thread, and refuses to run
//! if another one exists. System calls through `caps` (capget, capset, the capability prctls) and
//! `nix` (set*id, no_new_privs): no `unsafe` here.

use std::fmt;

use caps::{CapSet, Capability};

/// The uid and gid used when root has no `nobody` account: the kernel's overflow ids.
pub const OVERFLOW_ID: u32 = 65534;

/// Who the capture runs as once privileges are dropped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunningAs {
    /// The account name; `None` when the ids have none.
    pub user: Option<String>,
    pub uid: u32,
    pub gid: u32,
    /// Capabilities kept: only with `--user root` as root.
    pub capabilities_kept: bool,
    /// Whether the bounding set was emptied (it needs CAP_SETPCAP).
    pub bounding_cleared: bool,
}

impl fmt::Display for RunningAs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.user {
            Some(name) => write!(f, "{name} (uid {}, gid {})", self.uid, self.gid)?,
            None => write!(f, "uid {}, gid {} (no account)", self.uid, self.gid)?,
        }
        if self.capabilities_kept {
            write!(f, ", capabilities: all kept (--user root)")
        } else {
            write!(f, ", capabilities: none")
        }
    }
}

/// What to become.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Plan {
    /// `--user root` as root: keep everything.
    KeepRoot,
    /// Keep the current ids; drop the capabilities.
    Stay,
    /// Switch to these ids (the name, if the account has one), then drop the capabilities.
    Become {
        name: Option<String>,
        uid: u32,
        gid: u32,
    },
}

/// An account: uid and gid.
type Account = (u32, u32);

/// Decides what to become. `euid`, `egid`: the current ids; `lookup`: an account by name
/// (`Ok(None)` when there is none); `can_switch`: CAP_SETUID and CAP_SETGID are held.
fn plan(
    (euid, egid): Account,
    user: Option<&str>,
    lookup: &dyn Fn(&str) -> Result<Option<Account>, String>,
    can_switch: bool,
) -> Result<Plan, String> {
    if euid == 0 {
        let name = match user {
            Some("root") => return Ok(Plan::KeepRoot),
            Some(name) => name,
            // No `nobody` (a minimal container) or no way to look it up: the overflow ids, never root.
            None => {
                return Ok(match lookup("nobody") {
                    Ok(Some((uid, gid))) => Plan::Become {
                        name: Some("nobody".into()),
                        uid,
                        gid,
                    },
                    _ => Plan::Become {
                        name: None,
                        uid: OVERFLOW_ID,
                        gid: OVERFLOW_ID,
                    },
                })
            }
        };
        let (uid, gid) = lookup(name)?.ok_or_else(|| format!("--user {name}: no such user"))?;
        return Ok(Plan::Become {
            name: Some(name.into()),
            uid,
            gid,
        });
    }
    let Some(name) = user else {
        return Ok(Plan::Stay);
    };
    if name == "root" {
        return Err("--user root keeps root, but svcscope is not running as root".into());
    }
    let (uid, gid) = lookup(name)?.ok_or_else(|| format!("--user {name}: no such user"))?;
    if (uid, gid) == (euid, egid) {
        return Ok(Plan::Stay);
    }
    if !can_switch {
        return Err(format!(
            "--user {name}: switching to another user needs root or the CAP_SETUID and CAP_SETGID \
             capabilities (svcscope runs as uid {euid})"
        ));
    }
    Ok(Plan::Become {
        name: Some(name.into()),
        uid,
        gid,
    })
}

fn lookup(name: &str) -> Result<Option<Account>, String> {
    nix::unistd::User::from_name(name)
        .map(|u| u.map(|u| (u.uid.as_raw(), u.gid.as_raw())))
        .map_err(|e| format!("cannot look up user {name}: {e}"))
}

fn caps_error(what: &str) -> impl Fn(caps::errors::CapsError) -> String + '_ {
    move |e| format!("cannot drop privileges: {what}: {e}")
}

/// Drops root and every capability once the capture is open, as described in the module docs:
/// `user` is `--user`. Returns what the process runs as; an error means it must not go on.
pub fn drop_privileges(user: Option<&str>) -> Result<RunningAs, String> {
    use nix::unistd::{getegid, geteuid, Gid, Uid};
    let threads = thread_count();
    if threads.is_some_and(|n| n > 1) {
        return Err(format!(
            "cannot drop privileges: {} threads are running, and capabilities are per thread",
            threads.unwrap_or(0)
        ));
    }
    let ids = (geteuid().as_raw(), getegid().as_raw());
    let effective = |cap| caps::has_cap(None, CapSet::Effective, cap).unwrap_or(false);
    let can_switch = effective(Capability::CAP_SETUID) && effective(Capability::CAP_SETGID);
    let plan = plan(ids, user, &lookup, can_switch)?;
    if plan == Plan::KeepRoot {
        return Ok(RunningAs {
            user: Some("root".into()),
            uid: 0,
            gid: ids.1,
            capabilities_kept: true,
            bounding_cleared: false,
        });
    }
    // The bounding set first: emptying it needs CAP_SETPCAP, which switching users takes away.
    let bounding_cleared = effective(Capability::CAP_SETPCAP);
    if bounding_cleared {
        caps::clear(None, CapSet::Bounding).map_err(caps_error("bounding set"))?;
    }
    if caps::runtime::ambient_set_supported().is_ok() {
        caps::clear(None, CapSet::Ambient).map_err(caps_error("ambient set"))?;
    }
    let (name, uid, gid) = match plan {
        Plan::Become { name, uid, gid } => {
            let (u, g) = (Uid::from_raw(uid), Gid::from_raw(gid));
            let what = name.clone().unwrap_or_else(|| format!("uid {uid}"));
            nix::unistd::setgroups(&[g])
                .map_err(|e| format!("cannot drop supplementary groups: {e}"))?;
            nix::unistd::setresgid(g, g, g)
                .map_err(|e| format!("cannot switch to group {gid} of {what}: {e}"))?;
            nix::unistd::setresuid(u, u, u)
                .map_err(|e| format!("cannot switch to user {what}: {e}"))?;
            (name, uid, gid)
        }
        _ => {
            let name = nix::unistd::User::from_uid(geteuid())
                .ok()
                .flatten()
                .map(|u| u.name);
            (name, ids.0, ids.1)
        }
    };
    // Effective before permitted: the effective set must stay within the permitted one.
    for set in [CapSet::Effective, CapSet::Inheritable, CapSet::Permitted] {
        caps::clear(None, set).map_err(caps_error("capability sets"))?;
    }
    nix::sys::prctl::set_no_new_privs().map_err(|e| format!("cannot set no_new_privs: {e}"))?;
    let running = RunningAs {
        user: name,
        uid,
        gid,
        capabilities_kept: false,
        bounding_cleared,
    };
    verify(&running)?;
    Ok(running)
}

/// Checks that the drop took: no capability in any set, the ids as planned everywhere (real,
/// effective, saved, filesystem), no_new_privs, and no way back to root.
fn verify(r: &RunningAs) -> Result<(), String> {
    let fail = |what: String| Err(format!("dropping privileges did not take: {what}"));
    for set in [CapSet::Effective, CapSet::Permitted, CapSet::Inheritable] {
        match caps::read(None, set) {
            Ok(s) if s.is_empty() => {}
            Ok(s) => return fail(format!("{set:?} capabilities left: {s:?}")),
            Err(e) => return fail(format!("cannot read the {set:?} set: {e}")),
        }
    }
    if r.uid != 0 && nix::unistd::setuid(nix::unistd::Uid::from_raw(0)).is_ok() {
        return fail("it could become root again".into());
    }
    // The kernel's account of it, every bit (the caps crate knows the capabilities it was built
    // with); where /proc is not mounted, the checks above stand.
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return Ok(());
    };
    let status = ProcStatus::parse(&status);
    for (key, value) in [
        ("CapInh", status.cap_inh),
        ("CapPrm", status.cap_prm),
        ("CapEff", status.cap_eff),
        // Absent on kernels without ambient capabilities (before 4.3).
        ("CapAmb", status.cap_amb.unwrap_or(Some(0))),
    ] {
        if value != Some(0) {
            return fail(format!("{key} is {value:x?}"));
        }
    }
    // The bounding set is emptied one capability at a time, those the caps crate knows (all of
    // them up to Linux 6.x's CAP_CHECKPOINT_RESTORE); later ones would stay.
    let known = caps::all().iter().fold(0u64, |m, c| m | c.bitmask());
    if r.bounding_cleared && status.cap_bnd.is_none_or(|b| b & known != 0) {
        return fail(format!("CapBnd is {:x?}", status.cap_bnd));
    }
    if status.uids != Some([r.uid; 4]) {
        return fail(format!("uids are {:?}, not {}", status.uids, r.uid));
    }
    if status.gids != Some([r.gid; 4]) {
        return fail(format!("gids are {:?}, not {}", status.gids, r.gid));
    }
    if status.no_new_privs != Some(1) {
        return fail(format!("NoNewPrivs is {:?}", status.no_new_privs));
    }
    Ok(())
}

/// Threads of this process, where /proc tells.
fn thread_count() -> Option<usize> {
    std::fs::read_dir("/proc/self/task").ok().map(|d| d.count())
}

/// The privilege fields of `/proc/PID/status`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProcStatus {
    pub cap_inh: Option<u64>,
    pub cap_prm: Option<u64>,
    pub cap_eff: Option<u64>,
    pub cap_bnd: Option<u64>,
    /// `None` when the line is absent (kernels without ambient capabilities).
    pub cap_amb: Option<Option<u64>>,
    /// Real, effective, saved, filesystem.
    pub uids: Option<[u32; 4]>,
    pub gids: Option<[u32; 4]>,
    pub no_new_privs: Option<u32>,
}

impl ProcStatus {
    pub fn parse(text: &str) -> ProcStatus {
        let mut s = ProcStatus::default();
        let ids = |v: &str| -> Option<[u32; 4]> {
            let n: Vec<u32> = v
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            n.try_into().ok()
        };
        for line in text.lines() {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            let hex = || u64::from_str_radix(value, 16).ok();
            match key {
                "CapInh" => s.cap_inh = hex(),
                "CapPrm" => s.cap_prm = hex(),
                "CapEff" => s.cap_eff = hex(),
                "CapBnd" => s.cap_bnd = hex(),
                "CapAmb" => s.cap_amb = Some(hex()),
                "Uid" => s.uids = ids(value),
                "Gid" => s.gids = ids(value),
                "NoNewPrivs" => s.no_new_privs = value.parse().ok(),
                _ => {}
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accounts(name: &str) -> Result<Option<Account>, String> {
        Ok(match name {
            "nobody" => Some((65534, 65534)),
            "svc" => Some((990, 990)),
            "me" => Some((1000, 1000)),
            _ => None,
        })
    }

    fn no_nobody(name: &str) -> Result<Option<Account>, String> {
        Ok(match name {
            "svc" => Some((990, 990)),
            _ => None,
        })
    }

    fn become_(name: Option<&str>, uid: u32) -> Plan {
        Plan::Become {
            name: name.map(String::from),
            uid,
            gid: uid,
        }
    }

    #[test]
    fn root_becomes_nobody_or_the_user_given() {
        assert_eq!(
            plan((0, 0), None, &accounts, true),
            Ok(become_(Some("nobody"), 65534))
        );
        assert_eq!(
            plan((0, 0), Some("svc"), &accounts, true),
            Ok(become_(Some("svc"), 990))
        );
        assert_eq!(
            plan((0, 0), Some("root"), &accounts, true),
            Ok(Plan::KeepRoot)
        );
        assert_eq!(
            plan((0, 0), Some("ghost"), &accounts, true),
            Err("--user ghost: no such user".into())
        );
    }

    /// Regression: as root without a `nobody` account, the capture kept running as root with every
    /// capability. It becomes the overflow ids instead — also when the lookup itself fails.
    #[test]
    fn root_without_nobody_never_stays_root() {
        let overflow = become_(None, OVERFLOW_ID);
        assert_eq!(plan((0, 0), None, &no_nobody, true), Ok(overflow.clone()));
        let broken = |_: &str| -> Result<Option<Account>, String> { Err("NSS failed".into()) };
        assert_eq!(plan((0, 0), None, &broken, true), Ok(overflow));
        // An explicit --user whose lookup fails is an error, not a fallback.
        assert_eq!(
            plan((0, 0), Some("svc"), &broken, true),
            Err("NSS failed".into())
        );
    }

    /// Regression: with file capabilities, -Z was ignored. It switches when CAP_SETUID and
    /// CAP_SETGID allow it, and is an error when they do not.
    #[test]
    fn file_capabilities_honour_user_when_permitted() {
        assert_eq!(plan((1000, 1000), None, &accounts, false), Ok(Plan::Stay));
        assert_eq!(
            plan((1000, 1000), Some("me"), &accounts, false),
            Ok(Plan::Stay)
        );
        assert_eq!(
            plan((1000, 1000), Some("svc"), &accounts, true),
            Ok(become_(Some("svc"), 990))
        );
        assert_eq!(
            plan((1000, 1000), Some("svc"), &accounts, false),
            Err(
                "--user svc: switching to another user needs root or the CAP_SETUID and \
                 CAP_SETGID capabilities (svcscope runs as uid 1000)"
                    .into()
            )
        );
        assert!(plan((1000, 1000), Some("root"), &accounts, true).is_err());
    }

    #[test]
    fn running_as_reads_well() {
        let mut r = RunningAs {
            user: Some("nobody".into()),
            uid: 65534,
            gid: 65534,
            capabilities_kept: false,
            bounding_cleared: true,
        };
        assert_eq!(
            r.to_string(),
            "nobody (uid 65534, gid 65534), capabilities: none"
        );
        r.user = None;
        assert_eq!(
            r.to_string(),
            "uid 65534, gid 65534 (no account), capabilities: none"
        );
        r = RunningAs {
            user: Some("root".into()),
            uid: 0,
            gid: 0,
            capabilities_kept: true,
            bounding_cleared: false,
        };
        assert_eq!(
            r.to_string(),
            "root (uid 0, gid 0), capabilities: all kept (--user root)"
        );
    }

    #[test]
    fn proc_status_fields() {
        let text = "Name:\tsvcscope\nUid:\t65534\t65534\t65534\t65534\nGid:\t65534\t65534\t65534\t65534\n\
                    CapInh:\t0000000000000000\nCapPrm:\t0000000000000000\nCapEff:\t0000000000000000\n\
                    CapBnd:\t000001ffffffffff\nCapAmb:\t0000000000000000\nNoNewPrivs:\t1\n";
        let s = ProcStatus::parse(text);
        assert_eq!(s.uids, Some([65534; 4]));
        assert_eq!(s.gids, Some([65534; 4]));
        assert_eq!(
            (s.cap_inh, s.cap_prm, s.cap_eff),
            (Some(0), Some(0), Some(0))
        );
        assert_eq!(s.cap_bnd, Some(0x1ff_ffff_ffff));
        assert_eq!(s.cap_amb, Some(Some(0)));
        assert_eq!(s.no_new_privs, Some(1));
    }
}

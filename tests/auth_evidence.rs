//! Authentication evidence in flow records against tshark, on real captures.
//!
//! `../shared/captures/windows/truth-rpc/<capture>.tsv` lists, per conversation, the NTLMSSP
//! AUTHENTICATE messages tshark 4.0 dissected (`ntlm_users`: `DOMAIN\user@WORKSTATION`, `NULL`
//! for empty parts) and the service principals of the Kerberos AP-REQs (`krb_ap_snames`: in SMB
//! session setups, LDAP binds, DCE/RPC auth). This test runs the real binary on every capture
//! there and compares each conversation's `auth` items:
//!
//! - every NTLM user tshark lists is the `who` of an NTLM `auth` item (`NTLMv2 DOMAIN\user`,
//!   `NTLMv1 …`), and an anonymous one (`NULL\NULL`) is an `NTLM anonymous` item;
//! - svcscope names no NTLM user tshark did not see;
//! - every conversation with an AP-REQ has a `Kerberos` `auth` item, and none without one has;
//! - `auth` items back no service (an authentication says how, not to what).
//!
//! Skipped, with a message, when `../shared/captures/windows` is absent.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use svcscope_testkit::truth::{self, Pair};

#[derive(Default, Debug)]
struct Auth {
    /// `DOMAIN\user` of NTLM items, `NULL\NULL` for anonymous ones.
    ntlm: BTreeSet<String>,
    kerberos: bool,
    wrong: Vec<String>,
}

fn flows(capture: &Path, out: &Path) -> BTreeMap<Pair, Auth> {
    let mut map: BTreeMap<Pair, Auth> = BTreeMap::new();
    for (key, records) in truth::flow_records(env!("CARGO_BIN_EXE_svcscope"), capture, out) {
        let a = map.entry(key).or_default();
        for (kind, value, services) in truth::evidence(&records) {
            if kind != "auth" {
                continue;
            }
            if *services != serde_json::json!([]) {
                a.wrong.push(format!("auth {value} backs {services}"));
            }
            if value == "Kerberos" {
                a.kerberos = true;
            } else if value == "NTLM anonymous" {
                a.ntlm.insert("NULL\\NULL".into());
            } else if let Some(who) = value
                .strip_prefix("NTLMv2 ")
                .or_else(|| value.strip_prefix("NTLMv1 "))
                .or_else(|| value.strip_prefix("NTLM "))
            {
                a.ntlm.insert(who.to_string());
            }
        }
    }
    map
}

#[test]
fn authentication_evidence_agrees_with_tshark() {
    let dir = truth::windows_dir(Path::new(env!("CARGO_MANIFEST_DIR")));
    if !dir.is_dir() {
        eprintln!("skipped: {} is absent", dir.display());
        return;
    }
    let tmp = std::env::temp_dir().join(format!("svcscope-auth-evidence-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let mut failures = Vec::new();
    let (mut ntlm, mut ntlm_agreed, mut krb, mut krb_agreed) = (0, 0, 0, 0);
    for (i, (capture, truth_file)) in truth::truth_files(&dir).iter().enumerate() {
        let seen = flows(&dir.join(capture), &tmp.join(format!("{i}.jsonl")));
        for row in truth::rows(truth_file) {
            let col = |name: &str| row[name].as_str();
            if col("proto") != "tcp" {
                continue;
            }
            let key = truth::pair(col("proto"), col("client"), col("server"));
            let at = format!("{capture} {}→{}", col("client"), col("server"));
            let empty = Auth::default();
            let a = seen.get(&key).unwrap_or(&empty);
            for w in &a.wrong {
                failures.push(format!("{at}: {w}"));
            }
            // tshark's DOMAIN\user@WORKSTATION, without the workstation; svcscope writes a user
            // of no domain without one (tshark: NULL\user).
            let users: BTreeSet<String> = truth::cell(col("ntlm_users"))
                .into_iter()
                .map(|u| u.rsplit_once('@').map_or(u, |(who, _)| who))
                .map(|u| match u.strip_prefix("NULL\\") {
                    Some(user) if user != "NULL" => user.to_string(),
                    _ => u.to_string(),
                })
                .collect();
            if !users.is_empty() {
                ntlm += 1;
                if users == a.ntlm {
                    ntlm_agreed += 1;
                } else {
                    failures.push(format!("{at}: NTLM {:?}, tshark's users {users:?}", a.ntlm));
                }
            } else if !a.ntlm.is_empty() {
                failures.push(format!("{at}: NTLM {:?} that tshark did not see", a.ntlm));
            }
            let ap = !truth::cell(col("krb_ap_snames")).is_empty();
            if ap {
                krb += 1;
            }
            if ap == a.kerberos {
                krb_agreed += usize::from(ap);
            } else {
                failures.push(format!(
                    "{at}: Kerberos auth {}, tshark's AP-REQ {ap}",
                    a.kerberos
                ));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
    eprintln!(
        "NTLM authentications: {ntlm_agreed} of {ntlm} conversations agree with tshark; Kerberos \
         AP-REQs: {krb_agreed} of {krb}"
    );
    assert!(ntlm >= 10, "too few conversations with NTLM");
    assert!(krb >= 5, "too few conversations with Kerberos AP-REQs");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

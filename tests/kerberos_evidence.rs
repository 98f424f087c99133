//! Kerberos evidence in flow records against tshark, on real captures.
//!
//! `../shared/captures/windows/truth-rpc/<capture>.tsv` lists, per conversation, what tshark 4.0
//! dissected: the service principals TGS-REQs asked for (`krb_tgs_snames`), the service principals
//! of the tickets AP-REQs presented (`krb_ap_snames`: in SMB session setups, DCE/RPC auth, LDAP
//! binds) and the client names (`krb_cnames`). This test runs the real binary
//! (`analyze FILE --flows TMP -q`) on every capture there and compares each conversation's
//! evidence:
//!
//! - every TGS-REQ sname tshark lists is a `kerberos-spn` item of the conversation;
//! - every AP-REQ ticket sname of an SMB conversation (TCP 445 or 139), an LDAP one (TCP 389 or
//!   3268: a SASL GSS-SPNEGO bind) or a DCE/RPC one (auth verifiers of binds and alter_contexts)
//!   is one too;
//! - svcscope names no service principal tshark did not see (0 wrong);
//! - every `kerberos-client` item is a client name tshark saw, and every name tshark saw is one
//!   (svcscope adds the realm: `alice@CORP` is tshark's `alice`);
//! - each KDC conversation has one `kerberos` item, and flow records show the services items back
//!   through catalog names: `kerberos` the KDC, a `cifs/…` principal Server.
//!
//! Skipped, with a message, when `../shared/captures/windows` is absent.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use svcscope_testkit::truth::{self, Pair};

fn cell(v: &str) -> BTreeSet<String> {
    truth::cell(v).into_iter().map(str::to_string).collect()
}

#[derive(Default, Debug)]
struct Evidence {
    spns: BTreeSet<String>,
    clients: BTreeSet<String>,
    kerberos: usize,
    /// What flow records say the items back, as (kind, value, services) where it is wrong.
    wrong_services: Vec<String>,
}

fn flows(capture: &Path, out: &Path) -> BTreeMap<Pair, Evidence> {
    let mut map: BTreeMap<Pair, Evidence> = BTreeMap::new();
    for (key, records) in truth::flow_records(env!("CARGO_BIN_EXE_svcscope"), capture, out) {
        let e = map.entry(key).or_default();
        for (kind, value, services) in truth::evidence(&records) {
            let kind = kind.as_str();
            let want: Option<&[&str]> = match kind {
                "kerberos" => Some(&["Kerberos Key Distribution Center"]),
                "kerberos-spn" if value.to_lowercase().starts_with("cifs/") => Some(&["Server"]),
                "kerberos-spn" if value.starts_with("krbtgt/") => {
                    Some(&["Kerberos Key Distribution Center"])
                }
                "kerberos-etype" | "kerberos-client" | "kerberos-error" => Some(&[]),
                _ => None,
            };
            if let Some(want) = want {
                if *services != serde_json::json!(want) {
                    e.wrong_services
                        .push(format!("{kind} {value}: services {services}"));
                }
            }
            match kind {
                "kerberos-spn" => {
                    e.spns.insert(value);
                }
                "kerberos-client" => {
                    // The client name without the realm svcscope adds.
                    let name = value.rsplit_once('@').map_or(value.as_str(), |(n, _)| n);
                    e.clients.insert(name.to_string());
                }
                "kerberos" => e.kerberos += 1,
                _ => {}
            }
        }
    }
    map
}

#[test]
fn kerberos_evidence_agrees_with_tshark() {
    let dir = truth::windows_dir(Path::new(env!("CARGO_MANIFEST_DIR")));
    if !dir.is_dir() {
        eprintln!("skipped: {} is absent", dir.display());
        return;
    }
    let tmp = std::env::temp_dir().join(format!("svcscope-krb-evidence-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let mut failures = Vec::new();
    let (mut tgs, mut tgs_agreed, mut smb_ap, mut ap_agreed, mut other_ap) = (0, 0, 0, 0, 0);
    let (mut with_clients, mut clients_agreed, mut kdc_flows) = (0, 0, 0);
    for (i, (capture, truth_file)) in truth::truth_files(&dir).iter().enumerate() {
        let seen = flows(&dir.join(capture), &tmp.join(format!("{i}.jsonl")));
        for row in truth::rows(truth_file) {
            let col = |name: &str| row[name].as_str();
            if !matches!(col("proto"), "tcp" | "udp") {
                continue;
            }
            let key = truth::pair(col("proto"), col("client"), col("server"));
            let at = format!("{capture} {}→{}", col("client"), col("server"));
            let empty = Evidence::default();
            let e = seen.get(&key).unwrap_or(&empty);
            for w in &e.wrong_services {
                failures.push(format!("{at}: {w}"));
            }
            let tgs_snames = cell(col("krb_tgs_snames"));
            let ap_snames = cell(col("krb_ap_snames"));
            let smb = matches!(col("server_port"), "445" | "139" | "389" | "3268");
            if col("server_port") == "88" && col("app") == "kerberos" {
                kdc_flows += 1;
                if e.kerberos != 1 {
                    failures.push(format!("{at}: {} kerberos items, not 1", e.kerberos));
                }
            }
            if !tgs_snames.is_empty() {
                tgs += 1;
                if tgs_snames.is_subset(&e.spns) {
                    tgs_agreed += 1;
                } else {
                    failures.push(format!(
                        "{at}: kerberos-spn {:?}, tshark's TGS-REQ snames {tgs_snames:?}",
                        e.spns
                    ));
                }
            }
            if !ap_snames.is_empty() {
                if smb {
                    smb_ap += 1;
                } else {
                    other_ap += 1;
                }
                if ap_snames.is_subset(&e.spns) {
                    ap_agreed += 1;
                } else {
                    failures.push(format!(
                        "{at}: kerberos-spn {:?}, tshark's AP-REQ snames {ap_snames:?}",
                        e.spns
                    ));
                }
            }
            for extra in &e.spns {
                if !tgs_snames.contains(extra) && !ap_snames.contains(extra) {
                    failures.push(format!(
                        "{at}: service principal {extra} that tshark did not see"
                    ));
                }
            }
            let cnames = cell(col("krb_cnames"));
            if !cnames.is_empty() || !e.clients.is_empty() {
                with_clients += 1;
                if cnames == e.clients {
                    clients_agreed += 1;
                } else {
                    failures.push(format!(
                        "{at}: kerberos-client {:?}, tshark's cnames {cnames:?}",
                        e.clients
                    ));
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
    eprintln!(
        "TGS-REQ snames: {tgs_agreed} of {tgs} conversations agree with tshark; AP-REQ snames: \
         {ap_agreed} of {} ({smb_ap} SMB and LDAP, {other_ap} DCE/RPC); client names: \
         {clients_agreed} of {with_clients}; {kdc_flows} KDC conversations",
        smb_ap + other_ap
    );
    assert!(tgs >= 10, "too few conversations with TGS-REQs");
    assert!(smb_ap >= 5, "too few SMB conversations with AP-REQs");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

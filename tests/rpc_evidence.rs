//! DCE/RPC and SMB evidence in flow records against tshark, on real captures.
//!
//! `../shared/captures/windows/truth-rpc/<capture>.tsv` lists, per conversation, what tshark 4.0
//! dissected: the interfaces bound (`rpc_bound`, with `rpc_transport` saying whether over TCP or
//! an SMB pipe), the pipes opened (`smb_pipes`) and the binds per pipe (`smb_pipe_ifaces`). This
//! test runs the real binary (`analyze FILE --flows TMP -q`) on every capture there and compares
//! the evidence of the flow records of each conversation:
//!
//! - every interface tshark saw bound over a pipe is a `pipe-bind` item, every interface bound over
//!   TCP an `rpc-bind` item, and svcscope names no interface tshark did not see (0 wrong);
//! - the interfaces an `ept_map` request asked for (`epm_requested`) are the `epm-request` items;
//! - every `smb-pipe` item is a pipe tshark saw opened (svcscope records a pipe when its create
//!   succeeded; tshark lists requests, so a failed create is tshark's alone).
//!
//! Skipped, with a message, when `../shared/captures/windows` is absent.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use svcscope_testkit::truth::{self, cell, pair, Pair};

/// Lower-cased bare pipe name, as svcscope records it.
fn pipe_key(name: &str) -> String {
    let n = name.trim_start_matches(['\\', '/']);
    let n = if n.len() >= 5 && n[..5].eq_ignore_ascii_case("pipe\\") {
        &n[5..]
    } else {
        n
    };
    n.to_lowercase()
}

#[derive(Default, Debug)]
struct Evidence {
    rpc_binds: BTreeSet<String>,
    pipe_binds: BTreeSet<String>,
    pipes: BTreeSet<String>,
    epm_requests: BTreeSet<String>,
}

fn flows(capture: &Path, out: &Path) -> BTreeMap<Pair, Evidence> {
    truth::flow_records(env!("CARGO_BIN_EXE_svcscope"), capture, out)
        .into_iter()
        .map(|(key, records)| {
            let mut e = Evidence::default();
            for (kind, value, _) in truth::evidence(&records) {
                match kind.as_str() {
                    "rpc-bind" => e.rpc_binds.insert(value),
                    "pipe-bind" => e.pipe_binds.insert(value),
                    "smb-pipe" => e.pipes.insert(value),
                    "epm-request" => e.epm_requests.insert(value),
                    _ => false,
                };
            }
            (key, e)
        })
        .collect()
}

#[test]
fn rpc_and_pipe_evidence_agrees_with_tshark() {
    let dir = truth::windows_dir(Path::new(env!("CARGO_MANIFEST_DIR")));
    if !dir.is_dir() {
        eprintln!("skipped: {} is absent", dir.display());
        return;
    }
    let tmp = std::env::temp_dir().join(format!("svcscope-rpc-evidence-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let mut failures = Vec::new();
    let (mut with_binds, mut agreed, mut pipes_seen, mut lookups) = (0, 0, 0, 0);
    for (i, (capture, truth_file)) in truth::truth_files(&dir).iter().enumerate() {
        let seen = flows(&dir.join(capture), &tmp.join(format!("{i}.jsonl")));
        for row in truth::rows(truth_file) {
            let col = |name: &str| row[name].as_str();
            if col("proto") != "tcp" {
                continue;
            }
            let key = pair("tcp", col("client"), col("server"));
            let at = format!("{capture} {}→{}", col("client"), col("server"));
            let uuids = |v: &str| -> BTreeSet<String> {
                cell(v)
                    .iter()
                    .map(|x| x.split('=').next().unwrap().to_string())
                    .collect()
            };
            let bound = uuids(col("rpc_bound"));
            let over_pipe: BTreeSet<String> = cell(col("smb_pipe_ifaces"))
                .iter()
                .filter_map(|x| x.split('=').nth(1).map(str::to_string))
                .collect();
            // Pipes opened on IPC$, and those tshark bound over (a create on a tree whose connect
            // was not captured is in `smb_files`, but the bind over it shows it is the pipe).
            let truth_pipes: BTreeSet<String> = cell(col("smb_pipes"))
                .iter()
                .map(|p| pipe_key(p))
                .chain(
                    cell(col("smb_pipe_ifaces"))
                        .iter()
                        .map(|x| pipe_key(x.split('=').next().unwrap())),
                )
                .collect();
            let empty = Evidence::default();
            let e = seen.get(&key).unwrap_or(&empty);
            let transport = col("rpc_transport");
            let (want, got, kind) = if transport.contains("pipe") {
                (&over_pipe, &e.pipe_binds, "pipe-bind")
            } else {
                (&bound, &e.rpc_binds, "rpc-bind")
            };
            if !want.is_empty() {
                with_binds += 1;
                if want == got {
                    agreed += 1;
                } else {
                    failures.push(format!("{at}: {kind} {got:?}, tshark {want:?}"));
                }
            }
            for extra in e.rpc_binds.union(&e.pipe_binds) {
                if !bound.contains(extra) && !over_pipe.contains(extra) {
                    failures.push(format!("{at}: interface {extra} that tshark did not see"));
                }
            }
            let requested = uuids(col("epm_requested"));
            if !requested.is_empty() || !e.epm_requests.is_empty() {
                lookups += 1;
                if requested != e.epm_requests {
                    failures.push(format!(
                        "{at}: epm-request {:?}, tshark {requested:?}",
                        e.epm_requests
                    ));
                }
            }
            for p in &e.pipes {
                pipes_seen += 1;
                if !truth_pipes.contains(p) {
                    failures.push(format!("{at}: pipe {p} that tshark did not see opened"));
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
    eprintln!(
        "{agreed} of {with_binds} conversations with binds agree with tshark; {pipes_seen} pipes \
         recorded; {lookups} conversations with endpoint-mapper lookups"
    );
    assert!(with_binds >= 20, "too few conversations with binds");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

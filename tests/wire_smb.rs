//! The SMB wire layer (`svcscope::wire`) against tshark on real captures.
//!
//! Reads every capture of `../shared/captures/windows/` that has an SMB conversation (TCP 445 or
//! 139 in `truth-rpc/`) with svcscope's own reader and decoder, reassembles each TCP direction
//! (in order of sequence numbers, resynchronising on a NetBIOS frame start after a gap or a
//! mid-stream start), and runs the wire parsers over every SMB message. A little state — which is
//! the test's, not the parser's: tree ids to shares, message ids and file ids to names — turns the
//! messages into what tshark's `truth-rpc/` lists per conversation:
//!
//! - `smb_pipes` and `smb_files`: names of SMB2 CREATE and SMB1 NT_CREATE_ANDX requests, on IPC$
//!   trees and elsewhere (an unknown tree counts as elsewhere, as for tshark), in order, as sent;
//! - `smb_pipe_ifaces`: the interface UUIDs of the DCE/RPC binds found at the start of the pipe
//!   payloads the parsers slice out (SMB2 WRITE and IOCTL, SMB1 WRITE_ANDX and TransactNmPipe),
//!   tied to the pipe through the create response's file id;
//! - `ntlm_users`: NTLMSSP AUTHENTICATE identities found through SPNEGO in session setups;
//! - `krb_ap_snames`: present exactly when a session setup carried a Kerberos AP-REQ.
//!
//! It also checks what `truth-rpc/` has no column for, from the captures' README: the shares of
//! the tree connects, the encrypted SMB3 sessions (transform frames, encryption flags), and the
//! multichannel binding flag. No SMB message of these captures may fail to parse.
//!
//! Skipped, with a message, when `../shared/captures/windows` is absent.

mod smb_walk;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use smb_walk::run;
use svcscope::wire::pipe_key;

fn windows_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/captures/windows")
}

/// One truth-rpc row.
struct Truth {
    pipes: Vec<String>,
    files: Vec<String>,
    ifaces: BTreeSet<(String, String)>,
    ntlm_users: BTreeSet<String>,
    kerberos: bool,
}

fn cell(v: &str) -> Vec<String> {
    if v == "-" {
        Vec::new()
    } else {
        v.split('|').map(str::to_string).collect()
    }
}

/// The SMB conversations of each capture: (client, server) → truth.
fn truth() -> BTreeMap<String, BTreeMap<(String, String), Truth>> {
    let mut out: BTreeMap<String, BTreeMap<_, _>> = BTreeMap::new();
    let dir = windows_dir().join("truth-rpc");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "tsv"))
        .collect();
    files.sort();
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines = text.lines();
        let cols: Vec<&str> = lines.next().unwrap().split('\t').collect();
        let col = |row: &[&str], name: &str| -> String {
            let i = cols.iter().position(|c| *c == name).unwrap();
            row[i].to_string()
        };
        let capture = path.file_stem().unwrap().to_string_lossy().to_string();
        for line in lines {
            let row: Vec<&str> = line.split('\t').collect();
            if col(&row, "proto") != "tcp" || !["445", "139"].contains(&&*col(&row, "server_port"))
            {
                continue;
            }
            let ifaces = cell(&col(&row, "smb_pipe_ifaces"))
                .into_iter()
                .map(|v| {
                    let mut parts = v.splitn(3, '=');
                    let pipe = parts.next().unwrap();
                    (pipe_key(pipe), parts.next().unwrap().to_string())
                })
                .collect();
            out.entry(capture.clone()).or_default().insert(
                (col(&row, "client"), col(&row, "server")),
                Truth {
                    pipes: cell(&col(&row, "smb_pipes")),
                    files: cell(&col(&row, "smb_files")),
                    ifaces,
                    ntlm_users: cell(&col(&row, "ntlm_users")).into_iter().collect(),
                    kerberos: col(&row, "krb_ap_snames") != "-",
                },
            );
        }
    }
    out
}

/// What the captures' README says beyond truth-rpc, per capture: shares tree-connected (by
/// [`share_key`]).
const SHARES: &[(&str, &[&str])] = &[
    (
        "suricata__filestore-filecontainer-smb_filecontainer-smb.pcap",
        &["ipc$", "admin$", "c$"],
    ),
    (
        "zeek__smb_smb2-zero-byte-error-ioctl.pcapng",
        &["ipc$", "shared"],
    ),
    ("zeek__smb_smb3_multichannel.pcap", &["share2"]),
    ("zeek__smb_smb3.pcap", &["encrypted"]),
    (
        "suricata__dcerpc-smb-test-01_input.pcap",
        &["ipc$", "admin$"],
    ),
];

#[test]
fn smb_wire_layer_agrees_with_tshark() {
    let dir = windows_dir();
    if !dir.is_dir() {
        eprintln!(
            "skipped: {} is absent (the Windows captures are not in this checkout)",
            dir.display()
        );
        return;
    }
    let mut failures = Vec::new();
    let mut conversations = 0;
    let mut messages = 0;
    for (capture, rows) in truth() {
        let seen = run(&dir.join(&capture));
        let mut shares = BTreeSet::new();
        for ((client, server), t) in &rows {
            conversations += 1;
            let Some(s) = seen.get(&(client.clone(), server.clone())) else {
                failures.push(format!(
                    "{capture} {client}→{server}: conversation not seen"
                ));
                continue;
            };
            messages += s.smb1 + s.smb2 + s.transforms;
            let at = format!("{capture} {client}→{server}");
            shares.extend(s.shares.iter().map(|s| s.to_lowercase()));
            if !s.errors.is_empty() {
                failures.push(format!("{at}: parse errors {:?}", s.errors));
            }
            if s.pipes != t.pipes {
                failures.push(format!("{at}: pipes {:?}, tshark {:?}", s.pipes, t.pipes));
            }
            let files: Vec<String> = s.files.iter().take(20).cloned().collect();
            if files != t.files {
                failures.push(format!("{at}: files {files:?}, tshark {:?}", t.files));
            }
            if s.ifaces != t.ifaces {
                failures.push(format!("{at}: binds {:?}, tshark {:?}", s.ifaces, t.ifaces));
            }
            if s.ntlm_users != t.ntlm_users {
                failures.push(format!(
                    "{at}: NTLMSSP users {:?}, tshark {:?}",
                    s.ntlm_users, t.ntlm_users
                ));
            }
            if s.kerberos_ap_req != t.kerberos {
                failures.push(format!(
                    "{at}: Kerberos AP-REQ seen {}, tshark {}",
                    s.kerberos_ap_req, t.kerberos
                ));
            }
        }
        if let Some((_, want)) = SHARES.iter().find(|(c, _)| *c == capture) {
            for w in *want {
                if !shares.contains(*w) {
                    failures.push(format!("{capture}: share {w} not seen in {shares:?}"));
                }
            }
        }
        let all = || seen.values();
        match capture.as_str() {
            // The share \\WS2016\encrypted requires encryption; then transform frames only (44
            // of 54).
            "zeek__smb_smb3.pcap" => {
                let s = all().next().unwrap();
                check(
                    &mut failures,
                    &capture,
                    "44 transform frames",
                    s.transforms == 44,
                );
                check(
                    &mut failures,
                    &capture,
                    "dialect 3.0",
                    s.dialects.contains(&0x0300),
                );
                check(
                    &mut failures,
                    &capture,
                    "share encrypts",
                    s.share_encrypt.contains("encrypted"),
                );
                check(
                    &mut failures,
                    &capture,
                    "transform frames",
                    s.transforms > 0,
                );
                check(
                    &mut failures,
                    &capture,
                    "transforms in the session set up",
                    s.transform_sessions.is_subset(&s.sessions),
                );
            }
            // Session encryption: after session setup only transform frames (28 of 34). The
            // server does not set the session's encrypt-data flag: the client asked for it.
            "zeek__smb_smb311.pcap" => {
                let s = all().next().unwrap();
                check(
                    &mut failures,
                    &capture,
                    "dialect 3.1.1",
                    s.dialects.contains(&0x0311),
                );
                check(
                    &mut failures,
                    &capture,
                    "28 transform frames",
                    s.transforms == 28,
                );
                check(
                    &mut failures,
                    &capture,
                    "no encrypt-data flag",
                    !s.session_encrypt,
                );
                check(
                    &mut failures,
                    &capture,
                    "no tree connect in clear",
                    s.shares.is_empty(),
                );
                check(
                    &mut failures,
                    &capture,
                    "transform frames",
                    s.transforms > 0,
                );
                check(
                    &mut failures,
                    &capture,
                    "transforms in the session set up",
                    s.transform_sessions.is_subset(&s.sessions) && !s.sessions.is_empty(),
                );
            }
            // Three of the four connections bind to the first one's session.
            "zeek__smb_smb3_multichannel.pcap" => {
                let binding = all().filter(|s| s.binding > 0).count();
                check(
                    &mut failures,
                    &capture,
                    "3 binding connections",
                    binding == 3,
                );
            }
            _ => {}
        }
        eprintln!(
            "{capture}: {} conversations, {} SMB messages",
            seen.len(),
            seen.values()
                .map(|s| s.smb1 + s.smb2 + s.transforms)
                .sum::<usize>()
        );
    }
    eprintln!("{conversations} SMB conversations, {messages} messages compared with tshark");
    assert!(
        conversations >= 30,
        "too few SMB conversations: {conversations}"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn check(failures: &mut Vec<String>, capture: &str, what: &str, ok: bool) {
    if !ok {
        failures.push(format!("{capture}: {what}"));
    }
}

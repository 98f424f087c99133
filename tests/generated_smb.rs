//! The SMB wire layer (`svcscope::wire`) on the generator's SMB conversations.
//!
//! `fixtures/smb.pcap` holds each SMB scenario of `crates/gen/src/smb_scenarios.rs` once, and
//! `fixtures/domain.pcapng` uses them across ten minutes. The generator encodes SMB, SPNEGO,
//! NTLMSSP, Kerberos and DCE/RPC from the specifications with no code of the library, so this
//! is a check of the parsers against an independent encoder: every SMB message must parse, and
//! each conversation must show the shares, pipes, files, bound interfaces, logons and
//! encryption it was built to carry (the lists below).
//!
//! Both fixtures were checked with tshark 4.0.17 (Debian 12): `tshark -r fixtures/smb.pcap -Y
//! '_ws.malformed || _ws.expert.severity >= "Warning"'` prints nothing, and on domain.pcapng no
//! TCP 445 or 139 frame has malformed or warning-level expert info. tshark is not needed here.

mod smb_walk;

use std::collections::BTreeSet;
use std::path::Path;

use smb_walk::{run, Seen};
use svcscope::wire::{pipe_key, smb2::ShareType};

const LSARPC: &str = "12345778-1234-abcd-ef00-0123456789ab";
const SAMR: &str = "12345778-1234-abcd-ef00-0123456789ac";
const NETLOGON: &str = "12345678-1234-abcd-ef00-01234567cffb";
const SPOOLSS: &str = "12345678-1234-abcd-ef00-0123456789ab";
const SRVSVC: &str = "4b324fc8-1670-01d3-1278-5a47bf6ee188";
const DRSUAPI: &str = "e3514235-4b06-11d1-ab04-00c04fc2dcd2";

const GPT_INI: &str = "corp.example\\Policies\\{31B2F340-016D-11D2-945F-00C04FB984F9}\\GPT.INI";
const REGISTRY_POL: &str =
    "corp.example\\Policies\\{31B2F340-016D-11D2-945F-00C04FB984F9}\\Machine\\Registry.pol";

// DCE/RPC PDU types.
const REQUEST: u8 = 0;
const RESPONSE: u8 = 2;
const BIND: u8 = 11;
const BIND_ACK: u8 = 12;
const ALTER_CONTEXT: u8 = 14;
const ALTER_CONTEXT_RESP: u8 = 15;

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

fn binds(list: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    list.iter()
        .map(|(p, u)| (pipe_key(p), (*u).to_string()))
        .collect()
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_string()).collect()
}

fn users(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| (*s).to_string()).collect()
}

/// What one scenario must show.
struct Want {
    client: &'static str,
    server: &'static str,
    shares: &'static [&'static str],
    pipes: &'static [&'static str],
    files: &'static [&'static str],
    binds: &'static [(&'static str, &'static str)],
    ntlm: &'static [&'static str],
    kerberos: bool,
    dialect: Option<u16>,
}

const SCENARIOS: &[Want] = &[
    // The DC's group-policy sequence.
    Want {
        client: "192.0.2.101:49801",
        server: "192.0.2.10:445",
        shares: &["IPC$", "SYSVOL", "NETLOGON"],
        pipes: &["lsarpc", "samr", "netlogon"],
        files: &[GPT_INI, REGISTRY_POL],
        binds: &[("lsarpc", LSARPC), ("samr", SAMR), ("netlogon", NETLOGON)],
        ntlm: &[],
        kerberos: true,
        dialect: Some(0x0311),
    },
    // Printing.
    Want {
        client: "192.0.2.102:49802",
        server: "192.0.2.20:445",
        shares: &["IPC$", "print$", "HP-Floor2"],
        pipes: &["spoolss"],
        files: &[],
        binds: &[("spoolss", SPOOLSS)],
        ntlm: &["CORP\\alice@WS102"],
        kerberos: false,
        dialect: Some(0x0302),
    },
    // A file share and net view.
    Want {
        client: "192.0.2.103:49803",
        server: "192.0.2.20:445",
        shares: &["Projects", "IPC$"],
        pipes: &["srvsvc"],
        files: &["Apollo\\plan.docx", "Apollo\\notes.txt"],
        binds: &[("srvsvc", SRVSVC)],
        ntlm: &[],
        kerberos: true,
        dialect: Some(0x0311),
    },
    // Session encryption: nothing in clear after the session setup.
    Want {
        client: "192.0.2.104:49804",
        server: "192.0.2.20:445",
        shares: &[],
        pipes: &[],
        files: &[],
        binds: &[],
        ntlm: &[],
        kerberos: true,
        dialect: Some(0x0311),
    },
    // An encrypting share.
    Want {
        client: "192.0.2.105:49805",
        server: "192.0.2.20:445",
        shares: &["Finance"],
        pipes: &[],
        files: &[],
        binds: &[],
        ntlm: &["CORP\\bob@WS105"],
        kerberos: false,
        dialect: Some(0x0300),
    },
    // SMB1 over NetBIOS.
    Want {
        client: "192.0.2.106:49806",
        server: "192.0.2.20:139",
        shares: &["IPC$"],
        pipes: &["\\srvsvc"],
        files: &[],
        binds: &[("srvsvc", SRVSVC)],
        ntlm: &["CORP\\carol@WS106"],
        kerberos: false,
        dialect: None,
    },
    // Mid-stream: no create, no bind to a named pipe.
    Want {
        client: "192.0.2.107:49807",
        server: "192.0.2.10:445",
        shares: &[],
        pipes: &[],
        files: &[],
        binds: &[],
        ntlm: &[],
        kerberos: false,
        dialect: None,
    },
];

fn check_scenario(w: &Want, s: &Seen, failures: &mut Vec<String>) {
    let at = format!("{} -> {}", w.client, w.server);
    let mut expect = |what: &str, ok: bool, got: String| {
        if !ok {
            failures.push(format!("{at}: {what}: got {got}"));
        }
    };
    expect(
        "no parse errors",
        s.errors.is_empty(),
        format!("{:?}", s.errors),
    );
    expect(
        "shares",
        s.shares == strings(w.shares),
        format!("{:?}", s.shares),
    );
    expect(
        "pipes",
        s.pipes == strings(w.pipes),
        format!("{:?}", s.pipes),
    );
    expect(
        "files",
        s.files == strings(w.files),
        format!("{:?}", s.files),
    );
    expect(
        "binds",
        s.ifaces == binds(w.binds),
        format!("{:?}", s.ifaces),
    );
    expect(
        "NTLM users",
        s.ntlm_users == users(w.ntlm),
        format!("{:?}", s.ntlm_users),
    );
    expect(
        "Kerberos AP-REQ",
        s.kerberos_ap_req == w.kerberos,
        s.kerberos_ap_req.to_string(),
    );
    let dialects: Vec<u16> = s.dialects.iter().copied().collect();
    expect(
        "dialect",
        dialects == w.dialect.into_iter().collect::<Vec<_>>(),
        format!("{dialects:04x?}"),
    );
}

#[test]
fn every_generated_smb_scenario_parses_and_shows_what_it_carries() {
    let seen = run(&fixture("smb.pcap"));
    let mut failures = Vec::new();
    let keys: BTreeSet<(String, String)> = SCENARIOS
        .iter()
        .map(|w| (w.client.to_string(), w.server.to_string()))
        .collect();
    assert_eq!(
        seen.keys().cloned().collect::<BTreeSet<_>>(),
        keys,
        "the SMB conversations of smb.pcap"
    );
    for w in SCENARIOS {
        let s = &seen[&(w.client.to_string(), w.server.to_string())];
        check_scenario(w, s, &mut failures);
    }
    let get = |i: usize| &seen[&(SCENARIOS[i].client.into(), SCENARIOS[i].server.into())];

    // The DC: the netlogon bind went in the WRITE related to its CREATE, the referral for
    // SYSVOL named both DCs, and the pipes carried binds, acks, requests and responses.
    let dc = get(0);
    let mut check = |what: &str, ok: bool| {
        if !ok {
            failures.push(what.to_string());
        }
    };
    check("DC: one compound each way", dc.compounds == 2);
    check(
        "DC: DFS referral request",
        dc.dfs_paths == strings(&["\\corp.example\\SYSVOL"]),
    );
    check(
        "DC: DFS referral targets",
        dc.dfs_targets == strings(&["\\dc01.corp.example\\SYSVOL", "\\dc02.corp.example\\SYSVOL"]),
    );
    check(
        "DC: pipe PDUs",
        dc.pipe_pdus
            == [
                BIND, BIND_ACK, REQUEST, RESPONSE, // lsarpc
                BIND, BIND_ACK, REQUEST, RESPONSE, // samr
                BIND, BIND_ACK, REQUEST, RESPONSE, // netlogon
            ],
    );
    check("DC: no transform", dc.transforms == 0);
    let print = get(1);
    check(
        "printing: share types",
        print.share_types
            == [
                ("IPC$".to_string(), ShareType::Pipe),
                ("print$".to_string(), ShareType::Disk),
                ("HP-Floor2".to_string(), ShareType::Print),
            ],
    );
    // net view: the NetrShareEnum answer spans two TCP segments and still arrives whole.
    let fs = get(2);
    check(
        "file share: srvsvc bind, ack, NetrShareEnum and its answer",
        fs.pipe_pdus == [BIND, BIND_ACK, REQUEST, RESPONSE],
    );
    // Session encryption: the flag in the session setup response, then transforms only, in
    // that session.
    let enc = get(3);
    check("encrypted session: flag", enc.session_encrypt);
    check("encrypted session: 8 transform frames", enc.transforms == 8);
    check(
        "encrypted session: transforms in its session",
        enc.transform_sessions.len() == 1 && enc.transform_sessions.is_subset(&enc.sessions),
    );
    check(
        "encrypted session: nothing in clear after the setup",
        enc.smb2 == 4,
    );
    let share = get(4);
    check(
        "encrypting share: the share flag",
        share.share_encrypt == users(&["Finance"]),
    );
    check("encrypting share: no session flag", !share.session_encrypt);
    check(
        "encrypting share: 6 transform frames",
        share.transforms == 6,
    );
    let v1 = get(5);
    check("SMB1: all SMB1", v1.smb1 == 20 && v1.smb2 == 0);
    check(
        "SMB1: TransactNmPipe bind, ack, WRITE_ANDX request, READ_ANDX response",
        v1.pipe_pdus == [BIND, BIND_ACK, REQUEST, RESPONSE],
    );
    // Mid-stream: the walk resynchronises after the first segment's tail of a READ response and
    // finds the alter_context to drsuapi on the pipe it never saw opened.
    let mid = get(6);
    check(
        "mid-stream: alter_context to drsuapi",
        mid.unnamed_ifaces == users(&[DRSUAPI]),
    );
    check(
        "mid-stream: PDUs",
        mid.pipe_pdus == [REQUEST, RESPONSE, ALTER_CONTEXT, ALTER_CONTEXT_RESP],
    );
    check("mid-stream: four writes/reads each way", mid.smb2 == 8);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_domain_capture_carries_the_smb_scenarios_without_a_parse_error() {
    let seen = run(&fixture("domain.pcapng"));
    let mut failures = Vec::new();
    for ((c, srv), s) in &seen {
        if !s.errors.is_empty() {
            failures.push(format!("{c} -> {srv}: {:?}", s.errors));
        }
    }
    let to = |server: &'static str| seen.iter().filter(move |((_, s), _)| s == server);
    // Every workstation's logon does the group-policy sequence on the DC (18), plus the one
    // pipe conversation captured mid-stream.
    let dc: Vec<_> = to("192.0.2.10:445").collect();
    let gpo = dc
        .iter()
        .filter(|(_, s)| {
            s.ifaces == binds(&[("lsarpc", LSARPC), ("samr", SAMR), ("netlogon", NETLOGON)])
                && s.files == strings(&[GPT_INI, REGISTRY_POL])
                && s.shares == strings(&["IPC$", "SYSVOL", "NETLOGON"])
                && s.kerberos_ap_req
        })
        .count();
    let clients: BTreeSet<&str> = dc
        .iter()
        .map(|((c, _), _)| c.rsplit_once(':').unwrap().0)
        .collect();
    if (dc.len(), gpo, clients.len()) != (19, 18, 18) {
        failures.push(format!(
            "DC: {} conversations, {gpo} with the group-policy sequence, {} clients",
            dc.len(),
            clients.len()
        ));
    }
    let mid = dc
        .iter()
        .filter(|(_, s)| !s.unnamed_ifaces.is_empty())
        .count();
    if mid != 1 {
        failures.push(format!("DC: {mid} mid-stream conversations"));
    }
    // The file and print server: 12 net view sessions, 4 print, 1 encrypted session, 2 on the
    // encrypting share; SMB1 over 139 twice.
    let fs: Vec<_> = to("192.0.2.20:445").map(|(_, s)| s).collect();
    let count = |f: &dyn Fn(&Seen) -> bool| fs.iter().filter(|s| f(s)).count();
    let got = (
        fs.len(),
        count(&|s| s.ifaces == binds(&[("srvsvc", SRVSVC)])),
        count(&|s| s.ifaces == binds(&[("spoolss", SPOOLSS)]) && s.ntlm_users.len() == 1),
        count(&|s| s.session_encrypt && s.transforms > 0),
        count(&|s| s.share_encrypt.contains("Finance") && s.transforms > 0),
    );
    if got != (19, 12, 4, 1, 2) {
        failures.push(format!(
            "file server: (conversations, net view, print, encrypted sessions, encrypting share) = {got:?}"
        ));
    }
    let v1: Vec<_> = to("192.0.2.20:139").map(|(_, s)| s).collect();
    if v1.len() != 2
        || v1
            .iter()
            .any(|s| s.ifaces != binds(&[("srvsvc", SRVSVC)]) || s.smb1 == 0)
    {
        failures.push(format!("NetBIOS 139: {} conversations", v1.len()));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

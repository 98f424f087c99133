//! SMB conversations as Windows hosts hold them, over real TCP connections: the domain
//! controller's group-policy sequence (Kerberos, IPC$ pipes with DCE/RPC binds, a compound, a DFS
//! referral, SYSVOL), printing (NTLMv2, spoolss), a file share with `net view`, encrypted SMB3
//! sessions and shares, SMB1 over NetBIOS 139, a pipe conversation captured mid-stream, and DC
//! replication joined mid-stream. `smb.pcap` holds each once; `domain.pcapng` uses them too.
//!
//! Segments are MSS-sized, so long READ responses and DCE/RPC PDUs cross segment boundaries; a
//! pipe WRITE and the READ for its answer leave in one segment, and so do their responses.

use crate::capture::{sa, Capture, Tcp, Wire, MS, SEC};
use crate::dcerpc::{self as rpc, Ndr, Syntax};
use crate::fixtures::{lan, nrpc_req_challenge, NBSS, SMB};
use crate::gss;
use crate::packet::Link;
use crate::payload as pl;
use crate::smb::{self as s, FileId, Hdr, Hdr1, FILE_ID_ANY};
use std::net::SocketAddr;

pub const DOMAIN: &str = "corp.example";
pub const REALM: &str = "CORP.EXAMPLE";
pub const GPO: &str = "{31B2F340-016D-11D2-945F-00C04FB984F9}";

/// MS-LSAD.
pub const LSARPC: Syntax = Syntax {
    uuid: "12345778-1234-abcd-ef00-0123456789ab",
    major: 0,
    minor: 0,
};
/// MS-SRVS.
pub const SRVSVC: Syntax = Syntax {
    uuid: "4b324fc8-1670-01d3-1278-5a47bf6ee188",
    major: 3,
    minor: 0,
};
/// MS-RPRN.
pub const SPOOLSS: Syntax = Syntax {
    uuid: "12345678-1234-abcd-ef00-0123456789ab",
    major: 1,
    minor: 0,
};

/// 2024-03-04T09:00:00Z as a FILETIME.
fn base_filetime() -> u64 {
    gss::filetime(1_709_542_800)
}

fn guid(cap: &mut Capture) -> [u8; 16] {
    let mut g = [0u8; 16];
    cap.rng.fill(&mut g);
    g
}

fn sig(cap: &mut Capture) -> [u8; 16] {
    guid(cap)
}

/// The server of a conversation: names for Kerberos, NTLM and UNC paths.
#[derive(Clone, Copy)]
pub struct Server {
    /// NetBIOS name, upper case ("DC01").
    pub nb: &'static str,
    /// DNS name ("dc01.corp.example").
    pub dns: &'static str,
}

pub const DC01: Server = Server {
    nb: "DC01",
    dns: "dc01.corp.example",
};
pub const FS01: Server = Server {
    nb: "FS01",
    dns: "fs01.corp.example",
};

impl Server {
    fn unc(&self, share: &str) -> String {
        format!("\\\\{}\\{share}", self.dns)
    }
    fn target(&self) -> gss::Target<'static> {
        gss::Target {
            nb_domain: "CORP",
            nb_computer: self.nb,
            dns_domain: DOMAIN,
            dns_computer: self.dns,
        }
    }
}

/// How a client logs on.
#[derive(Clone, Copy)]
pub enum Logon<'a> {
    /// Kerberos AP-REQ for cifs/<server>.
    Kerberos,
    /// NTLMv2 as domain\user from the workstation.
    Ntlm { user: &'a str, workstation: &'a str },
}

// ---------------------------------------------------------------------------------------------
// An SMB2/SMB3 conversation

/// One SMB2 connection: the TCP conversation and the state both ends keep.
pub struct Smb2 {
    pub tcp: Tcp,
    pub server: Server,
    pub dialect: u16,
    next_mid: u64,
    pub session: u64,
    signing: bool,
    /// After the session (or share) turned encryption on: every message in a transform header.
    encrypt: bool,
    nonce: u64,
    next_tree: u32,
}

/// A message id and the frame carrying its request.
struct Sent {
    mid: u64,
    frame: Vec<u8>,
}

impl Smb2 {
    pub fn connect(
        cap: &mut Capture,
        c: SocketAddr,
        srv: SocketAddr,
        server: Server,
        t: u64,
        wire: &Wire,
    ) -> Smb2 {
        let mut tcp = Tcp::new(cap, c, srv, t, wire, SMB);
        tcp.handshake(cap);
        Smb2::over(tcp, server, cap)
    }

    fn over(tcp: Tcp, server: Server, cap: &mut Capture) -> Smb2 {
        Smb2 {
            tcp,
            server,
            dialect: 0,
            next_mid: 0,
            session: 0,
            signing: false,
            encrypt: false,
            nonce: cap.rng.next_u64() >> 8,
            next_tree: 1,
        }
    }

    fn hdr(&mut self, cap: &mut Capture, command: u16, tree: u32, mid: u64, reply: bool) -> Hdr {
        let signed = self.signing && !self.encrypt;
        Hdr {
            command,
            status: s::STATUS_SUCCESS,
            flags: if reply { s::FLAGS_SERVER_TO_REDIR } else { 0 }
                | if signed { s::FLAGS_SIGNED } else { 0 },
            message_id: mid,
            credit_charge: u16::from(self.dialect != s::SMB202),
            credits: if command == s::NEGOTIATE {
                1
            } else {
                32 + u16::from(!reply)
            },
            tree_id: tree,
            session_id: self.session,
            signature: if signed { sig(cap) } else { [0; 16] },
        }
    }

    /// Frames one message (or compound) for the wire: in a transform header when the session or
    /// share encrypts, then the NetBIOS session header.
    fn frame(&mut self, cap: &mut Capture, msg: &[u8]) -> Vec<u8> {
        if !self.encrypt {
            return s::nbss(msg);
        }
        self.nonce += 1;
        let nonce_len = if self.dialect == s::SMB311 { 12 } else { 11 };
        let nonce = &self.nonce.to_le_bytes();
        let mut n = vec![0u8; nonce_len];
        n[..8].copy_from_slice(nonce);
        let cipher = pl::filler(&mut cap.rng, msg.len());
        let sig = sig(cap);
        s::nbss(&s::transform(sig, &n, self.session, &cipher))
    }

    fn request(&mut self, cap: &mut Capture, command: u16, tree: u32, body: &[u8]) -> Sent {
        let mid = self.next_mid;
        self.next_mid += 1;
        let h = self.hdr(cap, command, tree, mid, false);
        let frame = self.frame(cap, &s::message(&h, body));
        Sent { mid, frame }
    }

    fn response(
        &mut self,
        cap: &mut Capture,
        command: u16,
        tree: u32,
        mid: u64,
        status: u32,
        body: &[u8],
    ) -> Vec<u8> {
        let mut h = self.hdr(cap, command, tree, mid, true);
        h.status = status;
        self.frame(cap, &s::message(&h, body))
    }

    /// One request and its response.
    fn call(
        &mut self,
        cap: &mut Capture,
        command: u16,
        tree: u32,
        req: &[u8],
        status: u32,
        resp: &[u8],
    ) {
        let q = self.request(cap, command, tree, req);
        let a = self.response(cap, command, tree, q.mid, status, resp);
        self.tcp.exchange(cap, &q.frame, &a);
    }

    /// NEGOTIATE: the client offers `dialects`, the server picks the highest and answers with
    /// its SPNEGO mechanisms (and, for 3.1.1, its negotiate contexts).
    pub fn negotiate(&mut self, cap: &mut Capture, dialects: &[u16], ciphers: &[u16]) {
        let mut salt = [0u8; 32];
        cap.rng.fill(&mut salt);
        let client_guid = guid(cap);
        let q = self.request(
            cap,
            s::NEGOTIATE,
            0,
            &s::negotiate_request(dialects, client_guid, &salt, ciphers),
        );
        let dialect = *dialects.iter().max().expect("a dialect");
        self.dialect = dialect;
        let blob = gss::neg_token_init2(&[
            gss::OID_MS_KRB5,
            gss::OID_KRB5,
            gss::OID_NEGOEX,
            gss::OID_NTLMSSP,
        ]);
        cap.rng.fill(&mut salt);
        let caps = s::CAP_DFS
            | s::CAP_LEASING
            | s::CAP_LARGE_MTU
            | if dialect >= s::SMB300 {
                s::CAP_MULTI_CHANNEL | s::CAP_DIRECTORY_LEASING | s::CAP_ENCRYPTION
            } else {
                0
            };
        let body = s::negotiate_response(&s::NegotiateResponse {
            dialect,
            server_guid: guid(cap),
            capabilities: if dialect == s::SMB311 {
                caps & !s::CAP_ENCRYPTION // 3.1.1 negotiates ciphers in a context instead
            } else {
                caps
            },
            system_time: base_filetime() + self.tcp.t * 10,
            security_blob: &blob,
            salt,
            cipher: ciphers.first().copied().unwrap_or(s::AES_128_GCM),
        });
        let a = self.response(cap, s::NEGOTIATE, 0, q.mid, s::STATUS_SUCCESS, &body);
        self.tcp.exchange(cap, &q.frame, &a);
    }

    /// SESSION_SETUP, one round trip (Kerberos) or two (NTLMSSP); `encrypt_data` sets the
    /// session's encrypt flag in the final response, after which everything is encrypted.
    pub fn session_setup(&mut self, cap: &mut Capture, logon: Logon, encrypt_data: bool) {
        let session = 0x0000_1000_0000_0000 | (cap.rng.next_u64() & 0xffff_ffff);
        let flags = if encrypt_data {
            s::SESSION_FLAG_ENCRYPT_DATA
        } else {
            0
        };
        match logon {
            Logon::Kerberos => {
                let ap_req = gss::krb5_ap_req(&mut cap.rng, REALM, "cifs", self.server.dns);
                let init = gss::neg_token_init(
                    &[
                        gss::OID_MS_KRB5,
                        gss::OID_KRB5,
                        gss::OID_NEGOEX,
                        gss::OID_NTLMSSP,
                    ],
                    &ap_req,
                );
                let q = self.request(cap, s::SESSION_SETUP, 0, &s::session_setup_request(&init));
                self.session = session;
                self.signing = true;
                let rep = gss::krb5_ap_rep(&mut cap.rng);
                let resp = gss::neg_token_resp(
                    Some(gss::ACCEPT_COMPLETED),
                    Some(gss::OID_MS_KRB5),
                    &rep,
                    &[],
                );
                let a = self.response(
                    cap,
                    s::SESSION_SETUP,
                    0,
                    q.mid,
                    s::STATUS_SUCCESS,
                    &s::session_setup_response(flags, &resp),
                );
                self.tcp.exchange(cap, &q.frame, &a);
            }
            Logon::Ntlm { user, workstation } => {
                let init = gss::neg_token_init(&[gss::OID_NTLMSSP], &gss::ntlm_negotiate());
                let q = self.request(cap, s::SESSION_SETUP, 0, &s::session_setup_request(&init));
                self.session = session;
                let ft = base_filetime() + self.tcp.t * 10;
                let target = self.server.target();
                let chal = gss::ntlm_challenge(&mut cap.rng, &target, ft);
                let resp = gss::neg_token_resp(
                    Some(gss::ACCEPT_INCOMPLETE),
                    Some(gss::OID_NTLMSSP),
                    &chal,
                    &[],
                );
                let a = self.response(
                    cap,
                    s::SESSION_SETUP,
                    0,
                    q.mid,
                    s::STATUS_MORE_PROCESSING_REQUIRED,
                    &s::session_setup_response(0, &resp),
                );
                self.tcp.exchange(cap, &q.frame, &a);
                let spn = format!("cifs/{}", self.server.dns);
                let auth = gss::ntlm_authenticate(
                    &mut cap.rng,
                    &target,
                    ft,
                    "CORP",
                    user,
                    workstation,
                    &spn,
                );
                let mic = gss::ntlm_verifier(&mut cap.rng, 0);
                let tok = gss::neg_token_resp(None, None, &auth, &mic);
                let q = self.request(cap, s::SESSION_SETUP, 0, &s::session_setup_request(&tok));
                self.signing = true;
                let mic = gss::ntlm_verifier(&mut cap.rng, 0);
                let done = gss::neg_token_resp(Some(gss::ACCEPT_COMPLETED), None, &[], &mic);
                let a = self.response(
                    cap,
                    s::SESSION_SETUP,
                    0,
                    q.mid,
                    s::STATUS_SUCCESS,
                    &s::session_setup_response(flags, &done),
                );
                self.tcp.exchange(cap, &q.frame, &a);
            }
        }
        self.encrypt = encrypt_data;
        self.tcp.ack(cap, true);
    }

    /// TREE_CONNECT to `share` on the server; returns the tree id. With SMB2_SHAREFLAG_ENCRYPT_DATA
    /// among `flags`, everything after the response is encrypted.
    pub fn tree_connect(&mut self, cap: &mut Capture, share: &str, kind: u8, flags: u32) -> u32 {
        let tree = self.next_tree;
        self.next_tree += 4;
        let path = self.server.unc(share);
        let q = self.request(cap, s::TREE_CONNECT, 0, &s::tree_connect_request(&path));
        let access = if kind == s::SHARE_TYPE_PIPE {
            0x001f_00a9
        } else {
            0x001f_01ff
        };
        let a = self.response(
            cap,
            s::TREE_CONNECT,
            tree,
            q.mid,
            s::STATUS_SUCCESS,
            &s::tree_connect_response(kind, flags, access),
        );
        self.tcp.exchange(cap, &q.frame, &a);
        if flags & s::SHAREFLAG_ENCRYPT_DATA != 0 {
            self.encrypt = true;
        }
        tree
    }

    fn file_id(cap: &mut Capture) -> FileId {
        FileId {
            persistent: cap.rng.next_u64() & 0xffff_ffff,
            volatile: cap.rng.next_u64(),
        }
    }

    fn create_response(&self, f: FileId, size: u64, pipe: bool) -> Vec<u8> {
        let time = if pipe {
            0
        } else {
            base_filetime() - 86_400 * 10_000_000 * 30
        };
        s::create_response(&s::CreateResponse {
            file_id: f,
            create_action: 1, // FILE_OPENED
            time,
            end_of_file: size,
            attributes: if pipe { 0x80 } else { 0x20 },
        })
    }

    /// CREATE of `req` on `tree`; returns the file id the server gave.
    pub fn create(
        &mut self,
        cap: &mut Capture,
        tree: u32,
        req: &s::CreateRequest,
        size: u64,
        pipe: bool,
    ) -> FileId {
        let f = Smb2::file_id(cap);
        let body = self.create_response(f, size, pipe);
        self.call(
            cap,
            s::CREATE,
            tree,
            &s::create_request(req),
            s::STATUS_SUCCESS,
            &body,
        );
        f
    }

    pub fn close(&mut self, cap: &mut Capture, tree: u32, f: FileId) {
        self.call(
            cap,
            s::CLOSE,
            tree,
            &s::close_request(f),
            s::STATUS_SUCCESS,
            &s::close_response(),
        );
    }

    /// A DCE/RPC exchange over a pipe by WRITE then READ: the two requests leave in one segment,
    /// and so do the two responses.
    pub fn pipe_write_read(
        &mut self,
        cap: &mut Capture,
        tree: u32,
        f: FileId,
        pdu: &[u8],
        answer: &[u8],
    ) {
        let w = self.request(cap, s::WRITE, tree, &s::write_request(f, 0, pdu));
        let r = self.request(cap, s::READ, tree, &s::read_request(f, 4280, 0));
        let wa = self.response(
            cap,
            s::WRITE,
            tree,
            w.mid,
            s::STATUS_SUCCESS,
            &s::write_response(pdu.len() as u32),
        );
        let ra = self.response(
            cap,
            s::READ,
            tree,
            r.mid,
            s::STATUS_SUCCESS,
            &s::read_response(answer),
        );
        self.tcp
            .exchange(cap, &[w.frame, r.frame].concat(), &[wa, ra].concat());
    }

    /// A DCE/RPC exchange over a pipe by one IOCTL FSCTL_PIPE_TRANSCEIVE.
    pub fn pipe_transceive(
        &mut self,
        cap: &mut Capture,
        tree: u32,
        f: FileId,
        pdu: &[u8],
        answer: &[u8],
    ) {
        self.call(
            cap,
            s::IOCTL,
            tree,
            &s::ioctl_request(s::FSCTL_PIPE_TRANSCEIVE, f, pdu, 4280),
            s::STATUS_SUCCESS,
            &s::ioctl_response(s::FSCTL_PIPE_TRANSCEIVE, f, answer),
        );
    }

    /// CREATE of a pipe and a related WRITE of `pdu` to it, compounded; the responses come back
    /// compounded too. Returns the pipe's file id.
    pub fn create_and_write(
        &mut self,
        cap: &mut Capture,
        tree: u32,
        pipe: &str,
        pdu: &[u8],
    ) -> FileId {
        let (m1, m2) = (self.next_mid, self.next_mid + 1);
        self.next_mid += 2;
        let h1 = self.hdr(cap, s::CREATE, tree, m1, false);
        let mut h2 = self.hdr(cap, s::WRITE, tree, m2, false);
        h2.flags |= s::FLAGS_RELATED_OPERATIONS;
        let q = s::compound(&[
            s::message(&h1, &s::create_request(&s::CreateRequest::pipe(pipe))),
            s::message(&h2, &s::write_request(FILE_ID_ANY, 0, pdu)),
        ]);
        let f = Smb2::file_id(cap);
        let a1 = self.hdr(cap, s::CREATE, tree, m1, true);
        let mut a2 = self.hdr(cap, s::WRITE, tree, m2, true);
        a2.flags |= s::FLAGS_RELATED_OPERATIONS;
        let a = s::compound(&[
            s::message(&a1, &self.create_response(f, 0, true)),
            s::message(&a2, &s::write_response(pdu.len() as u32)),
        ]);
        let (qf, af) = (self.frame(cap, &q), self.frame(cap, &a));
        self.tcp.exchange(cap, &qf, &af);
        f
    }

    /// READ of a pipe's pending answer.
    pub fn pipe_read(&mut self, cap: &mut Capture, tree: u32, f: FileId, answer: &[u8]) {
        self.call(
            cap,
            s::READ,
            tree,
            &s::read_request(f, 4280, 0),
            s::STATUS_SUCCESS,
            &s::read_response(answer),
        );
    }

    /// Reads `data` from a file in chunks of `chunk` bytes.
    pub fn read_file(
        &mut self,
        cap: &mut Capture,
        tree: u32,
        f: FileId,
        data: &[u8],
        chunk: usize,
    ) {
        for (i, part) in data.chunks(chunk).enumerate() {
            self.call(
                cap,
                s::READ,
                tree,
                &s::read_request(f, chunk as u32, (i * chunk) as u64),
                s::STATUS_SUCCESS,
                &s::read_response(part),
            );
        }
    }

    pub fn write_file(&mut self, cap: &mut Capture, tree: u32, f: FileId, data: &[u8]) {
        self.call(
            cap,
            s::WRITE,
            tree,
            &s::write_request(f, 0, data),
            s::STATUS_SUCCESS,
            &s::write_response(data.len() as u32),
        );
    }

    /// IOCTL FSCTL_DFS_GET_REFERRALS on IPC$ for `path`.
    pub fn dfs_referral(
        &mut self,
        cap: &mut Capture,
        tree: u32,
        version: u16,
        path: &str,
        targets: &[&str],
    ) {
        self.call(
            cap,
            s::IOCTL,
            tree,
            &s::ioctl_request(
                s::FSCTL_DFS_GET_REFERRALS,
                FILE_ID_ANY,
                &s::dfs_referral_request(version, path),
                4096,
            ),
            s::STATUS_SUCCESS,
            &s::ioctl_response(
                s::FSCTL_DFS_GET_REFERRALS,
                FILE_ID_ANY,
                &s::dfs_referral_response(version, path, targets),
            ),
        );
    }

    pub fn tree_disconnect(&mut self, cap: &mut Capture, tree: u32) {
        self.call(
            cap,
            s::TREE_DISCONNECT,
            tree,
            &s::four(),
            s::STATUS_SUCCESS,
            &s::four(),
        );
    }

    /// Think time of the client before its next request.
    pub fn pause(&mut self, cap: &mut Capture, us: u64) {
        let j = cap.rng.below(us / 2 + 1);
        self.tcp.wait(us + j);
    }

    pub fn finish(mut self, cap: &mut Capture, idle: u64) -> u64 {
        self.tcp.ack(cap, true);
        self.tcp.wait(idle);
        self.tcp.close(cap);
        self.tcp.t
    }
}

// ---------------------------------------------------------------------------------------------
// DCE/RPC stubs (NDR, little-endian)

fn handle(cap: &mut Capture) -> String {
    let b = guid(cap);
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// LsarOpenPolicy2 (opnum 44): SystemName, ObjectAttributes with a quality of service,
/// DesiredAccess MAXIMUM_ALLOWED; the answer is a policy handle.
fn lsa_open_policy2(cap: &mut Capture, server: &str) -> (Vec<u8>, Vec<u8>) {
    let mut q = Ndr::default();
    q.u32(0x0002_0000).wstring(&format!("\\\\{server}"));
    q.u32(24).u32(0).u32(0).u32(0).u32(0).u32(0x0002_0004); // OBJECT_ATTRIBUTES
    q.u32(12).u16(2).bytes(&[1, 0]); // SECURITY_QUALITY_OF_SERVICE
    q.u32(0x0200_0000);
    let mut r = Ndr::default();
    r.handle(&handle(cap)).u32(0);
    (q.done(), r.done())
}

/// SamrConnect (opnum 0): ServerName (a unique pointer to one wchar_t), DesiredAccess.
fn samr_connect(cap: &mut Capture) -> (Vec<u8>, Vec<u8>) {
    let mut q = Ndr::default();
    q.u32(0x0002_0000).u16(u16::from(b'\\')).u32(0x0000_0031);
    let mut r = Ndr::default();
    r.handle(&handle(cap)).u32(0);
    (q.done(), r.done())
}

/// The shares a file server lists: name, type, remark.
const SHARES: &[(&str, u32, &str)] = &[
    ("ADMIN$", 0x8000_0000, "Remote Admin"),
    ("C$", 0x8000_0000, "Default share"),
    ("D$", 0x8000_0000, "Default share"),
    ("Finance", 0, "Finance department (encrypted)"),
    ("HR", 0, "Human resources"),
    ("IPC$", 0x8000_0003, "Remote IPC"),
    ("Marketing", 0, "Marketing material and brand assets"),
    ("print$", 0, "Printer Drivers"),
    ("Projects", 0, "Project files, one folder per project"),
    ("Public", 0, "Everyone may read and write here"),
    (
        "Scans",
        0,
        "Scanned documents from the multifunction printers",
    ),
    ("Software", 0, "Installers approved by IT"),
    ("Templates", 0, "Office templates"),
    ("Users", 0, "Home folders"),
    ("HP-Floor2", 1, "HP LaserJet M507, second floor"),
    ("HP-Floor3", 1, "HP LaserJet M507, third floor"),
    ("Canon-MFP", 1, "Canon imageRUNNER, reception"),
];

/// NetrShareEnum (opnum 15) at level 1: the request and the answer listing [`SHARES`] (about
/// 1.7 KB, more than one TCP segment).
fn srvs_share_enum(server: &str) -> (Vec<u8>, Vec<u8>) {
    let mut q = Ndr::default();
    q.u32(0x0002_0000).wstring(&format!("\\\\{server}"));
    q.u32(1).u32(1).u32(0x0002_0004); // InfoStruct: Level 1, union arm 1, container pointer
    q.u32(0).u32(0); // SHARE_INFO_1_CONTAINER: EntriesRead 0, Buffer null
    q.u32(0xffff_ffff); // PreferedMaximumLength
    q.u32(0x0002_0008).u32(0); // ResumeHandle
    let n = SHARES.len() as u32;
    let mut r = Ndr::default();
    r.u32(1).u32(1).u32(0x0002_0000); // Level, arm, container
    r.u32(n).u32(0x0002_0004); // EntriesRead, Buffer
    r.u32(n); // conformance
    let mut refid = 0x0002_0008;
    for (_, kind, _) in SHARES {
        r.u32(refid).u32(*kind).u32(refid + 4);
        refid += 8;
    }
    for (name, _, remark) in SHARES {
        r.wstring(name).wstring(remark);
    }
    r.u32(n); // TotalEntries
    r.u32(0x0002_1000).u32(0); // ResumeHandle
    r.u32(0); // WERR_OK
    (q.done(), r.done())
}

/// A bind and its bind_ack (the pipe's secondary address) for one interface.
fn bind_pair(iface: Syntax, assoc: u32, pipe: &str) -> (Vec<u8>, Vec<u8>) {
    (
        rpc::bind(rpc::BIND, 1, 0, &[(0, iface)]),
        rpc::bind_ack(rpc::BIND_ACK, 1, assoc, pipe, 1),
    )
}

// ---------------------------------------------------------------------------------------------
// Scenarios

/// What a workstation does on the DC at start-up: SMB 3.1.1, Kerberos, IPC$ with lsarpc
/// (WRITE/READ), samr (IOCTL transceive) and netlogon (a CREATE + related WRITE compound), a
/// DFS referral for SYSVOL, the default domain policy's GPT.INI and Registry.pol from SYSVOL,
/// and NETLOGON.
pub fn dc_group_policy(
    cap: &mut Capture,
    c: SocketAddr,
    dc: SocketAddr,
    t: u64,
    w: &Wire,
    computer: &str,
) -> u64 {
    let mut m = Smb2::connect(cap, c, dc, DC01, t, w);
    m.negotiate(
        cap,
        &[s::SMB202, s::SMB210, s::SMB300, s::SMB302, s::SMB311],
        &[s::AES_128_GCM, s::AES_128_CCM, s::AES_256_GCM],
    );
    m.session_setup(cap, Logon::Kerberos, false);
    let ipc = m.tree_connect(cap, "IPC$", s::SHARE_TYPE_PIPE, 0);
    let assoc = 0x0001_0000 | (cap.rng.next_u32() & 0xffff);

    // lsarpc: bind and LsarOpenPolicy2 by WRITE + READ.
    let lsa = m.create(cap, ipc, &s::CreateRequest::pipe("lsarpc"), 0, true);
    let (b, ba) = bind_pair(LSARPC, assoc, "\\PIPE\\lsass");
    m.pipe_write_read(cap, ipc, lsa, &b, &ba);
    let (q, r) = lsa_open_policy2(cap, DC01.dns);
    m.pipe_write_read(
        cap,
        ipc,
        lsa,
        &rpc::request(2, 0, 44, &q),
        &rpc::response(2, 0, &r),
    );
    m.close(cap, ipc, lsa);

    // samr: bind and SamrConnect by IOCTL FSCTL_PIPE_TRANSCEIVE.
    let samr = m.create(cap, ipc, &s::CreateRequest::pipe("samr"), 0, true);
    let (b, ba) = bind_pair(rpc::SAMR, assoc + 1, "\\PIPE\\lsass");
    m.pipe_transceive(cap, ipc, samr, &b, &ba);
    let (q, r) = samr_connect(cap);
    m.pipe_transceive(
        cap,
        ipc,
        samr,
        &rpc::request(2, 0, 0, &q),
        &rpc::response(2, 0, &r),
    );
    m.close(cap, ipc, samr);

    // netlogon: CREATE + related WRITE of the bind, READ of the bind_ack, NetrServerReqChallenge.
    let (b, ba) = bind_pair(rpc::NETLOGON, assoc + 2, "\\PIPE\\lsass");
    let nl = m.create_and_write(cap, ipc, "netlogon", &b);
    m.pipe_read(cap, ipc, nl, &ba);
    let (q, r) = nrpc_req_challenge(cap, computer);
    m.pipe_write_read(
        cap,
        ipc,
        nl,
        &rpc::request(2, 0, 4, &q),
        &rpc::response(2, 0, &r),
    );
    m.close(cap, ipc, nl);

    // Group policy: where is SYSVOL, then the policy files.
    m.pause(cap, 8 * MS);
    let sysvol_path = format!("\\{DOMAIN}\\SYSVOL");
    m.dfs_referral(
        cap,
        ipc,
        4,
        &sysvol_path,
        &["\\dc01.corp.example\\SYSVOL", "\\dc02.corp.example\\SYSVOL"],
    );
    let sysvol = m.tree_connect(cap, "SYSVOL", s::SHARE_TYPE_DISK, s::SHAREFLAG_DFS);
    let gpt = format!("{DOMAIN}\\Policies\\{GPO}\\GPT.INI");
    let text = b"[General]\r\nVersion=65543\r\ndisplayName=Default Domain Policy\r\n";
    let f = m.create(
        cap,
        sysvol,
        &s::CreateRequest::read(&gpt),
        text.len() as u64,
        false,
    );
    m.read_file(cap, sysvol, f, text, 65536);
    m.close(cap, sysvol, f);
    let pol = format!("{DOMAIN}\\Policies\\{GPO}\\Machine\\Registry.pol");
    let mut data = b"PReg\x01\x00\x00\x00".to_vec();
    data.extend(pl::filler(&mut cap.rng, 2800));
    let f = m.create(
        cap,
        sysvol,
        &s::CreateRequest::read(&pol),
        data.len() as u64,
        false,
    );
    m.read_file(cap, sysvol, f, &data, 65536);
    m.close(cap, sysvol, f);
    m.pause(cap, 20 * MS);
    let _netlogon = m.tree_connect(cap, "NETLOGON", s::SHARE_TYPE_DISK, 0);
    m.finish(cap, 2 * SEC)
}

/// Printing: SMB 3.0.2 to the print server, NTLMv2 as CORP\<user>, spoolss bound over IPC$,
/// then print$ for the drivers and the printer's own share (a print queue).
pub fn print(
    cap: &mut Capture,
    c: SocketAddr,
    ps: SocketAddr,
    t: u64,
    w: &Wire,
    user: &str,
    ws: &str,
) -> u64 {
    let mut m = Smb2::connect(cap, c, ps, FS01, t, w);
    m.negotiate(cap, &[s::SMB202, s::SMB210, s::SMB300, s::SMB302], &[]);
    m.session_setup(
        cap,
        Logon::Ntlm {
            user,
            workstation: ws,
        },
        false,
    );
    let ipc = m.tree_connect(cap, "IPC$", s::SHARE_TYPE_PIPE, 0);
    let sp = m.create(cap, ipc, &s::CreateRequest::pipe("spoolss"), 0, true);
    let (b, ba) = bind_pair(
        SPOOLSS,
        0x0002_1000 | (cap.rng.next_u32() & 0xfff),
        "\\PIPE\\spoolss",
    );
    m.pipe_write_read(cap, ipc, sp, &b, &ba);
    m.pause(cap, 40 * MS);
    let _drivers = m.tree_connect(cap, "print$", s::SHARE_TYPE_DISK, 0);
    let _queue = m.tree_connect(cap, "HP-Floor2", s::SHARE_TYPE_PRINT, 0);
    m.close(cap, ipc, sp);
    m.finish(cap, SEC)
}

/// A user's file share: SMB 3.1.1 with Kerberos, a document read in 16 KiB READs (each response
/// a dozen segments) and another written, then `net view`: srvsvc bound over IPC$ and
/// NetrShareEnum answered by IOCTL (a DCE/RPC response split across segments).
pub fn file_share(
    cap: &mut Capture,
    c: SocketAddr,
    fs: SocketAddr,
    t: u64,
    w: &Wire,
    size: usize,
) -> u64 {
    let mut m = Smb2::connect(cap, c, fs, FS01, t, w);
    m.negotiate(
        cap,
        &[s::SMB202, s::SMB210, s::SMB300, s::SMB302, s::SMB311],
        &[s::AES_128_GCM, s::AES_128_CCM],
    );
    m.session_setup(cap, Logon::Kerberos, false);
    let projects = m.tree_connect(cap, "Projects", s::SHARE_TYPE_DISK, 0);
    let doc = pl::filler(&mut cap.rng, size);
    let f = m.create(
        cap,
        projects,
        &s::CreateRequest::read("Apollo\\plan.docx"),
        doc.len() as u64,
        false,
    );
    m.read_file(cap, projects, f, &doc, 16384);
    m.close(cap, projects, f);
    m.pause(cap, 2 * SEC);
    let notes = pl::text(&mut cap.rng, 3100);
    let f = m.create(
        cap,
        projects,
        &s::CreateRequest::read_write("Apollo\\notes.txt"),
        0,
        false,
    );
    m.write_file(cap, projects, f, &notes);
    m.close(cap, projects, f);
    m.tree_disconnect(cap, projects);
    m.pause(cap, SEC);
    let ipc = m.tree_connect(cap, "IPC$", s::SHARE_TYPE_PIPE, 0);
    let sv = m.create(cap, ipc, &s::CreateRequest::pipe("srvsvc"), 0, true);
    let (b, ba) = bind_pair(
        SRVSVC,
        0x0003_0000 | (cap.rng.next_u32() & 0xfff),
        "\\PIPE\\srvsvc",
    );
    m.pipe_write_read(cap, ipc, sv, &b, &ba);
    let (q, r) = srvs_share_enum(FS01.dns);
    m.pipe_transceive(
        cap,
        ipc,
        sv,
        &rpc::request(2, 0, 15, &q),
        &rpc::response(2, 0, &r),
    );
    m.close(cap, ipc, sv);
    m.finish(cap, SEC)
}

/// An encrypted session: SMB 3.1.1 negotiating AES-128-GCM, session setup in clear with the
/// encrypt-data flag, then transform frames only (a tree connect, a file read, close).
pub fn encrypted_session(
    cap: &mut Capture,
    c: SocketAddr,
    fs: SocketAddr,
    t: u64,
    w: &Wire,
) -> u64 {
    let mut m = Smb2::connect(cap, c, fs, FS01, t, w);
    m.negotiate(
        cap,
        &[s::SMB210, s::SMB300, s::SMB302, s::SMB311],
        &[s::AES_128_GCM, s::AES_256_GCM],
    );
    m.session_setup(cap, Logon::Kerberos, true);
    let hr = m.tree_connect(cap, "HR", s::SHARE_TYPE_DISK, 0);
    let doc = pl::filler(&mut cap.rng, 9000);
    let f = m.create(
        cap,
        hr,
        &s::CreateRequest::read("reviews\\2024.xlsx"),
        doc.len() as u64,
        false,
    );
    m.read_file(cap, hr, f, &doc, 65536);
    m.close(cap, hr, f);
    m.finish(cap, SEC)
}

/// An encrypting share: SMB 3.0, NTLMv2, the tree connect to "Finance" in clear with
/// SMB2_SHAREFLAG_ENCRYPT_DATA, then transform frames (AES-128-CCM) only.
pub fn encrypted_share(
    cap: &mut Capture,
    c: SocketAddr,
    fs: SocketAddr,
    t: u64,
    w: &Wire,
    user: &str,
    ws: &str,
) -> u64 {
    let mut m = Smb2::connect(cap, c, fs, FS01, t, w);
    m.negotiate(cap, &[s::SMB202, s::SMB210, s::SMB300], &[]);
    m.session_setup(
        cap,
        Logon::Ntlm {
            user,
            workstation: ws,
        },
        false,
    );
    let fin = m.tree_connect(
        cap,
        "Finance",
        s::SHARE_TYPE_DISK,
        s::SHAREFLAG_ENCRYPT_DATA,
    );
    let doc = pl::filler(&mut cap.rng, 5200);
    let f = m.create(
        cap,
        fin,
        &s::CreateRequest::read("budget\\2024-q1.xlsx"),
        doc.len() as u64,
        false,
    );
    m.read_file(cap, fin, f, &doc, 65536);
    m.close(cap, fin, f);
    m.finish(cap, SEC)
}

fn h1(command: u8, tid: u16, uid: u16, mid: u16, reply: bool, status: u32) -> Hdr1 {
    Hdr1 {
        command,
        status,
        reply,
        tid,
        pid: 0xfeff,
        uid,
        mid,
    }
}

/// SMB1 over NetBIOS (TCP 139): session request, NEGOTIATE "NT LM 0.12", extended-security
/// session setup (NTLMv2), IPC$, NT_CREATE_ANDX \srvsvc, TransactNmPipe bind, NetrShareEnum by
/// WRITE_ANDX / READ_ANDX, close.
/// A legacy client on the NetBIOS session service: SMB1, NTLMSSP (NTLMv2, or NTLMv1 when
/// `ntlm_v1`: a client with LmCompatibilityLevel below 3), IPC$ and a share.
#[allow(clippy::too_many_arguments)]
pub fn smb1_netbios(
    cap: &mut Capture,
    c: SocketAddr,
    fs: SocketAddr,
    t: u64,
    w: &Wire,
    user: &str,
    ws: &str,
    ntlm_v1: bool,
) -> u64 {
    let mut n = Tcp::new(cap, c, fs, t, w, NBSS);
    n.handshake(cap);
    n.exchange(cap, &pl::nbss_request(FS01.nb, ws), &pl::nbss_positive());
    let ok = s::STATUS_SUCCESS;
    let mut mid = 1u16;
    fn xchg(cap: &mut Capture, n: &mut Tcp, q: Vec<u8>, a: Vec<u8>) {
        n.exchange(cap, &s::nbss(&q), &s::nbss(&a));
    }
    // NEGOTIATE.
    let q = s::smb1(&h1(s::SMB1_NEGOTIATE, 0, 0, mid, false, ok), &[], |_| {
        s::smb1_negotiate_request(s::SMB1_DIALECTS)
    });
    let blob = gss::neg_token_init2(&[gss::OID_NTLMSSP]);
    let g = guid(cap);
    let (words, bytes) = s::smb1_negotiate_response(5, base_filetime() + n.t * 10, g, &blob);
    let a = s::smb1(&h1(s::SMB1_NEGOTIATE, 0, 0, mid, true, ok), &words, |_| {
        bytes
    });
    xchg(cap, &mut n, q, a);
    // SESSION_SETUP_ANDX, two rounds.
    mid += 1;
    let (os, lm) = (
        "Windows 7 Professional 7601 Service Pack 1",
        "Windows 7 Professional 6.1",
    );
    let init = gss::neg_token_init(&[gss::OID_NTLMSSP], &gss::ntlm_negotiate());
    let q = s::smb1_session_setup_request(
        &h1(s::SMB1_SESSION_SETUP_ANDX, 0, 0, mid, false, ok),
        &init,
        os,
        lm,
    );
    let uid = 0x0800 | (cap.rng.next_u32() as u16 & 0x07ff);
    let ft = base_filetime() + n.t * 10;
    let target = FS01.target();
    let chal = gss::ntlm_challenge(&mut cap.rng, &target, ft);
    let resp = gss::neg_token_resp(
        Some(gss::ACCEPT_INCOMPLETE),
        Some(gss::OID_NTLMSSP),
        &chal,
        &[],
    );
    let (sos, slm) = (
        "Windows Server 2016 Standard 14393",
        "Windows Server 2016 Standard 6.3",
    );
    let a = s::smb1_session_setup_response(
        &h1(
            s::SMB1_SESSION_SETUP_ANDX,
            0,
            uid,
            mid,
            true,
            s::STATUS_MORE_PROCESSING_REQUIRED,
        ),
        &resp,
        sos,
        slm,
    );
    xchg(cap, &mut n, q, a);
    mid += 1;
    let auth = if ntlm_v1 {
        gss::ntlm_authenticate_v1(&mut cap.rng, "CORP", user, ws)
    } else {
        gss::ntlm_authenticate(&mut cap.rng, &target, ft, "CORP", user, ws, "cifs/FS01")
    };
    let tok = gss::neg_token_resp(None, None, &auth, &[]);
    let q = s::smb1_session_setup_request(
        &h1(s::SMB1_SESSION_SETUP_ANDX, 0, uid, mid, false, ok),
        &tok,
        os,
        lm,
    );
    let done = gss::neg_token_resp(Some(gss::ACCEPT_COMPLETED), None, &[], &[]);
    let a = s::smb1_session_setup_response(
        &h1(s::SMB1_SESSION_SETUP_ANDX, 0, uid, mid, true, ok),
        &done,
        sos,
        slm,
    );
    xchg(cap, &mut n, q, a);
    // TREE_CONNECT_ANDX \\FS01\IPC$.
    mid += 1;
    let tid = 0x0800 | (cap.rng.next_u32() as u16 & 0x07ff);
    let q = s::smb1_tree_connect_request(
        &h1(s::SMB1_TREE_CONNECT_ANDX, 0, uid, mid, false, ok),
        "\\\\FS01\\IPC$",
    );
    let a = s::smb1_tree_connect_response(
        &h1(s::SMB1_TREE_CONNECT_ANDX, tid, uid, mid, true, ok),
        "IPC",
        "",
    );
    xchg(cap, &mut n, q, a);
    // NT_CREATE_ANDX \srvsvc.
    mid += 1;
    let fid = 0x4000 | (cap.rng.next_u32() as u16 & 0x0fff);
    let q = s::smb1_nt_create_request(
        &h1(s::SMB1_NT_CREATE_ANDX, tid, uid, mid, false, ok),
        "\\srvsvc",
    );
    let a =
        s::smb1_nt_create_response(&h1(s::SMB1_NT_CREATE_ANDX, tid, uid, mid, true, ok), fid, 0);
    xchg(cap, &mut n, q, a);
    // TransactNmPipe: bind srvsvc.
    mid += 1;
    let (b, ba) = bind_pair(
        SRVSVC,
        0x0004_0000 | (cap.rng.next_u32() & 0xfff),
        "\\PIPE\\srvsvc",
    );
    let q = s::smb1_transact_nmpipe_request(
        &h1(s::SMB1_TRANSACTION, tid, uid, mid, false, ok),
        fid,
        &b,
    );
    let a =
        s::smb1_transact_nmpipe_response(&h1(s::SMB1_TRANSACTION, tid, uid, mid, true, ok), &ba);
    xchg(cap, &mut n, q, a);
    // NetrShareEnum: WRITE_ANDX the request, READ_ANDX the answer.
    let (q, r) = srvs_share_enum("FS01");
    let req = rpc::request(2, 0, 15, &q);
    let resp = rpc::response(2, 0, &r);
    mid += 1;
    let wq =
        s::smb1_write_andx_request(&h1(s::SMB1_WRITE_ANDX, tid, uid, mid, false, ok), fid, &req);
    let wa = s::smb1_write_andx_response(
        &h1(s::SMB1_WRITE_ANDX, tid, uid, mid, true, ok),
        req.len() as u16,
    );
    xchg(cap, &mut n, wq, wa);
    mid += 1;
    let rq = s::smb1_read_andx_request(&h1(s::SMB1_READ_ANDX, tid, uid, mid, false, ok), fid, 4280);
    let ra = s::smb1_read_andx_response(&h1(s::SMB1_READ_ANDX, tid, uid, mid, true, ok), &resp);
    xchg(cap, &mut n, rq, ra);
    // CLOSE, TREE_DISCONNECT.
    mid += 1;
    let q = s::smb1_close_request(&h1(s::SMB1_CLOSE, tid, uid, mid, false, ok), fid);
    let a = s::smb1_empty(&h1(s::SMB1_CLOSE, tid, uid, mid, true, ok));
    xchg(cap, &mut n, q, a);
    mid += 1;
    let q = s::smb1_empty(&h1(s::SMB1_TREE_DISCONNECT, tid, uid, mid, false, ok));
    let a = s::smb1_empty(&h1(s::SMB1_TREE_DISCONNECT, tid, uid, mid, true, ok));
    xchg(cap, &mut n, q, a);
    n.ack(cap, true);
    n.wait(2 * SEC);
    n.close(cap);
    n.t
}

/// A pipe conversation captured mid-stream: the capture starts inside a READ response (its last
/// 300 bytes), then LsarOpenPolicy2 by WRITE + READ on the already open lsarpc pipe, an
/// alter_context adding drsuapi, its response, and IDL_DRSBind-sized traffic; no negotiate,
/// session setup, tree connect or create is captured.
pub fn mid_stream(cap: &mut Capture, c: SocketAddr, dc: SocketAddr, t: u64, w: &Wire) -> u64 {
    let tcp = Tcp::new(cap, c, dc, t, w, SMB);
    let mut m = Smb2::over(tcp, DC01, cap);
    m.dialect = s::SMB311;
    m.session = 0x0000_1000_0000_0000 | (cap.rng.next_u64() & 0xffff_ffff);
    m.signing = true;
    m.next_mid = 40 + cap.rng.below(20);
    let tree = 1;
    let f = Smb2::file_id(cap);
    // The end of an earlier READ response: no header in it.
    let tail = pl::filler(&mut cap.rng, 300);
    m.tcp
        .seg(cap, false, crate::packet::PSH | crate::packet::ACK, &tail);
    m.tcp.ack(cap, true);
    m.pause(cap, 30 * MS);
    let (q, r) = lsa_open_policy2(cap, DC01.dns);
    m.pipe_write_read(
        cap,
        tree,
        f,
        &rpc::request(7, 0, 44, &q),
        &rpc::response(7, 0, &r),
    );
    m.pause(cap, 15 * MS);
    let alter = rpc::bind(rpc::ALTER_CONTEXT, 8, 0, &[(1, rpc::DRSUAPI)]);
    let alter_resp = rpc::bind_ack(rpc::ALTER_CONTEXT_RESP, 8, 0x0001_a0e3, "", 1);
    m.pipe_write_read(cap, tree, f, &alter, &alter_resp);
    m.finish(cap, SEC)
}

/// Replication from the second DC joined mid-stream on a dynamic port of the DC: DCE/RPC
/// over TCP (no SMB), request/response traffic on context 0, then an alter_context to drsuapi.
pub fn dc_replication(
    cap: &mut Capture,
    c: SocketAddr,
    dc: SocketAddr,
    t: u64,
    w: &Wire,
    expect: &str,
) -> u64 {
    let mut r = Tcp::new(cap, c, dc, t, w, expect);
    let stub = pl::filler(&mut cap.rng, 180);
    r.send(cap, true, &rpc::request(21, 0, 3, &stub));
    let answer = pl::filler(&mut cap.rng, 2400);
    r.send(cap, false, &rpc::response(21, 0, &answer));
    r.ack(cap, true);
    r.wait(200 * MS);
    r.exchange(
        cap,
        &rpc::bind(rpc::ALTER_CONTEXT, 22, 0x0000_b1f2, &[(1, rpc::DRSUAPI)]),
        &rpc::bind_ack(rpc::ALTER_CONTEXT_RESP, 22, 0x0000_b1f2, "", 1),
    );
    // IDL_DRSUnbind (opnum 1) on the new context: the DRS handle in, a nil handle and
    // ERROR_SUCCESS out.
    let mut q = Ndr::default();
    q.handle(&handle(cap));
    let mut a = Ndr::default();
    a.bytes(&[0u8; 20]).u32(0);
    r.exchange(
        cap,
        &rpc::request(23, 1, 1, &q.done()),
        &rpc::response(23, 1, &a.done()),
    );
    r.ack(cap, true);
    r.close(cap);
    r.t
}

pub const RPC_DRSR_LEARNT: &str =
    "RPC drsuapi (MS-DRSR) — Local Security Authority (provenance rpc-bind: the alter_context names drsuapi)";

/// `smb.pcap`: every scenario once.
pub fn smb_fixture() -> Capture {
    let mut cap = Capture::new(
        "smb.pcap",
        Link::Ethernet,
        21,
        "SMB conversations, each once: DC group policy (SMB 3.1.1, Kerberos, IPC$ pipes, DFS, SYSVOL), printing, a file share with net view, encrypted SMB3, SMB1 over NetBIOS 139, mid-stream pipes, DC replication",
    );
    let w = lan();
    let (dc, fs) = ("192.0.2.10", "192.0.2.20");
    let mut t = 100 * MS;
    t = dc_group_policy(
        &mut cap,
        sa("192.0.2.101", 49801),
        sa(dc, 445),
        t,
        &w,
        "WS101",
    ) + SEC;
    t = print(
        &mut cap,
        sa("192.0.2.102", 49802),
        sa(fs, 445),
        t,
        &w,
        "alice",
        "WS102",
    ) + SEC;
    t = file_share(
        &mut cap,
        sa("192.0.2.103", 49803),
        sa(fs, 445),
        t,
        &w,
        40_000,
    ) + SEC;
    t = encrypted_session(&mut cap, sa("192.0.2.104", 49804), sa(fs, 445), t, &w) + SEC;
    t = encrypted_share(
        &mut cap,
        sa("192.0.2.105", 49805),
        sa(fs, 445),
        t,
        &w,
        "bob",
        "WS105",
    ) + SEC;
    t = smb1_netbios(
        &mut cap,
        sa("192.0.2.106", 49806),
        sa(fs, 139),
        t,
        &w,
        "carol",
        "WS106",
        false,
    ) + SEC;
    t = mid_stream(&mut cap, sa("192.0.2.107", 49807), sa(dc, 445), t, &w) + SEC;
    dc_replication(
        &mut cap,
        sa("192.0.2.11", 49808),
        sa(dc, 49669),
        t,
        &w,
        RPC_DRSR_LEARNT,
    );
    cap.expect.push(
        "One conversation per scenario, in this order, each on the servers DC01 (192.0.2.10, dc01.corp.example) and FS01 (192.0.2.20, fs01.corp.example) of the domain corp.example; \
         every SMB message is framed by a 4-byte NetBIOS session header, every PDU in a pipe is DCE/RPC 5.0 little-endian with NDR. Frames carrying several SMB messages: each pipe WRITE leaves with the READ for its answer, and the two responses come back together.\n\n\
         1. 192.0.2.101 -> DC 445, SMB 3.1.1 (the client offers 2.0.2, 2.1, 3.0, 3.0.2, 3.1.1 with preauth-integrity, encryption AES-128-GCM/CCM, AES-256-GCM and signing contexts), Kerberos AP-REQ for cifs/dc01.corp.example in SPNEGO, AP-REP back; \
         tree IPC$ (pipe share); CREATE lsarpc, bind lsarpc 12345778-1234-abcd-ef00-0123456789ab v0.0 by WRITE + READ, LsarOpenPolicy2 (opnum 44); CREATE samr, bind samr by IOCTL FSCTL_PIPE_TRANSCEIVE, SamrConnect; \
         a compound CREATE netlogon + related WRITE (file id all ones) of the bind to netlogon 12345678-1234-abcd-ef00-01234567cffb v1.0, READ of the bind_ack, NetrServerReqChallenge; \
         IOCTL FSCTL_DFS_GET_REFERRALS for \\corp.example\\SYSVOL (V4 referral, two targets); tree SYSVOL, CREATE/READ/CLOSE of corp.example\\Policies\\{31B2F340-016D-11D2-945F-00C04FB984F9}\\GPT.INI and of Machine\\Registry.pol (2808 bytes, two segments); tree NETLOGON.\n\n\
         2. 192.0.2.102 -> FS 445, SMB 3.0.2, NTLMSSP (NEGOTIATE, CHALLENGE, AUTHENTICATE with an NTLMv2 response for CORP\\alice from WS102); tree IPC$; CREATE spoolss, bind spoolss 12345678-1234-abcd-ef00-0123456789ab v1.0; tree print$ (a disk share) and tree HP-Floor2 (share type print).\n\n\
         3. 192.0.2.103 -> FS 445, SMB 3.1.1, Kerberos for cifs/fs01.corp.example; tree Projects (disk); Apollo\\plan.docx read in three READs (16384, 16384, 7232 bytes; each response spans several segments), Apollo\\notes.txt written (3100 bytes); \
         tree IPC$, CREATE srvsvc, bind srvsvc 4b324fc8-1670-01d3-1278-5a47bf6ee188 v3.0, NetrShareEnum level 1 by IOCTL (17 shares; the response PDU spans two segments).\n\n\
         4. 192.0.2.104 -> FS 445, SMB 3.1.1 with AES-128-GCM chosen, Kerberos; the session setup response sets SMB2_SESSION_FLAG_ENCRYPT_DATA; everything after it is an SMB3 transform (0xFD 'SMB', 52-byte header, session id of the session) around random ciphertext of the plain message's length.\n\n\
         5. 192.0.2.105 -> FS 445, SMB 3.0, NTLMv2 CORP\\bob; tree Finance in clear with SMB2_SHAREFLAG_ENCRYPT_DATA (0x8000), then transform frames (AES-128-CCM, 11-byte nonces) only.\n\n\
         6. 192.0.2.106 -> FS 139: NetBIOS session request FS01 <- WS106 and positive response; SMB1 NEGOTIATE (six dialects, NT LM 0.12 chosen, extended security), SESSION_SETUP_ANDX twice (NTLMSSP, CORP\\carol), TREE_CONNECT_ANDX \\\\FS01\\IPC$ service ?????, \
         NT_CREATE_ANDX \\srvsvc, TRANSACTION TransactNmPipe (0x26) with the srvsvc bind and the bind_ack, NetrShareEnum by WRITE_ANDX and READ_ANDX, CLOSE, TREE_DISCONNECT.\n\n\
         7. 192.0.2.107 -> DC 445 mid-stream: no handshake; the first segment is the last 300 bytes of a READ response (no NetBIOS header); then pipe WRITE/READ pairs on an lsarpc pipe opened before the capture: LsarOpenPolicy2 (call 7) and an alter_context adding drsuapi e3514235-4b06-11d1-ab04-00c04fc2dcd2 v4.0 (context 1); FIN close.\n\n\
         8. 192.0.2.11 (DC02) -> DC 49669 (drsuapi's dynamic port) mid-stream, DCE/RPC over TCP: a request/response on context 0 (the response spans two segments), then an alter_context to drsuapi v4.0, its response and IDL_DRSUnbind (opnum 1) on context 1."
            .into(),
    );
    cap
}

//! The service catalog: Windows server services and the ports and protocols each one needs.
//!
//! The default catalog (`catalog/windows-server.toml`, taken from Microsoft's knowledge-base article on
//! the ports of the Windows server system, with the services beyond it that administration traffic
//! shows), its DCE/RPC interfaces (`catalog/rpc-interfaces.toml`) and the SMB pipes, shares,
//! Kerberos service principal classes and verified protocols that name services
//! (`catalog/names.toml`) are embedded in the binary. Users add to them or override them with their
//! own files of the same format; every file is validated strictly and a bad one is an error with
//! `file:line`, never a silently skipped row.
//!
//! Classification looks up every flow, so the catalog compiles its rows into [`Label`]s — one per
//! distinct (transport, port) or IP protocol — and flat tables indexed by port or protocol number, so
//! that a lookup is one array access.
//!
//! This file holds the public types and the API; `load.rs` reads, parses, validates and merges the
//! files (its [`limits`] bound every count and size), and `tables.rs` builds the labels and lookup
//! tables and answers lookups.

use std::fmt;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

mod load;
mod tables;

/// The embedded default catalog.
pub const DEFAULT_CATALOG: &str = include_str!("../../catalog/windows-server.toml");
/// The name under which the default catalog appears in errors and row sources.
pub const DEFAULT_CATALOG_NAME: &str = "<built-in catalog/windows-server.toml>";
/// The embedded DCE/RPC interface list.
pub const DEFAULT_INTERFACES: &str = include_str!("../../catalog/rpc-interfaces.toml");
pub const DEFAULT_INTERFACES_NAME: &str = "<built-in catalog/rpc-interfaces.toml>";
/// The embedded list of SMB named pipes, shares, Kerberos service principal classes and verified
/// protocols.
pub const DEFAULT_NAMES: &str = include_str!("../../catalog/names.toml");
pub const DEFAULT_NAMES_NAME: &str = "<built-in catalog/names.toml>";

/// The words a `[[protocol]]` entry may name: the protocols an inspector verifies in the payload
/// and looks up with [`Catalog::name_id`]. An inspector that verifies a new protocol adds its word
/// here, so that a catalog file naming a protocol nothing looks up is an error, not a dead entry.
pub const PROTOCOL_NAMES: &[&str] = &[
    "smb",
    "dfs-referral",
    "kerberos",
    "ldap",
    "ldap-ping",
    "rdp-negotiation",
    "dns-authoritative",
    "http-sharepoint",
];

/// Families of `[[protocol]]` words that end in a name from the wire: `tds-instance:NAME` (the SQL
/// Server instance a TDS PRELOGIN or a SQL Browser answer names) and `http-server:PRODUCT` (the
/// product token of an HTTP `Server` header, before its `/`).
pub const PROTOCOL_PREFIXES: &[&str] = &["tds-instance:", "http-server:"];

/// Whether a `[[protocol]]` entry's key is one svcscope looks up.
pub fn is_protocol_name(key: &str) -> bool {
    PROTOCOL_NAMES.contains(&key)
        || PROTOCOL_PREFIXES
            .iter()
            .any(|p| key.len() > p.len() && key.starts_with(p))
}

/// The [`name_key`] every administrative drive share (`C$`, `D$`, … one letter and `$`) shares:
/// `?` cannot be part of a share name, so no other share has this key.
pub const DRIVE_SHARE_KEY: &str = "?$";

/// The transport a catalog row names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Tcp,
    Udp,
    /// An IP protocol with no ports (GRE, ESP, AH).
    Ip,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
            Transport::Ip => "ip",
        }
    }

    pub fn parse(text: &str) -> Option<Transport> {
        match text.to_ascii_lowercase().as_str() {
            "tcp" => Some(Transport::Tcp),
            "udp" => Some(Transport::Udp),
            "ip" => Some(Transport::Ip),
            _ => None,
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a catalog row matches besides its transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PortSpec {
    /// A TCP or UDP port.
    Port(u16),
    /// An IP protocol number (transport `ip`).
    IpProtocol(u8),
    /// The dynamic RPC range ("Randomly allocated high TCP ports").
    Dynamic,
}

/// Whether a service is in the article's text, added from a later edition, or beyond the article.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    Article,
    LaterEdition,
    /// Not in any edition of the article, but seen in Windows administration traffic (Remote
    /// Registry, the Service Control Manager, WMI, …), each row sourced from an open specification.
    BeyondArticle,
    /// Loaded from a user's `--catalog` file.
    User,
}

/// Where a row or service was defined.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourcePos {
    pub file: String,
    pub line: usize,
}

impl fmt::Display for SourcePos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// A DCE/RPC interface UUID in canonical (string) byte order.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Uuid(pub [u8; 16]);

impl Uuid {
    /// Parses "12345678-1234-abcd-ef00-01234567cffb" (either case).
    pub fn parse(text: &str) -> Option<Uuid> {
        let groups: Vec<usize> = text.split('-').map(str::len).collect();
        let hex: String = text.chars().filter(|&c| c != '-').collect();
        if hex.len() != 32 || groups != [8, 4, 4, 4, 12] {
            return None;
        }
        let mut u = [0u8; 16];
        for (i, byte) in u.iter_mut().enumerate() {
            *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(Uuid(u))
    }
}

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Uuid {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A DCE/RPC interface the catalog knows, with the services that own it.
#[derive(Clone, Debug)]
pub struct Interface {
    pub uuid: Uuid,
    pub name: String,
    /// The open specification (MS-NRPC, …).
    pub protocol: String,
    pub title: Option<String>,
    pub services: Vec<ServiceId>,
    pub source: SourcePos,
}

/// Index of a name in [`Catalog::names`].
pub type NameId = u16;

/// What kind of thing read on the wire a catalog name is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NameKind {
    /// An SMB named pipe (`\PIPE\spoolss` opened on IPC$), keyed by its bare lowercase name.
    Pipe,
    /// An SMB share (`\\server\SYSVOL`), keyed by its lowercase share name.
    Share,
    /// A protocol verified in the payload (an SMB negotiate, a DFS referral), keyed by a short
    /// lowercase word (`smb`, `dfs-referral`).
    Protocol,
    /// A Kerberos service principal (`cifs/fs01.corp.example.com`), keyed by its lowercase service
    /// class (`cifs`).
    #[serde(rename = "spn")]
    Principal,
}

impl NameKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NameKind::Pipe => "pipe",
            NameKind::Share => "share",
            NameKind::Protocol => "protocol",
            NameKind::Principal => "spn",
        }
    }
}

/// A name seen on the wire that says which services are used: a pipe, a share, a verified
/// protocol. Catalog data, each with the reference it comes from.
#[derive(Clone, Debug)]
pub struct Name {
    pub kind: NameKind,
    /// The lookup key ([`name_key`] of what the file says).
    pub name: String,
    pub services: Vec<ServiceId>,
    /// Where the mapping is documented (an open specification and section, a KB article).
    pub reference: String,
    pub note: Option<String>,
    pub source: SourcePos,
}

/// The lookup key of a wire name of `kind`: lowercase, trailing NULs dropped; a pipe loses any
/// leading `\`, `PIPE\` (`\PIPE\lsarpc` → `lsarpc`); a share keeps only its last path component
/// (`\\dc1\SYSVOL` → `sysvol`), and an administrative drive share (one ASCII letter and `$`:
/// `C$`, `\\fs1\d$`) is [`DRIVE_SHARE_KEY`], one key for every drive letter; a service principal
/// is its service class, the part before the first `/` (`HOST/fs01` → `host`).
pub fn name_key(kind: NameKind, text: &str) -> String {
    let t = text.trim_matches(char::from(0));
    let t = match kind {
        NameKind::Pipe => {
            let t = t.trim_start_matches(['\\', '/']);
            match t.get(..5) {
                Some(p) if p.eq_ignore_ascii_case("pipe\\") || p.eq_ignore_ascii_case("pipe/") => {
                    t[5..].trim_start_matches(['\\', '/'])
                }
                _ => t,
            }
        }
        NameKind::Share => t
            .trim_end_matches(['\\', '/'])
            .rsplit(['\\', '/'])
            .next()
            .unwrap_or(t),
        NameKind::Protocol => t,
        NameKind::Principal => t.split('/').next().unwrap_or(t),
    };
    if kind == NameKind::Share {
        if let [letter, b'$'] = t.as_bytes() {
            if letter.is_ascii_alphabetic() {
                return DRIVE_SHARE_KEY.to_string();
            }
        }
    }
    t.to_lowercase()
}

/// Index of a service in [`Catalog::services`].
pub type ServiceId = u16;

/// One system service.
#[derive(Clone, Debug)]
pub struct Service {
    pub name: String,
    pub system: Option<String>,
    pub note: Option<String>,
    pub origin: Origin,
    pub source: SourcePos,
}

/// One "application protocol / protocol / port" row.
#[derive(Clone, Debug)]
pub struct Row {
    pub service: ServiceId,
    pub app: String,
    pub transport: Transport,
    pub spec: PortSpec,
    pub note: Option<String>,
    /// Whether traffic on the port alone makes the service a candidate (the default). A row with
    /// `candidate = false` documents a port the service is reached on, but only evidence (a pipe, an
    /// interface bound) names the service: it is in no port label.
    pub candidate: bool,
    /// The edition of the article the row comes from: the service's, unless the row says
    /// otherwise (a later edition's port of an article service, such as kpasswd on TCP 464).
    pub origin: Origin,
    pub source: SourcePos,
}

/// Index of a label in [`Catalog::labels`].
pub type LabelId = u16;

/// The application protocols and candidate services behind one (transport, port), one IP protocol, or
/// the dynamic RPC range: what classification attaches to a flow.
#[derive(Clone, Debug)]
pub struct Label {
    /// The application protocol name shown for the flow: the group names joined with " | " when several
    /// application protocols share the port (TCP 2869: SSDP event notification | UPNP).
    pub name: String,
    pub transport: Transport,
    pub spec: PortSpec,
    /// Application protocols on this port, each with its candidate services, in catalog order.
    pub groups: Vec<LabelGroup>,
    /// Every candidate service, deduplicated, in catalog order.
    pub services: Vec<ServiceId>,
    /// For labels of a DCE/RPC interface: its index in [`Catalog::interfaces`] (spec is `Dynamic`).
    pub interface: Option<u16>,
}

#[derive(Clone, Debug)]
pub struct LabelGroup {
    pub app: String,
    pub services: Vec<ServiceId>,
}

impl Label {
    /// True when more than one service could own this traffic.
    pub fn is_shared(&self) -> bool {
        self.services.len() > 1
    }
}

/// An error in a catalog file: where and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    #[error("{file}:{line}: {message}")]
    Invalid {
        file: String,
        line: usize,
        message: String,
    },
    #[error("{file}: cannot read catalog: {message}")]
    Unreadable { file: String, message: String },
}

/// The application protocol name of flows on a dynamic RPC port seen after the same client spoke to the
/// same server's endpoint mapper.
pub const RPC_DYNAMIC_APP: &str = "RPC dynamic (unconfirmed)";
/// The application protocol name of FTP data connections announced on the control connection.
pub const FTP_DATA_APP: &str = "FTP data";
/// The application protocol name of DCE/RPC flows whose interface is not in the catalog, or was not
/// seen (the bind came before the capture).
pub const RPC_UNKNOWN_INTERFACE_APP: &str = "RPC (interface unknown)";

/// The loaded, merged and indexed catalog.
#[derive(Clone, Debug)]
pub struct Catalog {
    pub services: Vec<Service>,
    pub rows: Vec<Row>,
    /// Dynamic RPC port ranges, inclusive.
    pub dynamic_ranges: Vec<(u16, u16)>,
    /// Where the dynamic ranges were last set.
    pub dynamic_source: SourcePos,
    pub labels: Vec<Label>,
    pub interfaces: Vec<Interface>,
    /// Pipes, shares and verified protocols, with the services they show are used.
    pub names: Vec<Name>,
    /// (kind, [`name_key`]) → index in `names`.
    name_index: FxHashMap<(NameKind, String), NameId>,
    /// (interface, is UDP) → label.
    interface_labels: FxHashMap<(Uuid, bool), LabelId>,
    rpc_unknown: [Option<LabelId>; 2],
    ftp_data: Option<LabelId>,
    tcp: Vec<Option<LabelId>>,
    udp: Vec<Option<LabelId>>,
    ip: Vec<Option<LabelId>>,
    dynamic_port: Vec<bool>,
    rpc_dynamic: Option<LabelId>,
}

pub use load::limits;

/// "tcp 445", "udp 53", "ip 47", "tcp dynamic".
pub fn describe(transport: Transport, spec: PortSpec) -> String {
    match spec {
        PortSpec::Port(p) => format!("{transport} {p}"),
        PortSpec::IpProtocol(n) => format!("ip {n}"),
        PortSpec::Dynamic => format!("{transport} dynamic"),
    }
}

// ---- building --------------------------------------------------------------------------------------

impl Catalog {
    /// The embedded default catalog.
    pub fn builtin() -> Catalog {
        Catalog::from_sources(&Catalog::default_sources())
            .expect("the embedded catalog is valid (checked by tests)")
    }

    /// The embedded catalog files, as (name, text).
    pub fn default_sources() -> Vec<(String, String)> {
        vec![
            (
                DEFAULT_CATALOG_NAME.to_string(),
                DEFAULT_CATALOG.to_string(),
            ),
            (
                DEFAULT_INTERFACES_NAME.to_string(),
                DEFAULT_INTERFACES.to_string(),
            ),
            (DEFAULT_NAMES_NAME.to_string(), DEFAULT_NAMES.to_string()),
        ]
    }

    /// Rows matching a filter, in catalog order.
    pub fn query<'a>(&'a self, filter: &'a RowFilter) -> impl Iterator<Item = &'a Row> + 'a {
        self.rows.iter().filter(move |r| filter.matches(self, r))
    }
}

/// Filters for `svcscope catalog`.
#[derive(Clone, Debug, Default)]
pub struct RowFilter {
    pub port: Option<u16>,
    pub transport: Option<Transport>,
    /// Case-insensitive substring of the friendly or system service name.
    pub service: Option<String>,
    /// Case-insensitive substring of the application protocol.
    pub protocol: Option<String>,
}

impl RowFilter {
    pub fn matches(&self, catalog: &Catalog, row: &Row) -> bool {
        if let Some(t) = self.transport {
            if row.transport != t {
                return false;
            }
        }
        if let Some(port) = self.port {
            let hit = match row.spec {
                PortSpec::Port(p) => p == port,
                PortSpec::Dynamic => catalog.is_dynamic_port(port),
                // `--port 47` also finds GRE: users look protocols up by number too.
                PortSpec::IpProtocol(n) => u16::from(n) == port,
            };
            if !hit {
                return false;
            }
        }
        if let Some(text) = &self.service {
            let s = catalog.service(row.service);
            let needle = text.to_lowercase();
            let in_system = s
                .system
                .as_ref()
                .is_some_and(|x| x.to_lowercase().contains(&needle));
            if !s.name.to_lowercase().contains(&needle) && !in_system {
                return false;
            }
        }
        if let Some(text) = &self.protocol {
            if !row.app.to_lowercase().contains(&text.to_lowercase()) {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn with_user(text: &str) -> Result<Catalog, CatalogError> {
        let mut sources = Catalog::default_sources();
        sources.push(("site.toml".to_string(), text.to_string()));
        Catalog::from_sources(&sources)
    }

    pub(super) fn names(c: &Catalog, id: LabelId) -> Vec<&str> {
        c.label(id)
            .services
            .iter()
            .map(|&s| c.service(s).name.as_str())
            .collect()
    }

    #[test]
    fn filters() {
        let c = Catalog::builtin();
        let f = RowFilter {
            port: Some(445),
            ..Default::default()
        };
        assert!(c.query(&f).all(|r| r.spec == PortSpec::Port(445)));
        // The article's seven, and six services beyond it reached through named pipes.
        assert_eq!(c.query(&f).count(), 13);
        assert_eq!(c.query(&f).filter(|r| r.candidate).count(), 7);
        let f = RowFilter {
            service: Some("lsass".into()),
            ..Default::default()
        };
        assert_eq!(
            c.query(&f).count(),
            11,
            "the article's ten and ADWS of a later edition"
        );
        let f = RowFilter {
            protocol: Some("radius".into()),
            transport: Some(Transport::Udp),
            ..Default::default()
        };
        assert_eq!(c.query(&f).count(), 4);
        let f = RowFilter {
            transport: Some(Transport::Ip),
            ..Default::default()
        };
        assert_eq!(c.query(&f).count(), 3);
        let f = RowFilter {
            port: Some(50000),
            ..Default::default()
        };
        assert_eq!(
            c.query(&f).count(),
            20,
            "every random-port row matches a port in the dynamic range"
        );
    }

    #[test]
    fn name_keys_are_lowercase_bare_names() {
        for (text, key) in [
            ("\\PIPE\\LsaRpc", "lsarpc"),
            ("\\pipe\\lsarpc", "lsarpc"),
            ("PIPE\\srvsvc", "srvsvc"),
            ("/pipe/spoolss", "spoolss"),
            ("\\netlogon", "netlogon"),
            ("lsarpc", "lsarpc"),
            ("lsarpc\0", "lsarpc"),
            ("\\PIPE\\", ""),
            ("\\PIPE\\\\samr", "samr"),
            ("pipe", "pipe"),
            ("\\PIPE\\InitShutdown", "initshutdown"),
            // Not a char boundary at byte 5: no panic, no prefix removed.
            ("pipe\u{e9}x", "pipe\u{e9}x"),
        ] {
            assert_eq!(name_key(NameKind::Pipe, text), key, "pipe {text:?}");
        }
        for (text, key) in [
            ("\\\\DC1\\SYSVOL", "sysvol"),
            ("\\\\dc1.example.com\\SysVol\\", "sysvol"),
            ("sysvol", "sysvol"),
            ("//fs1/Public", "public"),
            ("IPC$", "ipc$"),
            ("\\\\fs1\\ADMIN$", "admin$"),
            // Every one-letter drive share is one key that no share name can be.
            ("C$", DRIVE_SHARE_KEY),
            ("\\\\fs1\\d$", DRIVE_SHARE_KEY),
            ("z$", DRIVE_SHARE_KEY),
            ("CD$", "cd$"),
            ("1$", "1$"),
            ("\u{e9}$", "\u{e9}$"),
            ("print$\0\0", "print$"),
        ] {
            assert_eq!(name_key(NameKind::Share, text), key, "share {text:?}");
        }
        assert_eq!(name_key(NameKind::Protocol, "SMB"), "smb");
        assert_eq!(name_key(NameKind::Protocol, "DFS-Referral"), "dfs-referral");
        // A drive-share-like protocol or pipe is not folded.
        assert_eq!(name_key(NameKind::Pipe, "C$"), "c$");
        for (text, key) in [
            ("cifs/fs01.corp.example.com", "cifs"),
            ("HOST/admin-pc", "host"),
            ("MSSQLSvc/sql01.corp.example.com:1433", "mssqlsvc"),
            ("ldap/dc01.corp.example.com/corp.example.com", "ldap"),
            ("krbtgt", "krbtgt"),
            ("Administrator", "administrator"),
            ("/x", ""),
        ] {
            assert_eq!(name_key(NameKind::Principal, text), key, "spn {text:?}");
        }
    }
}

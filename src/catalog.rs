//! The service catalog: Windows server services and the ports and protocols each one needs.
//!
//! The default catalog (`catalog/windows-server.toml`, taken from Microsoft's knowledge-base article on
//! the ports of the Windows server system) is embedded in the binary. Users add to it or override it with
//! their own files of the same format; every file is validated strictly and a bad one is an error with
//! `file:line`, never a silently skipped row.
//!
//! Classification looks up every flow, so the catalog compiles its rows into [`Label`]s — one per
//! distinct (transport, port) or IP protocol — and flat tables indexed by port or protocol number, so
//! that a lookup is one array access.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use toml::Spanned;

/// The embedded default catalog.
pub const DEFAULT_CATALOG: &str = include_str!("../catalog/windows-server.toml");
/// The name under which the default catalog appears in errors and row sources.
pub const DEFAULT_CATALOG_NAME: &str = "<built-in catalog/windows-server.toml>";
/// The embedded DCE/RPC interface list.
pub const DEFAULT_INTERFACES: &str = include_str!("../catalog/rpc-interfaces.toml");
pub const DEFAULT_INTERFACES_NAME: &str = "<built-in catalog/rpc-interfaces.toml>";

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

/// Whether a service is in the article's text or added from a later edition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    Article,
    LaterEdition,
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

// ---- file format -------------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    dynamic_rpc: Option<Spanned<RawDynamic>>,
    #[serde(default)]
    service: Vec<Spanned<RawService>>,
    #[serde(default)]
    interface: Vec<Spanned<RawInterface>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInterface {
    uuid: Spanned<String>,
    name: Spanned<String>,
    protocol: Option<Spanned<String>>,
    title: Option<Spanned<String>>,
    #[serde(default)]
    services: Vec<Spanned<String>>,
}

/// An interface as parsed, before its services are resolved against the merged catalog.
struct ParsedInterface {
    uuid: Uuid,
    name: String,
    protocol: String,
    title: Option<String>,
    services: Vec<(String, usize)>,
    source: SourcePos,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDynamic {
    ranges: Vec<Spanned<Vec<i64>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    name: Spanned<String>,
    system: Option<Spanned<String>>,
    note: Option<Spanned<String>>,
    origin: Option<Spanned<String>>,
    #[serde(default)]
    extend: bool,
    #[serde(default)]
    ports: Vec<Spanned<RawRow>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRow {
    app: Spanned<String>,
    tcp: Option<RawPort>,
    udp: Option<RawPort>,
    ip: Option<i64>,
    note: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawPort {
    Number(i64),
    Word(String),
}

/// A service as parsed from one file, before merging.
struct ParsedService {
    service: Service,
    extend: bool,
    rows: Vec<(String, Transport, PortSpec, Option<String>, SourcePos)>,
}

struct ParsedFile {
    dynamic: Option<(Vec<(u16, u16)>, SourcePos)>,
    services: Vec<ParsedService>,
    interfaces: Vec<ParsedInterface>,
}

/// The most a catalog file may hold. A catalog is configuration, not data: these are far above any
/// real one (the built-in catalog is 41 KB: 62 services, 171 rows and 74 interfaces) and keep a
/// hostile file from costing more than a few hundred MiB.
pub mod limits {
    /// Bytes in one catalog file. The TOML parser holds a file as a tree of about a hundred times its
    /// size at worst (measured: 4 MiB of one-key tables peak at 405 MiB of memory, 16 MiB at 1.6 GiB).
    pub const FILE_BYTES: usize = 4 << 20;
    /// Characters in a service name, system name, application protocol, interface name or protocol,
    /// and in a service name an interface lists.
    pub const NAME_CHARS: usize = 256;
    /// Characters in a note or an interface title.
    pub const NOTE_CHARS: usize = 1024;
    /// Services in one file.
    pub const SERVICES: usize = 10_000;
    /// Rows (ports) in one file, over all its services.
    pub const ROWS: usize = 100_000;
    /// Interfaces in one file.
    pub const INTERFACES: usize = 10_000;
    /// Services one interface lists.
    pub const INTERFACE_SERVICES: usize = 1_000;
    /// Dynamic RPC port ranges.
    pub const DYNAMIC_RANGES: usize = 64;
}

/// Checks one text field of a catalog: at most `max` characters (found without counting past `max`)
/// and no control character (C0, DEL, C1): names end up in terminal tables, CSV cells and firewall
/// scripts, where a line break or an escape sequence would be read as something else.
fn check_text(what: &str, text: &str, max: usize) -> Result<(), String> {
    if text.chars().nth(max).is_some() {
        return Err(format!(
            "{what} is longer than {max} characters ({} bytes)",
            text.len()
        ));
    }
    if let Some(c) = text.chars().find(|c| c.is_control()) {
        return Err(format!(
            "{what} {text:?} contains a control character (U+{:04X})",
            c as u32
        ));
    }
    Ok(())
}

/// Text from a catalog file quoted in an error message, cut to a readable length.
fn shown(text: &str) -> String {
    const MAX: usize = 64;
    match text.char_indices().nth(MAX) {
        None => format!("{text:?}"),
        Some((cut, _)) => format!("{:?}…", &text[..cut]),
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    Lines::new(text).line(offset)
}

/// Line numbers of byte offsets, by binary search over the line starts (a catalog can have tens of
/// thousands of rows; counting newlines for each would be quadratic).
struct Lines(Vec<usize>);

impl Lines {
    fn new(text: &str) -> Lines {
        Lines(
            text.bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'\n')
                .map(|(i, _)| i)
                .collect(),
        )
    }

    fn line(&self, offset: usize) -> usize {
        self.0.partition_point(|&nl| nl < offset) + 1
    }
}

fn parse_file(file: &str, text: &str, default_origin: Origin) -> Result<ParsedFile, CatalogError> {
    if text.len() > limits::FILE_BYTES {
        return Err(too_large(file, Some(text.len() as u64)));
    }
    let lines = Lines::new(text);
    let line_of = |_: &str, offset: usize| lines.line(offset);
    let invalid = |offset: usize, message: String| CatalogError::Invalid {
        file: file.to_string(),
        line: line_of(text, offset),
        message,
    };
    let raw: RawFile = toml::from_str(text).map_err(|e| {
        let offset = e.span().map(|s| s.start).unwrap_or(0);
        invalid(offset, e.message().trim().replace('\n', "; "))
    })?;
    // A text field: its line, its bound, no control characters.
    let field = |what: &str, t: &Spanned<String>, max: usize| {
        check_text(what, t.get_ref(), max).map_err(|m| invalid(t.span().start, m))
    };

    let dynamic = match raw.dynamic_rpc {
        None => None,
        Some(d) => {
            let pos = SourcePos {
                file: file.to_string(),
                line: line_of(text, d.span().start),
            };
            let mut ranges = Vec::new();
            for (n, r) in d.get_ref().ranges.iter().enumerate() {
                let at = r.span().start;
                if n == limits::DYNAMIC_RANGES {
                    return Err(invalid(
                        at,
                        format!("more than {} dynamic ranges", limits::DYNAMIC_RANGES),
                    ));
                }
                let [first, last] = r.get_ref()[..] else {
                    return Err(invalid(
                        at,
                        "a dynamic range must be [first, last]".to_string(),
                    ));
                };
                let first = port_number(first).map_err(|m| invalid(at, m))?;
                let last = port_number(last).map_err(|m| invalid(at, m))?;
                if first > last {
                    return Err(invalid(
                        at,
                        format!("dynamic range [{first}, {last}] ends before it starts"),
                    ));
                }
                ranges.push((first, last));
            }
            if ranges.is_empty() {
                return Err(invalid(
                    d.span().start,
                    "dynamic_rpc.ranges is empty; give at least one [first, last] range"
                        .to_string(),
                ));
            }
            Some((ranges, pos))
        }
    };

    let mut services = Vec::new();
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    let mut row_count = 0usize;
    for (n, s) in raw.service.into_iter().enumerate() {
        if n == limits::SERVICES {
            return Err(invalid(
                s.span().start,
                format!("more than {} services in one file", limits::SERVICES),
            ));
        }
        let s_line = line_of(text, s.span().start);
        let s = s.into_inner();
        field("service name", &s.name, limits::NAME_CHARS)?;
        if let Some(system) = &s.system {
            field("system name", system, limits::NAME_CHARS)?;
        }
        if let Some(note) = &s.note {
            field("note", note, limits::NOTE_CHARS)?;
        }
        let name = s.name.get_ref().trim().to_string();
        let name_at = s.name.span().start;
        if name.is_empty() {
            return Err(invalid(name_at, "service name is empty".to_string()));
        }
        if let Some(prev) = names.insert(name.to_lowercase(), line_of(text, name_at)) {
            return Err(invalid(
                name_at,
                format!("service {name:?} is defined twice in this file (first at line {prev})"),
            ));
        }
        let origin = match &s.origin {
            None => default_origin,
            Some(o) => match o.get_ref().as_str() {
                "article" => Origin::Article,
                "later-edition" => Origin::LaterEdition,
                other => {
                    return Err(invalid(
                        o.span().start,
                        format!(
                            "origin {} is not one of \"article\", \"later-edition\"",
                            shown(other)
                        ),
                    ))
                }
            },
        };
        if s.ports.is_empty() && !s.extend {
            return Err(invalid(name_at, format!("service {name:?} has no ports")));
        }
        let mut rows = Vec::new();
        let mut seen: BTreeMap<(Transport, PortSpec), (String, usize)> = BTreeMap::new();
        for r in s.ports {
            let at = r.span().start;
            row_count += 1;
            if row_count > limits::ROWS {
                return Err(invalid(
                    at,
                    format!("more than {} rows in one file", limits::ROWS),
                ));
            }
            let line = line_of(text, at);
            let r = r.into_inner();
            field("application protocol (app)", &r.app, limits::NAME_CHARS)?;
            if let Some(note) = &r.note {
                field("note", note, limits::NOTE_CHARS)?;
            }
            let app = r.app.get_ref().trim().to_string();
            if app.is_empty() {
                return Err(invalid(
                    at,
                    "application protocol (app) is empty".to_string(),
                ));
            }
            let (transport, spec) = match (r.tcp, r.udp, r.ip) {
                (Some(p), None, None) => (
                    Transport::Tcp,
                    row_port(p, true).map_err(|m| invalid(at, m))?,
                ),
                (None, Some(p), None) => (
                    Transport::Udp,
                    row_port(p, false).map_err(|m| invalid(at, m))?,
                ),
                (None, None, Some(n)) => {
                    let n = u8::try_from(n)
                        .ok()
                        .filter(|&n| n != 6 && n != 17)
                        .ok_or_else(|| {
                            invalid(
                                at,
                                format!(
                                    "ip = {n} is not a usable IP protocol number (0-255, not TCP 6 or UDP 17: use tcp = or udp =)"
                                ),
                            )
                        })?;
                    (Transport::Ip, PortSpec::IpProtocol(n))
                }
                _ => {
                    return Err(invalid(
                        at,
                        format!(
                        "row {app:?} must have exactly one of tcp = PORT, udp = PORT, ip = NUMBER"
                    ),
                    ))
                }
            };
            if let Some((other, other_line)) = seen.get(&(transport, spec)) {
                let what = describe(transport, spec);
                let message = if *other == app {
                    format!("duplicate row: {app:?} {what} already at line {other_line}")
                } else {
                    format!(
                        "contradictory rows: {what} is {other:?} at line {other_line} and {app:?} here"
                    )
                };
                return Err(invalid(at, message));
            }
            seen.insert((transport, spec), (app.clone(), line));
            let pos = SourcePos {
                file: file.to_string(),
                line,
            };
            rows.push((app, transport, spec, r.note.map(Spanned::into_inner), pos));
        }
        services.push(ParsedService {
            service: Service {
                name,
                system: s
                    .system
                    .map(|x| x.get_ref().trim().to_string())
                    .filter(|x| !x.is_empty()),
                note: s.note.map(Spanned::into_inner),
                origin,
                source: SourcePos {
                    file: file.to_string(),
                    line: s_line,
                },
            },
            extend: s.extend,
            rows,
        });
    }
    let mut interfaces = Vec::new();
    let mut seen_uuids: BTreeMap<Uuid, usize> = BTreeMap::new();
    for (n, i) in raw.interface.into_iter().enumerate() {
        if n == limits::INTERFACES {
            return Err(invalid(
                i.span().start,
                format!("more than {} interfaces in one file", limits::INTERFACES),
            ));
        }
        let line = line_of(text, i.span().start);
        let i = i.into_inner();
        let at = i.uuid.span().start;
        let uuid = Uuid::parse(i.uuid.get_ref().trim()).ok_or_else(|| {
            invalid(
                at,
                format!(
                    "{} is not a UUID (12345678-1234-abcd-ef00-01234567cffb)",
                    shown(i.uuid.get_ref())
                ),
            )
        })?;
        field("interface name", &i.name, limits::NAME_CHARS)?;
        if let Some(protocol) = &i.protocol {
            field("interface protocol", protocol, limits::NAME_CHARS)?;
        }
        if let Some(title) = &i.title {
            field("interface title", title, limits::NOTE_CHARS)?;
        }
        if let Some(extra) = i.services.get(limits::INTERFACE_SERVICES) {
            return Err(invalid(
                extra.span().start,
                format!(
                    "interface {uuid} lists more than {} services",
                    limits::INTERFACE_SERVICES
                ),
            ));
        }
        for s in &i.services {
            field("service name", s, limits::NAME_CHARS)?;
        }
        if let Some(prev) = seen_uuids.insert(uuid, line) {
            return Err(invalid(
                at,
                format!("interface {uuid} is defined twice in this file (first at line {prev})"),
            ));
        }
        if i.name.get_ref().trim().is_empty() {
            return Err(invalid(at, "interface name is empty".to_string()));
        }
        interfaces.push(ParsedInterface {
            uuid,
            name: i.name.get_ref().trim().to_string(),
            protocol: i
                .protocol
                .map(|p| p.get_ref().trim().to_string())
                .unwrap_or_default(),
            title: i.title.map(Spanned::into_inner),
            services: i
                .services
                .into_iter()
                .map(|s| (s.get_ref().clone(), line_of(text, s.span().start)))
                .collect(),
            source: SourcePos {
                file: file.to_string(),
                line,
            },
        });
    }
    Ok(ParsedFile {
        dynamic,
        services,
        interfaces,
    })
}

fn port_number(n: i64) -> Result<u16, String> {
    u16::try_from(n)
        .ok()
        .filter(|&p| p != 0)
        .ok_or_else(|| format!("port {n} is out of range (1-65535)"))
}

fn row_port(p: RawPort, tcp: bool) -> Result<PortSpec, String> {
    match p {
        RawPort::Number(n) => port_number(n).map(PortSpec::Port),
        RawPort::Word(w) if w == "dynamic" && tcp => Ok(PortSpec::Dynamic),
        RawPort::Word(w) if w == "dynamic" => {
            Err("\"dynamic\" (the RPC range) is only valid with tcp".to_string())
        }
        RawPort::Word(w) => Err(format!(
            "port {} is neither a number (1-65535) nor \"dynamic\"",
            shown(&w)
        )),
    }
}

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
        ]
    }

    /// The default catalog merged with the user's files, in order.
    pub fn load(files: &[PathBuf]) -> Result<Catalog, CatalogError> {
        let mut sources = Catalog::default_sources();
        for f in files {
            sources.push((f.display().to_string(), read_catalog(f)?));
        }
        Catalog::from_sources(&sources)
    }

    /// Builds a catalog from (name, text) sources; the first is the base, later ones add or override.
    ///
    /// Every step is linear in the rows, services and interfaces (looked up by name or UUID in hash
    /// maps), so that a catalog at the [`limits`] loads in well under a second.
    pub fn from_sources(sources: &[(String, String)]) -> Result<Catalog, CatalogError> {
        let mut services: Vec<Service> = Vec::new();
        let mut service_rows: Vec<Vec<Row>> = Vec::new();
        // Service index by name, ASCII case folded (names match case-insensitively).
        let mut by_name: FxHashMap<String, usize> = FxHashMap::default();
        let mut dynamic: Option<(Vec<(u16, u16)>, SourcePos)> = None;
        // Interfaces in definition order; a later definition of a UUID replaces the earlier one and
        // takes its place at the end.
        let mut parsed_interfaces: Vec<Option<ParsedInterface>> = Vec::new();
        let mut interface_at: FxHashMap<Uuid, usize> = FxHashMap::default();
        for (i, (name, text)) in sources.iter().enumerate() {
            let builtin = name.starts_with("<built-in");
            let origin = if i == 0 || builtin {
                Origin::Article
            } else {
                Origin::User
            };
            let parsed = parse_file(name, text, origin)?;
            if parsed.dynamic.is_some() {
                dynamic = parsed.dynamic;
            }
            for pi in parsed.interfaces {
                // A later file's definition of the same interface replaces the earlier one.
                if let Some(old) = interface_at.insert(pi.uuid, parsed_interfaces.len()) {
                    parsed_interfaces[old] = None;
                }
                parsed_interfaces.push(Some(pi));
            }
            for p in parsed.services {
                let existing = by_name.get(&p.service.name.to_ascii_lowercase()).copied();
                let id = match existing {
                    Some(id) => {
                        if p.extend {
                            if p.service.system.is_some() {
                                services[id].system = p.service.system.clone();
                            }
                        } else {
                            services[id] = p.service.clone();
                            service_rows[id].clear();
                        }
                        id
                    }
                    None => {
                        if p.extend {
                            return Err(CatalogError::Invalid {
                                file: p.service.source.file.clone(),
                                line: p.service.source.line,
                                message: format!(
                                    "extend = true, but no earlier catalog has a service named {:?}",
                                    p.service.name
                                ),
                            });
                        }
                        by_name.insert(p.service.name.to_ascii_lowercase(), services.len());
                        services.push(p.service.clone());
                        service_rows.push(Vec::new());
                        services.len() - 1
                    }
                };
                let sid = ServiceId::try_from(id).map_err(|_| CatalogError::Invalid {
                    file: p.service.source.file.clone(),
                    line: p.service.source.line,
                    message: "too many services (at most 65535)".to_string(),
                })?;
                let rows = &mut service_rows[id];
                // An extension row for a port the service already has replaces it (rows within one
                // file are already unique). So a service has at most one row per port or protocol.
                if p.extend {
                    let new: std::collections::HashSet<(Transport, PortSpec)> =
                        p.rows.iter().map(|r| (r.1, r.2)).collect();
                    rows.retain(|r| !new.contains(&(r.transport, r.spec)));
                }
                for (app, transport, spec, note, source) in p.rows {
                    rows.push(Row {
                        service: sid,
                        app,
                        transport,
                        spec,
                        note,
                        source,
                    });
                }
            }
        }
        let Some((dynamic_ranges, dynamic_source)) = dynamic else {
            return Err(CatalogError::Invalid {
                file: sources[0].0.clone(),
                line: 1,
                message: "no [dynamic_rpc] ranges defined".to_string(),
            });
        };
        let rows: Vec<Row> = service_rows.into_iter().flatten().collect();
        // Labels are numbered with u16: one per distinct port or protocol, two per interface.
        let distinct: std::collections::BTreeSet<(Transport, PortSpec)> =
            rows.iter().map(|r| (r.transport, r.spec)).collect();
        let needed = distinct.len() + 2 * parsed_interfaces.len() + 8;
        if needed > usize::from(LabelId::MAX) {
            let (file, _) = sources.last().expect("at least one source");
            return Err(CatalogError::Invalid {
                file: file.clone(),
                line: 1,
                message: format!(
                    "too many distinct ports, protocols and interfaces ({needed}; at most {})",
                    LabelId::MAX
                ),
            });
        }
        let mut interfaces = Vec::new();
        for pi in parsed_interfaces.into_iter().flatten() {
            let mut ids = Vec::new();
            for (name, line) in &pi.services {
                let id = by_name
                    .get(&name.trim().to_ascii_lowercase())
                    .copied()
                    .ok_or_else(|| CatalogError::Invalid {
                        file: pi.source.file.clone(),
                        line: *line,
                        message: format!(
                            "interface {} names service {name:?}, which no catalog defines",
                            pi.uuid
                        ),
                    })?;
                ids.push(id as ServiceId);
            }
            interfaces.push(Interface {
                uuid: pi.uuid,
                name: pi.name,
                protocol: pi.protocol,
                title: pi.title,
                services: ids,
                source: pi.source,
            });
        }
        Ok(Catalog::index(
            services,
            rows,
            interfaces,
            dynamic_ranges,
            dynamic_source,
        ))
    }

    fn index(
        services: Vec<Service>,
        rows: Vec<Row>,
        interfaces: Vec<Interface>,
        dynamic_ranges: Vec<(u16, u16)>,
        dynamic_source: SourcePos,
    ) -> Catalog {
        // Group rows by (transport, spec) keeping first-seen order of application protocols. A
        // service has at most one row per (transport, spec), so it is in at most one group of a key,
        // once.
        let mut by_key: BTreeMap<(Transport, PortSpec), Vec<LabelGroup>> = BTreeMap::new();
        let mut group_of: FxHashMap<(Transport, PortSpec, &str), usize> = FxHashMap::default();
        for row in &rows {
            let groups = by_key.entry((row.transport, row.spec)).or_default();
            match group_of.entry((row.transport, row.spec, row.app.as_str())) {
                std::collections::hash_map::Entry::Occupied(g) => {
                    groups[*g.get()].services.push(row.service)
                }
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(groups.len());
                    groups.push(LabelGroup {
                        app: row.app.clone(),
                        services: vec![row.service],
                    })
                }
            }
        }
        let mut labels = Vec::new();
        let mut tcp = vec![None; 65536];
        let mut udp = vec![None; 65536];
        let mut ip = vec![None; 256];
        for ((transport, spec), groups) in by_key {
            if spec == PortSpec::Dynamic {
                continue;
            }
            let id = labels.len() as LabelId;
            labels.push(make_label(transport, spec, groups));
            match (transport, spec) {
                (Transport::Tcp, PortSpec::Port(p)) => tcp[p as usize] = Some(id),
                (Transport::Udp, PortSpec::Port(p)) => udp[p as usize] = Some(id),
                (Transport::Ip, PortSpec::IpProtocol(n)) => ip[n as usize] = Some(id),
                _ => unreachable!("rows are validated when parsed"),
            }
        }
        // Dynamic RPC: the services with a random-port row and an RPC endpoint-mapper (TCP 135) row.
        // (FTP Publishing's random ports are passive FTP data, announced on the FTP control channel.)
        let tcp_specs: std::collections::HashSet<(ServiceId, PortSpec)> = rows
            .iter()
            .filter(|r| r.transport == Transport::Tcp)
            .map(|r| (r.service, r.spec))
            .collect();
        let has = |sid: ServiceId, spec: PortSpec| tcp_specs.contains(&(sid, spec));
        let rpc_services: Vec<ServiceId> = (0..services.len() as ServiceId)
            .filter(|&s| has(s, PortSpec::Dynamic) && has(s, PortSpec::Port(135)))
            .collect();
        let rpc_dynamic = (!rpc_services.is_empty()).then(|| {
            labels.push(make_label(
                Transport::Tcp,
                PortSpec::Dynamic,
                vec![LabelGroup {
                    app: RPC_DYNAMIC_APP.to_string(),
                    services: rpc_services.clone(),
                }],
            ));
            (labels.len() - 1) as LabelId
        });
        // One label per interface and transport (connection-oriented over TCP, connectionless over UDP),
        // and one for interfaces the catalog does not list.
        let mut interface_labels = FxHashMap::default();
        let mut rpc_unknown = [None; 2];
        for (udp, transport) in [(false, Transport::Tcp), (true, Transport::Udp)] {
            for (i, iface) in interfaces.iter().enumerate() {
                let app = if iface.protocol.is_empty() {
                    format!("RPC {}", iface.name)
                } else {
                    format!("RPC {} ({})", iface.name, iface.protocol)
                };
                let mut label = make_label(
                    transport,
                    PortSpec::Dynamic,
                    vec![LabelGroup {
                        app,
                        services: iface.services.clone(),
                    }],
                );
                label.interface = Some(i as u16);
                labels.push(label);
                interface_labels.insert((iface.uuid, udp), (labels.len() - 1) as LabelId);
            }
            labels.push(make_label(
                transport,
                PortSpec::Dynamic,
                vec![LabelGroup {
                    app: RPC_UNKNOWN_INTERFACE_APP.to_string(),
                    services: rpc_services.clone(),
                }],
            ));
            rpc_unknown[usize::from(udp)] = Some((labels.len() - 1) as LabelId);
        }
        // FTP data on ports the control connection announces: the services with an FTP control row on
        // TCP 21 and random high ports (FTP Publishing Service).
        let ftp_services: Vec<ServiceId> = (0..services.len() as ServiceId)
            .filter(|&s| has(s, PortSpec::Dynamic) && has(s, PortSpec::Port(21)))
            .collect();
        let ftp_data = (!ftp_services.is_empty()).then(|| {
            labels.push(make_label(
                Transport::Tcp,
                PortSpec::Dynamic,
                vec![LabelGroup {
                    app: FTP_DATA_APP.to_string(),
                    services: ftp_services,
                }],
            ));
            (labels.len() - 1) as LabelId
        });
        let mut dynamic_port = vec![false; 65536];
        for &(first, last) in &dynamic_ranges {
            for p in first..=last {
                dynamic_port[p as usize] = true;
            }
        }
        Catalog {
            services,
            rows,
            dynamic_ranges,
            dynamic_source,
            labels,
            interfaces,
            interface_labels,
            rpc_unknown,
            ftp_data,
            tcp,
            udp,
            ip,
            dynamic_port,
            rpc_dynamic,
        }
    }

    /// The label of flows bound to a DCE/RPC interface (over UDP: connectionless); interfaces the
    /// catalog does not list share one label.
    pub fn interface_label(&self, uuid: Uuid, udp: bool) -> Option<LabelId> {
        self.interface_labels
            .get(&(uuid, udp))
            .copied()
            .or(self.rpc_unknown[usize::from(udp)])
    }

    /// The label of FTP data connections announced on the control connection.
    pub fn ftp_data_label(&self) -> Option<LabelId> {
        self.ftp_data
    }

    /// The catalog's entry for an interface, if it lists it.
    pub fn interface(&self, uuid: Uuid) -> Option<&Interface> {
        self.interface_labels
            .get(&(uuid, false))
            .and_then(|&l| self.labels[usize::from(l)].interface)
            .map(|i| &self.interfaces[usize::from(i)])
    }

    /// The label for a TCP or UDP port, if the catalog has one. O(1).
    #[inline]
    pub fn lookup_port(&self, transport: Transport, port: u16) -> Option<LabelId> {
        match transport {
            Transport::Tcp => self.tcp[port as usize],
            Transport::Udp => self.udp[port as usize],
            Transport::Ip => None,
        }
    }

    /// The label for an IP protocol number (GRE 47, ESP 50, AH 51). O(1).
    #[inline]
    pub fn lookup_ip_protocol(&self, protocol: u8) -> Option<LabelId> {
        self.ip[protocol as usize]
    }

    /// True when the TCP port lies in a dynamic RPC range.
    #[inline]
    pub fn is_dynamic_port(&self, port: u16) -> bool {
        self.dynamic_port[port as usize]
    }

    /// The label given to confirmed-by-context dynamic RPC flows.
    pub fn rpc_dynamic_label(&self) -> Option<LabelId> {
        self.rpc_dynamic
    }

    pub fn label(&self, id: LabelId) -> &Label {
        &self.labels[id as usize]
    }

    pub fn service(&self, id: ServiceId) -> &Service {
        &self.services[id as usize]
    }

    /// Rows matching a filter, in catalog order.
    pub fn query<'a>(&'a self, filter: &'a RowFilter) -> impl Iterator<Item = &'a Row> + 'a {
        self.rows.iter().filter(move |r| filter.matches(self, r))
    }
}

fn make_label(transport: Transport, spec: PortSpec, groups: Vec<LabelGroup>) -> Label {
    let name = groups
        .iter()
        .map(|g| g.app.as_str())
        .collect::<Vec<_>>()
        .join(" | ");
    let mut services: Vec<ServiceId> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for g in &groups {
        for &s in &g.services {
            if seen.insert(s) {
                services.push(s);
            }
        }
    }
    Label {
        name,
        transport,
        spec,
        groups,
        services,
        interface: None,
    }
}

fn too_large(file: &str, bytes: Option<u64>) -> CatalogError {
    CatalogError::Unreadable {
        file: file.to_string(),
        message: format!(
            "{}more than the {} MiB a catalog file may hold",
            bytes.map(|b| format!("{b} bytes, ")).unwrap_or_default(),
            limits::FILE_BYTES >> 20
        ),
    }
}

fn read_catalog(path: &Path) -> Result<String, CatalogError> {
    let unreadable = |message: String| CatalogError::Unreadable {
        file: path.display().to_string(),
        message,
    };
    if path.is_dir() {
        return Err(unreadable("is a directory, not a catalog file".to_string()));
    }
    let io_error = |e: std::io::Error| {
        unreadable(match e.kind() {
            std::io::ErrorKind::NotFound => "no such file".to_string(),
            std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
            _ => e.to_string(),
        })
    };
    // Read one byte past the limit, no more: `--catalog /dev/zero` or a huge file stops there.
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .map_err(io_error)?
        .take(limits::FILE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(io_error)?;
    if bytes.len() > limits::FILE_BYTES {
        let size = std::fs::metadata(path)
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len());
        return Err(too_large(&path.display().to_string(), size));
    }
    String::from_utf8(bytes).map_err(|e| CatalogError::Invalid {
        file: path.display().to_string(),
        line: line_of(
            &String::from_utf8_lossy(e.as_bytes()),
            e.utf8_error().valid_up_to(),
        ),
        message: "not valid UTF-8 text".to_string(),
    })
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

    fn with_user(text: &str) -> Result<Catalog, CatalogError> {
        let mut sources = Catalog::default_sources();
        sources.push(("site.toml".to_string(), text.to_string()));
        Catalog::from_sources(&sources)
    }

    fn names(c: &Catalog, id: LabelId) -> Vec<&str> {
        c.label(id)
            .services
            .iter()
            .map(|&s| c.service(s).name.as_str())
            .collect()
    }

    #[test]
    fn builtin_has_every_article_row_and_the_additions() {
        let c = Catalog::builtin();
        let article: Vec<_> = c
            .rows
            .iter()
            .filter(|r| c.service(r.service).origin == Origin::Article)
            .collect();
        assert_eq!(article.len(), 168);
        let sections = c
            .services
            .iter()
            .filter(|s| s.origin == Origin::Article)
            .count();
        assert_eq!(sections, 60);
        assert_eq!(c.rows.len(), 171);
        assert_eq!(c.dynamic_ranges, vec![(49152, 65535), (1025, 5000)]);
    }

    #[test]
    fn tcp_445_returns_every_service_that_shares_it() {
        let c = Catalog::builtin();
        let id = c.lookup_port(Transport::Tcp, 445).unwrap();
        let label = c.label(id);
        assert_eq!(label.name, "SMB");
        assert!(label.is_shared());
        let n = names(&c, id);
        for expected in [
            "Server",
            "Net Logon",
            "Distributed File System",
            "Fax Service",
            "Print Spooler",
            "License Logging",
            "Remote Procedure Call (RPC) Locator",
        ] {
            assert!(n.contains(&expected), "{expected} missing from {n:?}");
        }
    }

    #[test]
    fn port_shared_by_two_application_protocols_keeps_both_groups() {
        let c = Catalog::builtin();
        let label = c.label(c.lookup_port(Transport::Tcp, 2869).unwrap());
        let apps: Vec<_> = label.groups.iter().map(|g| g.app.as_str()).collect();
        assert_eq!(apps, ["SSDP event notification", "UPNP"]);
        assert_eq!(label.name, "SSDP event notification | UPNP");
    }

    #[test]
    fn ip_protocols_and_transport_separation() {
        let c = Catalog::builtin();
        for (n, app) in [
            (47, "GRE (IP protocol 47)"),
            (50, "IPSec ESP (IP protocol 50)"),
            (51, "IPSec AH (IP protocol 51)"),
        ] {
            let l = c.label(c.lookup_ip_protocol(n).unwrap());
            assert_eq!(l.name, app);
            assert_eq!(
                names(&c, c.lookup_ip_protocol(n).unwrap()),
                ["Routing and Remote Access"]
            );
        }
        assert!(c.lookup_ip_protocol(6).is_none());
        assert!(c.lookup_port(Transport::Udp, 445).is_none());
        assert!(c.lookup_port(Transport::Tcp, 137).is_none());
        assert_eq!(
            c.label(c.lookup_port(Transport::Udp, 137).unwrap()).name,
            "NetBIOS Name Resolution"
        );
    }

    #[test]
    fn corrections_are_applied_and_noted() {
        let c = Catalog::builtin();
        let isakmp = c.label(c.lookup_port(Transport::Udp, 500).unwrap());
        assert_eq!(isakmp.name, "IPSec ISAKMP");
        assert!(c.lookup_port(Transport::Tcp, 500).is_none());
        assert!(c.lookup_port(Transport::Tcp, 4500).is_none());
        let rtsp = c.rows.iter().find(|r| r.app == "RTSP").unwrap();
        assert_eq!(
            (rtsp.transport, rtsp.spec),
            (Transport::Tcp, PortSpec::Port(554))
        );
        assert!(rtsp.note.as_ref().unwrap().contains("cut off"));
        let quotd = c
            .rows
            .iter()
            .find(|r| r.transport == Transport::Udp && r.spec == PortSpec::Port(17))
            .unwrap();
        assert_eq!(quotd.app, "Quotd");
        assert!(quotd.note.as_ref().unwrap().contains("Quoted UDP 17"));
        let mom = c
            .services
            .iter()
            .find(|s| s.name == "Microsoft Operations Manager 2000")
            .unwrap();
        assert_eq!(mom.system.as_deref(), Some("OnePoint"));
        assert!(mom.note.as_ref().unwrap().contains("one point"));
        let uddi = c.services.iter().find(|s| s.name == "MSSQL$UDDI").unwrap();
        assert_eq!(uddi.system.as_deref(), Some("MSSQL$UDDI"));
        let w3 = c
            .services
            .iter()
            .find(|s| s.system.as_deref() == Some("W3SVC"))
            .unwrap();
        assert_eq!(w3.origin, Origin::LaterEdition);
        let ntp = c.label(c.lookup_port(Transport::Udp, 123).unwrap());
        assert_eq!(
            names(&c, c.lookup_port(Transport::Udp, 123).unwrap()),
            ["Windows Time"]
        );
        assert_eq!(ntp.name, "NTP");
    }

    #[test]
    fn dynamic_rpc_label_excludes_ftp_passive_ports() {
        let c = Catalog::builtin();
        let id = c.rpc_dynamic_label().unwrap();
        let n = names(&c, id);
        assert!(n.contains(&"Local Security Authority"));
        assert!(n.contains(&"Exchange Server"));
        assert!(n.contains(&"Certificate Services"));
        assert!(!n.contains(&"FTP Publishing Service"));
        assert_eq!(n.len(), 15);
        assert!(c.is_dynamic_port(49152) && c.is_dynamic_port(65535) && c.is_dynamic_port(1025));
        assert!(!c.is_dynamic_port(5001) && !c.is_dynamic_port(1024));
    }

    #[test]
    fn user_file_adds_a_new_service_and_port() {
        let c = with_user(
            "[[service]]\nname = \"SQL Server (ACCOUNTING)\"\nsystem = \"MSSQL$ACCOUNTING\"\nports = [ { app = \"SQL over TCP\", tcp = 14330 } ]\n",
        )
        .unwrap();
        let id = c.lookup_port(Transport::Tcp, 14330).unwrap();
        assert_eq!(names(&c, id), ["SQL Server (ACCOUNTING)"]);
        assert_eq!(c.service(c.label(id).services[0]).origin, Origin::User);
        // The default row on 1433 is untouched.
        assert_eq!(
            names(&c, c.lookup_port(Transport::Tcp, 1433).unwrap()),
            ["MSSQLSERVER", "MSSQL$UDDI"]
        );
    }

    #[test]
    fn user_file_overrides_or_extends_a_service() {
        let c = with_user("[[service]]\nname = \"mssqlserver\"\nports = [ { app = \"SQL over TCP\", tcp = 14330 } ]\n").unwrap();
        assert_eq!(
            names(&c, c.lookup_port(Transport::Tcp, 1433).unwrap()),
            ["MSSQL$UDDI"]
        );
        assert!(c.lookup_port(Transport::Tcp, 14330).is_some());
        assert!(
            c.lookup_port(Transport::Udp, 1434).is_some(),
            "UDDI still has 1434"
        );

        let c = with_user("[[service]]\nname = \"MSSQLSERVER\"\nextend = true\nports = [ { app = \"SQL over TCP\", tcp = 14330 } ]\n").unwrap();
        assert_eq!(
            names(&c, c.lookup_port(Transport::Tcp, 1433).unwrap()),
            ["MSSQLSERVER", "MSSQL$UDDI"]
        );
        assert_eq!(
            names(&c, c.lookup_port(Transport::Tcp, 14330).unwrap()),
            ["MSSQLSERVER"]
        );
    }

    #[test]
    fn user_file_changes_the_dynamic_range() {
        let c = with_user("[dynamic_rpc]\nranges = [[5000, 5100]]\n").unwrap();
        assert_eq!(c.dynamic_ranges, vec![(5000, 5100)]);
        assert!(c.is_dynamic_port(5050) && !c.is_dynamic_port(49152));
        assert_eq!(c.dynamic_source.file, "site.toml");
    }

    fn err(text: &str) -> String {
        with_user(text).unwrap_err().to_string()
    }

    #[test]
    fn broken_files_report_file_and_line() {
        assert_eq!(
            err("[[service]]\nname = \"X\"\nports = [\n  { app = \"A\", tcp = 70000 },\n]\n"),
            "site.toml:4: port 70000 is out of range (1-65535)"
        );
        assert_eq!(
            err("[[service]]\nname = \"X\"\nports = [\n  { app = \"A\", tcp = 1, udp = 2 },\n]\n"),
            "site.toml:4: row \"A\" must have exactly one of tcp = PORT, udp = PORT, ip = NUMBER"
        );
        assert!(
            err("[[service]]\nname = \"X\"\nports = [\n  { app = \"A\", tpc = 1 },\n]\n")
                .starts_with("site.toml:4: unknown field `tpc`")
        );
        assert!(
            err("[[service]]\nname = \"X\"\nports = [ { app = \"A\" tcp = 1 } ]\n")
                .starts_with("site.toml:3: ")
        );
        assert_eq!(
            err("[[service]]\nname = \"X\"\nports = [\n  { app = \"A\", tcp = 1 },\n  { app = \"A\", tcp = 1 },\n]\n"),
            "site.toml:5: duplicate row: \"A\" tcp 1 already at line 4"
        );
        assert_eq!(
            err("[[service]]\nname = \"X\"\nports = [\n  { app = \"A\", tcp = 1 },\n  { app = \"B\", tcp = 1 },\n]\n"),
            "site.toml:5: contradictory rows: tcp 1 is \"A\" at line 4 and \"B\" here"
        );
        assert_eq!(
            err("[[service]]\nname = \"X\"\nports = [ { app = \"A\", tcp = 1 } ]\n[[service]]\nname = \"x\"\nports = [ { app = \"A\", tcp = 2 } ]\n"),
            "site.toml:5: service \"x\" is defined twice in this file (first at line 2)"
        );
        assert_eq!(
            err("[[service]]\nname = \"X\"\nports = [ { app = \"A\", udp = \"dynamic\" } ]\n"),
            "site.toml:3: \"dynamic\" (the RPC range) is only valid with tcp"
        );
        assert_eq!(
            err("[dynamic_rpc]\nranges = [[6000, 5000]]\n"),
            "site.toml:2: dynamic range [6000, 5000] ends before it starts"
        );
        assert_eq!(
            err("[[service]]\nname = \"Nope\"\nextend = true\nports = [ { app = \"A\", tcp = 1 } ]\n"),
            "site.toml:1: extend = true, but no earlier catalog has a service named \"Nope\""
        );
        assert_eq!(
            err("[[service]]\nname = \"X\"\nports = [ { app = \"A\", ip = 6 } ]\n"),
            "site.toml:3: ip = 6 is not a usable IP protocol number (0-255, not TCP 6 or UDP 17: use tcp = or udp =)"
        );
    }

    #[test]
    fn rpc_interfaces_map_to_catalog_services() {
        let c = Catalog::builtin();
        assert!(
            c.interfaces.len() >= 60,
            "{} interfaces",
            c.interfaces.len()
        );
        let netlogon = Uuid::parse("12345678-1234-abcd-ef00-01234567cffb").unwrap();
        let l = c.label(c.interface_label(netlogon, false).unwrap());
        assert_eq!(l.name, "RPC netlogon (MS-NRPC)");
        assert_eq!(
            names(&c, c.interface_label(netlogon, false).unwrap()),
            ["Net Logon"]
        );
        let drsuapi = Uuid::parse("e3514235-4b06-11d1-ab04-00c04fc2dcd2").unwrap();
        assert_eq!(
            names(&c, c.interface_label(drsuapi, false).unwrap()),
            ["Local Security Authority"]
        );
        let even6 = Uuid::parse("f6beaff7-1e19-4fbb-9f8f-b89e2018337c").unwrap();
        assert_eq!(
            names(&c, c.interface_label(even6, true).unwrap()),
            ["Event Log"]
        );
        assert_eq!(
            c.label(c.interface_label(even6, true).unwrap()).transport,
            Transport::Udp
        );
        // An interface the catalog does not list still gets the RPC label, with every RPC candidate.
        let unknown = c.interface_label(Uuid([7; 16]), false).unwrap();
        assert_eq!(c.label(unknown).name, RPC_UNKNOWN_INTERFACE_APP);
        assert!(c.interface(Uuid([7; 16])).is_none());
    }

    #[test]
    fn interface_files_are_checked() {
        assert_eq!(
            err("[[interface]]\nuuid = \"not-a-uuid\"\nname = \"x\"\n"),
            "site.toml:2: \"not-a-uuid\" is not a UUID (12345678-1234-abcd-ef00-01234567cffb)"
        );
        assert_eq!(
            err("[[interface]]\nuuid = \"12345678-1234-abcd-ef00-01234567cffb\"\nname = \"x\"\nservices = [\n  \"Nope\",\n]\n"),
            "site.toml:5: interface 12345678-1234-abcd-ef00-01234567cffb names service \"Nope\", which no catalog defines"
        );
        // A user file may add an interface for a site's own service.
        let c = with_user("[[service]]\nname = \"Backup\"\nports = [ { app = \"RPC\", tcp = 135 } ]\n[[interface]]\nuuid = \"11111111-2222-3333-4444-555555555555\"\nname = \"backupd\"\nservices = [\"Backup\"]\n").unwrap();
        let id = c
            .interface_label(
                Uuid::parse("11111111-2222-3333-4444-555555555555").unwrap(),
                false,
            )
            .unwrap();
        assert_eq!(names(&c, id), ["Backup"]);
    }

    #[test]
    fn a_catalog_too_large_for_label_numbers_is_refused_quickly() {
        let mut text = String::from("[[service]]\nname = \"Big\"\nports = [\n");
        for p in 1..=33_000u32 {
            text.push_str(&format!(
                "  {{ app = \"T{p}\", tcp = {p} }},\n  {{ app = \"U{p}\", udp = {p} }},\n"
            ));
        }
        text.push_str("]\n");
        let start = std::time::Instant::now();
        let e = with_user(&text).unwrap_err().to_string();
        assert!(
            e.starts_with("site.toml:1: too many distinct ports, protocols and interfaces"),
            "{e}"
        );
        // Line numbers come from a table of line starts, not a count per row.
        assert!(start.elapsed() < std::time::Duration::from_secs(30));
    }

    /// Found by the catalog fuzzer: a name with a newline (a TOML multi-line string) made a two-line
    /// error message. Names are quoted with escapes, and a control character in one is an error.
    #[test]
    fn names_with_newlines_keep_errors_on_one_line() {
        let e = err("[[service]]\nname = \"\"\"a\nb\"\"\"\nports = []\n");
        assert_eq!(
            e,
            "site.toml:2: service name \"a\\nb\" contains a control character (U+000A)"
        );
        assert!(!e.contains('\n'));
    }

    /// Names reach terminal tables, CSV and firewall scripts: a control character (C0, DEL, C1) in
    /// any text field is refused, on the field's line.
    #[test]
    fn control_characters_are_refused_in_every_text_field() {
        let service = |field: &str| {
            format!("[[service]]\nname = \"X\"\n{field}\nports = [ {{ app = \"A\", tcp = 1 }} ]\n")
        };
        let row = |fields: &str| {
            format!("[[service]]\nname = \"X\"\nports = [\n  {{ tcp = 1, {fields} }},\n]\n")
        };
        let iface = |field: &str| {
            format!("[[interface]]\nuuid = \"11111111-2222-3333-4444-555555555555\"\nname = \"i\"\n{field}\n")
        };
        let cases = [
            (
                "[[service]]\nname = \"a\\rb\"\nports = [ { app = \"A\", tcp = 1 } ]\n".to_string(),
                "site.toml:2: service name \"a\\rb\" contains a control character (U+000D)",
            ),
            (
                service("system = \"s\\u001b[2J\""),
                "site.toml:3: system name \"s\\u{1b}[2J\" contains a control character (U+001B)",
            ),
            (
                service("note = \"tab\\there\""),
                "site.toml:3: note \"tab\\there\" contains a control character (U+0009)",
            ),
            (
                row("app = \"A\\nStart-Process calc.exe\""),
                "site.toml:4: application protocol (app) \"A\\nStart-Process calc.exe\" contains a control character (U+000A)",
            ),
            (
                row("app = \"A\", note = \"del\\u007f\""),
                "site.toml:4: note \"del\\u{7f}\" contains a control character (U+007F)",
            ),
            (
                row("app = \"c1\\u009b31m\""),
                "site.toml:4: application protocol (app) \"c1\\u{9b}31m\" contains a control character (U+009B)",
            ),
            (
                "[[interface]]\nuuid = \"11111111-2222-3333-4444-555555555555\"\nname = \"i\\n\"\n".to_string(),
                "site.toml:3: interface name \"i\\n\" contains a control character (U+000A)",
            ),
            (
                iface("protocol = \"MS-\\u0000\""),
                "site.toml:4: interface protocol \"MS-\\0\" contains a control character (U+0000)",
            ),
            (
                iface("title = \"t\\r\\n\""),
                "site.toml:4: interface title \"t\\r\\n\" contains a control character (U+000D)",
            ),
            (
                iface("services = [\"Net Logon\\n\"]"),
                "site.toml:4: service name \"Net Logon\\n\" contains a control character (U+000A)",
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(err(&text), expected, "{text}");
        }
        // Non-ASCII text is fine.
        assert!(with_user(&service("note = \"Kerberos’ ports, ÜÅ 日本 😀\"")).is_ok());
    }

    #[test]
    fn text_fields_counts_and_sizes_are_bounded() {
        let long = "n".repeat(limits::NAME_CHARS + 1);
        assert_eq!(
            err(&format!(
                "[[service]]\nname = \"{long}\"\nports = [ {{ app = \"A\", tcp = 1 }} ]\n"
            )),
            "site.toml:2: service name is longer than 256 characters (257 bytes)"
        );
        // Characters, not bytes: 256 of them in three bytes each are fine.
        let wide = "日".repeat(limits::NAME_CHARS);
        assert!(with_user(&format!(
            "[[service]]\nname = \"{wide}\"\nports = [ {{ app = \"A\", tcp = 1 }} ]\n"
        ))
        .is_ok());
        let note = "n".repeat(limits::NOTE_CHARS + 1);
        assert_eq!(
            err(&format!("[[service]]\nname = \"X\"\nports = [\n  {{ app = \"A\", tcp = 1, note = \"{note}\" }},\n]\n")),
            "site.toml:4: note is longer than 1024 characters (1025 bytes)"
        );
        assert_eq!(
            err(&format!("[[interface]]\nuuid = \"11111111-2222-3333-4444-555555555555\"\nname = \"{long}\"\n")),
            "site.toml:3: interface name is longer than 256 characters (257 bytes)"
        );
        // Errors quote at most 64 characters of what they did not understand.
        let e = err(&format!("[[service]]\nname = \"X\"\norigin = \"{long}\"\nports = [ {{ app = \"A\", tcp = 1 }} ]\n"));
        assert!(
            e.starts_with("site.toml:3: origin \"nnnn") && e.len() < 150,
            "{e}"
        );

        let mut many = String::new();
        for i in 0..=limits::SERVICES {
            many.push_str(&format!(
                "[[service]]\nname = \"S{i}\"\nports = [ {{ app = \"A\", tcp = 1 }} ]\n"
            ));
        }
        assert_eq!(
            err(&many),
            format!(
                "site.toml:{}: more than 10000 services in one file",
                3 * limits::SERVICES + 1
            )
        );
        let mut rows = String::from("[[service]]\nname = \"X\"\nports = [\n");
        for i in 0..=limits::ROWS {
            let (t, p) = if i < 65535 {
                ("tcp", i + 1)
            } else {
                ("udp", i - 65535 + 1)
            };
            rows.push_str(&format!("{{ app = \"A\", {t} = {p} }},\n"));
        }
        rows.push_str("]\n");
        assert_eq!(
            err(&rows),
            format!(
                "site.toml:{}: more than 100000 rows in one file",
                limits::ROWS + 4
            )
        );
        let mut ifaces = String::new();
        for i in 0..=limits::INTERFACES {
            ifaces.push_str(&format!(
                "[[interface]]\nuuid = \"{i:08x}-0000-0000-0000-000000000000\"\nname = \"i\"\n"
            ));
        }
        assert_eq!(
            err(&ifaces),
            format!(
                "site.toml:{}: more than 10000 interfaces in one file",
                3 * limits::INTERFACES + 1
            )
        );
        let refs = vec!["\"Net Logon\""; limits::INTERFACE_SERVICES + 1].join(", ");
        assert_eq!(
            err(&format!("[[interface]]\nuuid = \"11111111-2222-3333-4444-555555555555\"\nname = \"i\"\nservices = [{refs}]\n")),
            "site.toml:4: interface 11111111-2222-3333-4444-555555555555 lists more than 1000 services"
        );
        let ranges = vec!["[5000, 5001]"; limits::DYNAMIC_RANGES + 1].join(", ");
        assert_eq!(
            err(&format!("[dynamic_rpc]\nranges = [{ranges}]\n")),
            "site.toml:2: more than 64 dynamic ranges"
        );
        let big = format!("# {}\n", "x".repeat(limits::FILE_BYTES));
        assert_eq!(
            err(&big),
            format!("site.toml: cannot read catalog: {} bytes, more than the 4 MiB a catalog file may hold", big.len())
        );
    }

    /// Catalogs at the limits that made the old loader quadratic (each service and interface looked
    /// up by a scan, each extension row removed by a scan): 10,000 services sharing a port with as
    /// many application protocols, an extension of 100,000 rows, interfaces listing the last of
    /// 10,000 services 1,000 times. The release binary took 3.5 s, 30 s and minutes on them; the
    /// README's Security section has the measurements (speed is measured there, not here).
    #[test]
    fn catalogs_at_the_limits_load_in_linear_time() {
        let mut shared = String::new();
        for i in 0..limits::SERVICES {
            shared.push_str(&format!("[[service]]\nname = \"S{i}\"\nports = [ {{ app = \"A{i}\", tcp = 1 }}, {{ app = \"RPC\", tcp = 135 }}, {{ app = \"R\", tcp = \"dynamic\" }} ]\n"));
        }
        let mut extend = String::from(
            "[[service]]\nname = \"Kerberos Key Distribution Center\"\nextend = true\nports = [\n",
        );
        for i in 0..limits::ROWS {
            let (t, p) = if i < 65535 {
                ("tcp", i + 1)
            } else {
                ("udp", i - 65535 + 1)
            };
            extend.push_str(&format!("{{ app = \"a\", {t} = {p} }},\n"));
        }
        extend.push_str("]\n");
        let mut refs = String::new();
        for i in 0..limits::SERVICES {
            refs.push_str(&format!(
                "[[service]]\nname = \"S{i}\"\nports = [ {{ app = \"A\", tcp = 1 }} ]\n"
            ));
        }
        let list = vec!["\"S9999\""; limits::INTERFACE_SERVICES].join(",");
        for i in 0..200 {
            refs.push_str(&format!("[[interface]]\nuuid = \"{i:08x}-0000-0000-0000-000000000000\"\nname = \"x\"\nservices = [{list}]\n"));
        }
        let c = with_user(&shared).unwrap();
        let label = c.label(c.lookup_port(Transport::Tcp, 1).unwrap());
        assert_eq!(
            (label.groups.len(), label.services.len()),
            (limits::SERVICES, limits::SERVICES)
        );
        // 100,000 distinct ports and protocols are more than label numbers hold.
        assert!(err(&extend).contains("too many distinct ports, protocols and interfaces"));
        let c = with_user(&refs).unwrap();
        let s9999 = c.services.iter().position(|s| s.name == "S9999").unwrap();
        let iface = c.interfaces.iter().find(|i| i.name == "x").unwrap();
        assert_eq!(
            iface.services,
            vec![s9999 as ServiceId; limits::INTERFACE_SERVICES]
        );
    }

    #[test]
    fn filters() {
        let c = Catalog::builtin();
        let f = RowFilter {
            port: Some(445),
            ..Default::default()
        };
        assert!(c.query(&f).all(|r| r.spec == PortSpec::Port(445)));
        assert_eq!(c.query(&f).count(), 7);
        let f = RowFilter {
            service: Some("lsass".into()),
            ..Default::default()
        };
        assert_eq!(c.query(&f).count(), 10);
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
            16,
            "every random-port row matches a port in the dynamic range"
        );
    }
}

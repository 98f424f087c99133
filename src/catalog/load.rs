//! Loading the catalog: reading files (bounded), parsing TOML, validating every field with `file:line`
//! errors, and merging the built-in files with the user's.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use rustc_hash::FxHashMap;
use serde::Deserialize;
use toml::Spanned;

use super::*;

// ---- file format -------------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    dynamic_rpc: Option<Spanned<RawDynamic>>,
    #[serde(default)]
    service: Vec<Spanned<RawService>>,
    #[serde(default)]
    interface: Vec<Spanned<RawInterface>>,
    #[serde(default)]
    pipe: Vec<Spanned<RawName>>,
    #[serde(default)]
    share: Vec<Spanned<RawName>>,
    #[serde(default)]
    protocol: Vec<Spanned<RawName>>,
    #[serde(default)]
    spn: Vec<Spanned<RawName>>,
}

/// A `[[pipe]]`, `[[share]]`, `[[protocol]]` or `[[spn]]` entry.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawName {
    name: Spanned<String>,
    services: Vec<Spanned<String>>,
    reference: Spanned<String>,
    note: Option<Spanned<String>>,
}

/// A name as parsed, before its services are resolved against the merged catalog.
struct ParsedName {
    kind: NameKind,
    key: String,
    services: Vec<(String, usize)>,
    reference: String,
    note: Option<String>,
    source: SourcePos,
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
    candidate: Option<bool>,
    origin: Option<Spanned<String>>,
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
    rows: Vec<ParsedRow>,
}

struct ParsedRow {
    app: String,
    transport: Transport,
    spec: PortSpec,
    note: Option<String>,
    candidate: bool,
    origin: Origin,
    source: SourcePos,
}

struct ParsedFile {
    dynamic: Option<(Vec<(u16, u16)>, SourcePos)>,
    services: Vec<ParsedService>,
    interfaces: Vec<ParsedInterface>,
    names: Vec<ParsedName>,
}

/// The most a catalog file may hold. A catalog is configuration, not data: these are far above any
/// real one (the built-in files are 68 KB: 70 services, 193 rows, 86 interfaces, 49 pipes, shares,
/// service principal classes and protocols) and keep a hostile file from costing more than a few hundred MiB.
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
    /// Pipes, shares and protocols in one file, all kinds together.
    pub const NAMES: usize = 10_000;
    /// Services one pipe, share or protocol lists.
    pub const NAME_SERVICES: usize = 1_000;
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
        let parse_origin = |o: &Spanned<String>| match o.get_ref().as_str() {
            "article" => Ok(Origin::Article),
            "later-edition" => Ok(Origin::LaterEdition),
            "beyond-article" => Ok(Origin::BeyondArticle),
            other => Err(invalid(
                o.span().start,
                format!(
                    "origin {} is not one of \"article\", \"later-edition\", \"beyond-article\"",
                    shown(other)
                ),
            )),
        };
        let origin = match &s.origin {
            None => default_origin,
            Some(o) => parse_origin(o)?,
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
            rows.push(ParsedRow {
                app,
                transport,
                spec,
                note: r.note.map(Spanned::into_inner),
                candidate: r.candidate.unwrap_or(true),
                origin: match &r.origin {
                    Some(o) => parse_origin(o)?,
                    None => origin,
                },
                source: pos,
            });
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
    let names = parse_names(
        [
            (NameKind::Pipe, raw.pipe),
            (NameKind::Share, raw.share),
            (NameKind::Protocol, raw.protocol),
            (NameKind::Principal, raw.spn),
        ],
        &invalid,
        &|offset| lines.line(offset),
        file,
    )?;
    Ok(ParsedFile {
        dynamic,
        services,
        interfaces,
        names,
    })
}

/// Checks the `[[pipe]]`, `[[share]]` and `[[protocol]]` entries of one file: text fields bounded
/// and free of control characters, a non-empty key, protocols from [`PROTOCOL_NAMES`] and [`PROTOCOL_PREFIXES`], a
/// reference, bounded counts, and each (kind, key) at most once. Services are resolved later,
/// against the merged catalog.
fn parse_names(
    kinds: [(NameKind, Vec<Spanned<RawName>>); 4],
    invalid: &dyn Fn(usize, String) -> CatalogError,
    line_of: &dyn Fn(usize) -> usize,
    file: &str,
) -> Result<Vec<ParsedName>, CatalogError> {
    let field = |what: &str, t: &Spanned<String>, max: usize| {
        check_text(what, t.get_ref(), max).map_err(|m| invalid(t.span().start, m))
    };
    let mut names = Vec::new();
    let mut seen: FxHashMap<(NameKind, String), usize> = FxHashMap::default();
    for (kind, entries) in kinds {
        let what = kind.as_str();
        for n in entries {
            let line = line_of(n.span().start);
            if names.len() == limits::NAMES {
                return Err(invalid(
                    n.span().start,
                    format!(
                        "more than {} pipes, shares and protocols in one file",
                        limits::NAMES
                    ),
                ));
            }
            let n = n.into_inner();
            let at = n.name.span().start;
            field(&format!("{what} name"), &n.name, limits::NAME_CHARS)?;
            field("reference", &n.reference, limits::NOTE_CHARS)?;
            if let Some(note) = &n.note {
                field("note", note, limits::NOTE_CHARS)?;
            }
            let written = n.name.get_ref().trim();
            let key = name_key(kind, written);
            if key.is_empty() {
                return Err(invalid(
                    at,
                    format!("{what} name {} is empty", shown(written)),
                ));
            }
            if kind == NameKind::Protocol && !is_protocol_name(&key) {
                return Err(invalid(
                    at,
                    format!(
                        "protocol {} is not one svcscope verifies (one of {}, or {} and a name)",
                        shown(written),
                        PROTOCOL_NAMES
                            .iter()
                            .map(|p| format!("{p:?}"))
                            .collect::<Vec<_>>()
                            .join(", "),
                        PROTOCOL_PREFIXES
                            .iter()
                            .map(|p| format!("{p:?}"))
                            .collect::<Vec<_>>()
                            .join(" or ")
                    ),
                ));
            }
            if n.reference.get_ref().trim().is_empty() {
                return Err(invalid(
                    n.reference.span().start,
                    format!(
                        "{what} {} has an empty reference; say where the mapping is documented",
                        shown(written)
                    ),
                ));
            }
            if let Some(extra) = n.services.get(limits::NAME_SERVICES) {
                return Err(invalid(
                    extra.span().start,
                    format!(
                        "{what} {} lists more than {} services",
                        shown(written),
                        limits::NAME_SERVICES
                    ),
                ));
            }
            for s in &n.services {
                field("service name", s, limits::NAME_CHARS)?;
            }
            if let Some(prev) = seen.insert((kind, key.clone()), line) {
                let same = if key == written.to_lowercase() {
                    String::new()
                } else {
                    format!(" (key {key:?})")
                };
                return Err(invalid(
                    at,
                    format!(
                        "{what} {}{same} is defined twice in this file (first at line {prev})",
                        shown(written)
                    ),
                ));
            }
            names.push(ParsedName {
                kind,
                key,
                services: n
                    .services
                    .into_iter()
                    .map(|s| (s.get_ref().clone(), line_of(s.span().start)))
                    .collect(),
                reference: n.reference.get_ref().trim().to_string(),
                note: n.note.map(Spanned::into_inner),
                source: SourcePos {
                    file: file.to_string(),
                    line,
                },
            });
        }
    }
    Ok(names)
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

impl Catalog {
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
        // Pipes, shares and protocols likewise, by (kind, key).
        let mut parsed_names: Vec<Option<ParsedName>> = Vec::new();
        let mut name_at: FxHashMap<(NameKind, String), usize> = FxHashMap::default();
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
            for pn in parsed.names {
                if let Some(old) = name_at.insert((pn.kind, pn.key.clone()), parsed_names.len()) {
                    parsed_names[old] = None;
                }
                parsed_names.push(Some(pn));
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
                        p.rows.iter().map(|r| (r.transport, r.spec)).collect();
                    rows.retain(|r| !new.contains(&(r.transport, r.spec)));
                }
                for r in p.rows {
                    rows.push(Row {
                        service: sid,
                        app: r.app,
                        transport: r.transport,
                        spec: r.spec,
                        note: r.note,
                        candidate: r.candidate,
                        origin: r.origin,
                        source: r.source,
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
        let live_names = parsed_names.iter().flatten().count();
        if live_names > usize::from(NameId::MAX) {
            let (file, _) = sources.last().expect("at least one source");
            return Err(CatalogError::Invalid {
                file: file.clone(),
                line: 1,
                message: format!(
                    "too many pipes, shares and protocols ({live_names}; at most {})",
                    NameId::MAX
                ),
            });
        }
        let mut names = Vec::with_capacity(live_names);
        for pn in parsed_names.into_iter().flatten() {
            let mut ids = Vec::with_capacity(pn.services.len());
            for (name, line) in &pn.services {
                let id = by_name
                    .get(&name.trim().to_ascii_lowercase())
                    .copied()
                    .ok_or_else(|| CatalogError::Invalid {
                        file: pn.source.file.clone(),
                        line: *line,
                        message: format!(
                            "{} {:?} names service {name:?}, which no catalog defines",
                            pn.kind.as_str(),
                            pn.key
                        ),
                    })?;
                ids.push(id as ServiceId);
            }
            names.push(Name {
                kind: pn.kind,
                name: pn.key,
                services: ids,
                reference: pn.reference,
                note: pn.note,
                source: pn.source,
            });
        }
        Ok(Catalog::index(
            services,
            rows,
            interfaces,
            names,
            dynamic_ranges,
            dynamic_source,
        ))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::tests::{names, with_user};

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
    fn user_names_add_to_and_replace_the_builtin_ones() {
        let c = with_user(
            "[[service]]\nname = \"Backup\"\nports = [ { app = \"SMB\", tcp = 445, candidate = false } ]\n\
             [[pipe]]\nname = \"\\\\PIPE\\\\BackupAgent\"\nservices = [\"Backup\"]\nreference = \"vendor manual 4.2\"\n\
             [[pipe]]\nname = \"LSARPC\"\nservices = [\"Backup\", \"Server\"]\nreference = \"site\"\nnote = \"ours\"\n\
             [[share]]\nname = \"D$\"\nservices = []\nreference = \"site policy\"\n",
        )
        .unwrap();
        let pipe = |text| {
            let n = c.name(c.name_id(NameKind::Pipe, text).unwrap());
            let services: Vec<&str> = n
                .services
                .iter()
                .map(|&s| c.service(s).name.as_str())
                .collect();
            (services, n.reference.as_str(), n.source.to_string())
        };
        assert_eq!(
            pipe("backupagent"),
            (
                vec!["Backup"],
                "vendor manual 4.2",
                "site.toml:4".to_string()
            )
        );
        // A later definition of the same (kind, key) replaces the built-in one, once.
        assert_eq!(
            pipe("\\PIPE\\lsarpc"),
            (vec!["Backup", "Server"], "site", "site.toml:8".to_string())
        );
        assert_eq!(
            c.names
                .iter()
                .filter(|n| n.kind == NameKind::Pipe && n.name == "lsarpc")
                .count(),
            1
        );
        // "D$" replaces the built-in "C$": one entry for every drive share.
        let drive = c.name(c.name_id(NameKind::Share, "\\\\fs1\\C$").unwrap());
        assert!(drive.services.is_empty());
        assert_eq!(drive.source.to_string(), "site.toml:13");
        // The other built-in names are untouched; the user's row is a candidate of nothing.
        assert!(c.name_id(NameKind::Pipe, "samr").is_some());
        assert!(!names(&c, c.lookup_port(Transport::Tcp, 445).unwrap()).contains(&"Backup"));
        let backup = c.services.iter().position(|s| s.name == "Backup").unwrap();
        assert!(c
            .rows
            .iter()
            .any(|r| usize::from(r.service) == backup && !r.candidate));
    }

    #[test]
    fn beyond_article_origin_is_accepted_and_shown() {
        let c = with_user("[[service]]\nname = \"X\"\norigin = \"beyond-article\"\nports = [ { app = \"A\", tcp = 1 } ]\n").unwrap();
        let x = c.services.iter().find(|s| s.name == "X").unwrap();
        assert_eq!(x.origin, Origin::BeyondArticle);
        assert_eq!(
            serde_json::to_value(Origin::BeyondArticle).unwrap(),
            "beyond-article"
        );
        assert_eq!(
            err("[[service]]\nname = \"X\"\norigin = \"later\"\nports = [ { app = \"A\", tcp = 1 } ]\n"),
            "site.toml:3: origin \"later\" is not one of \"article\", \"later-edition\", \"beyond-article\""
        );
        assert!(err(
            "[[service]]\nname = \"X\"\nports = [ { app = \"A\", tcp = 1, candidate = \"no\" } ]\n"
        )
        .starts_with("site.toml:3: "));
    }

    /// Every broken pipe, share or protocol entry is refused with the line of what is wrong.
    #[test]
    fn broken_names_report_file_and_line() {
        let entry = |kind: &str, body: &str| format!("# site names\n[[{kind}]]\n{body}\n");
        let cases = [
            (
                entry("pipe", "name = \"x\"\nservices = []\nreference = \"r\"\nservice = []"),
                "site.toml:6: unknown field `service`",
            ),
            (
                entry("pipe", "name = \"x\"\nreference = \"r\""),
                "site.toml:2: missing field `services`",
            ),
            (
                entry("share", "name = \"x\"\nservices = []"),
                "site.toml:2: missing field `reference`",
            ),
            (
                entry("pipe", "name = \"x\"\nservices = [\n  \"Server\",\n  \"Nope\",\n]\nreference = \"r\""),
                "site.toml:6: pipe \"x\" names service \"Nope\", which no catalog defines",
            ),
            (
                entry("pipe", "name = \"\\\\PIPE\\\\\"\nservices = []\nreference = \"r\""),
                "site.toml:3: pipe name \"\\\\PIPE\\\\\" is empty",
            ),
            (
                entry("protocol", "name = \"http\"\nservices = []\nreference = \"r\""),
                "site.toml:3: protocol \"http\" is not one svcscope verifies (one of \"smb\", \"dfs-referral\", \"kerberos\", \"ldap\", \"ldap-ping\", \"rdp-negotiation\", \"dns-authoritative\", \"http-sharepoint\", or \"tds-instance:\" or \"http-server:\" and a name)",
            ),
            (
                entry("share", "name = \"s\"\nservices = []\nreference = \"  \""),
                "site.toml:5: share \"s\" has an empty reference; say where the mapping is documented",
            ),
            (
                entry("pipe", "name = \"a\\u001b[2J\"\nservices = []\nreference = \"r\""),
                "site.toml:3: pipe name \"a\\u{1b}[2J\" contains a control character (U+001B)",
            ),
            (
                entry("share", "name = \"s\"\nservices = [\"Server\\r\"]\nreference = \"r\""),
                "site.toml:4: service name \"Server\\r\" contains a control character (U+000D)",
            ),
            (
                entry("protocol", "name = \"smb\"\nservices = []\nreference = \"r\\n\""),
                "site.toml:5: reference \"r\\n\" contains a control character (U+000A)",
            ),
            (
                entry("pipe", "name = \"x\"\nservices = []\nreference = \"r\"\nnote = \"\\t\""),
                "site.toml:6: note \"\\t\" contains a control character (U+0009)",
            ),
            (
                format!(
                    "[[pipe]]\nname = \"x\"\nservices = []\nreference = \"r\"\n{}",
                    "[[pipe]]\nname = \"\\\\PIPE\\\\X\"\nservices = []\nreference = \"r\"\n"
                ),
                "site.toml:6: pipe \"\\\\PIPE\\\\X\" (key \"x\") is defined twice in this file (first at line 1)",
            ),
            (
                "[[share]]\nname = \"C$\"\nservices = []\nreference = \"r\"\n[[share]]\nname = \"d$\"\nservices = []\nreference = \"r\"\n".to_string(),
                "site.toml:6: share \"d$\" (key \"?$\") is defined twice in this file (first at line 1)",
            ),
        ];
        for (text, expected) in cases {
            let e = err(&text);
            assert!(e.starts_with(expected), "{text}\n{e}\nexpected: {expected}");
        }
        // The same name as a pipe and as a share are two entries.
        assert!(with_user("[[pipe]]\nname = \"x\"\nservices = []\nreference = \"r\"\n[[share]]\nname = \"x\"\nservices = []\nreference = \"r\"\n").is_ok());
    }

    #[test]
    fn names_are_bounded() {
        let long = "n".repeat(limits::NAME_CHARS + 1);
        assert_eq!(
            err(&format!(
                "[[pipe]]\nname = \"{long}\"\nservices = []\nreference = \"r\"\n"
            )),
            "site.toml:2: pipe name is longer than 256 characters (257 bytes)"
        );
        let reference = "r".repeat(limits::NOTE_CHARS + 1);
        assert_eq!(
            err(&format!(
                "[[share]]\nname = \"s\"\nservices = []\nreference = \"{reference}\"\n"
            )),
            "site.toml:4: reference is longer than 1024 characters (1025 bytes)"
        );
        let refs = vec!["\"Server\""; limits::NAME_SERVICES + 1].join(", ");
        assert_eq!(
            err(&format!(
                "[[pipe]]\nname = \"p\"\nservices = [{refs}]\nreference = \"r\"\n"
            )),
            "site.toml:3: pipe \"p\" lists more than 1000 services"
        );
        let mut many = String::new();
        for i in 0..=limits::NAMES {
            many.push_str(&format!(
                "[[pipe]]\nname = \"p{i}\"\nservices = []\nreference = \"r\"\n"
            ));
        }
        assert_eq!(
            err(&many),
            format!(
                "site.toml:{}: more than 10000 pipes, shares and protocols in one file",
                4 * limits::NAMES + 1
            )
        );
        // Entries listing 1,000 services each (as many as fit in a file) resolve them with one hash
        // lookup each.
        let list = vec!["\"Server\""; limits::NAME_SERVICES].join(",");
        let mut full = String::new();
        for i in 0..400 {
            full.push_str(&format!(
                "[[share]]\nname = \"s{i}\"\nservices = [{list}]\nreference = \"r\"\n"
            ));
        }
        let c = with_user(&full).unwrap();
        assert!(c.name_id(NameKind::Share, "s399").is_some());
        assert_eq!(
            c.name(c.name_id(NameKind::Share, "\\\\fs\\S0").unwrap())
                .services
                .len(),
            limits::NAME_SERVICES
        );
    }
}

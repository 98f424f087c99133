//! IPFIX (RFC 7011) encoding: the message header, template and options template sets, flow data
//! records (RFC 5103 biflows) and the application-name options records of RFC 6759.
//!
//! Pure functions over byte buffers, no I/O: [`Message`] builds one message up to a size limit,
//! sets opened and closed as records of different templates come; the exporter (`mod.rs`) stamps
//! the export time and sequence number when it sends it. Every length written is checked against
//! the limit first, so a message is never longer than asked and never has a short set.

use std::net::IpAddr;

/// IPFIX version number in the message header.
pub const VERSION: u16 = 10;
/// Set ids of template and options template sets.
pub const SET_TEMPLATE: u16 = 2;
pub const SET_OPTIONS_TEMPLATE: u16 = 3;
/// Template ids: flow records with IPv4 and with IPv6 addresses, application names.
pub const TEMPLATE_V4: u16 = 256;
pub const TEMPLATE_V6: u16 = 257;
pub const TEMPLATE_APPS: u16 = 258;
/// The private enterprise number of the reverse information elements (RFC 5103).
pub const REVERSE_PEN: u32 = 29305;
/// A field length meaning "variable length" (RFC 7011 §7).
pub const VARIABLE: u16 = 0xFFFF;
pub const HEADER_LEN: usize = 16;
pub const SET_HEADER_LEN: usize = 4;
/// Classification engine id of RFC 6759 for user-defined application ids.
pub const ENGINE_USER_DEFINED: u8 = 6;
/// The application id of flows no catalog row labels.
pub const APP_UNCLASSIFIED: u32 = 0;
/// Fixed lengths of the application name and description in the options records (zero-padded,
/// cut at a character boundary): fixed because collectors read options records at fixed offsets.
pub const APP_NAME_LEN: u16 = 32;
pub const APP_DESCRIPTION_LEN: u16 = 128;
/// Smallest and largest `--ipfix-mtu`: the largest flow record (with its strings cut to fit) and
/// an options record fit in the smallest; the largest keeps a UDP datagram within 64 KiB.
pub const MIN_MTU: usize = 512;
pub const MAX_MTU: usize = 65_000;

/// Whose numbering an information element's id is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    Iana,
    /// RFC 5103's reverse direction (enterprise 29305).
    Reverse,
    /// svcscope's own elements, under the configured enterprise number.
    Svcscope,
}

/// One field of a template: element id, owner and length ([`VARIABLE`] for strings).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    pub id: u16,
    pub owner: Owner,
    pub len: u16,
    pub name: &'static str,
}

const fn iana(id: u16, len: u16, name: &'static str) -> Field {
    Field {
        id,
        owner: Owner::Iana,
        len,
        name,
    }
}

const fn reverse(id: u16, len: u16, name: &'static str) -> Field {
    Field {
        id,
        owner: Owner::Reverse,
        len,
        name,
    }
}

const fn own(id: u16, name: &'static str) -> Field {
    Field {
        id,
        owner: Owner::Svcscope,
        len: VARIABLE,
        name,
    }
}

/// svcscope's enterprise elements (under `--ipfix-pen`), all strings of variable length. Their ids
/// differ from those of the reverse elements (1, 2, 6) in the same template: pmacct numbers
/// repeated element ids in a template whatever their enterprise, and would not find ours.
pub mod ie {
    /// The services the flow is credited with, system names (`kdc`, `Netlogon`) where the catalog
    /// has one, else display names, joined with `,`.
    pub const SERVICES: u16 = 101;
    /// How they are known: `evidence`, `port`, `candidates`, `unclassified`.
    pub const SERVICE_BASIS: u16 = 102;
    /// How the label was found: `port`, `ip-protocol`, `dynamic-range`, an evidence kind, `unknown`.
    pub const PROVENANCE: u16 = 103;
    /// The DCE/RPC interface UUID of the flow, empty when none.
    pub const RPC_INTERFACE: u16 = 104;
    /// Reserved for the payload verification verdict; not in the templates yet.
    pub const VERIFICATION: u16 = 105;
    /// The evidence items, `kind=value` joined with `;`.
    pub const EVIDENCE: u16 = 106;
    /// The sensor name (`--sensor`, the host name by default), as flow records carry it.
    pub const SENSOR: u16 = 107;
}

/// The fields after the addresses, the same in both flow templates.
const FLOW_TAIL: [Field; 20] = [
    iana(7, 2, "sourceTransportPort"),
    iana(11, 2, "destinationTransportPort"),
    iana(4, 1, "protocolIdentifier"),
    iana(6, 1, "tcpControlBits"),
    reverse(6, 1, "reverseTcpControlBits"),
    iana(152, 8, "flowStartMilliseconds"),
    iana(153, 8, "flowEndMilliseconds"),
    iana(1, 8, "octetDeltaCount"),
    iana(2, 8, "packetDeltaCount"),
    reverse(1, 8, "reverseOctetDeltaCount"),
    reverse(2, 8, "reversePacketDeltaCount"),
    iana(136, 1, "flowEndReason"),
    iana(239, 1, "biflowDirection"),
    iana(95, 5, "applicationId"),
    own(ie::SERVICES, "services"),
    own(ie::SERVICE_BASIS, "serviceBasis"),
    own(ie::PROVENANCE, "provenance"),
    own(ie::RPC_INTERFACE, "rpcInterface"),
    own(ie::EVIDENCE, "evidence"),
    own(ie::SENSOR, "sensor"),
];

/// The fields of a flow template, in record order.
pub fn flow_fields(v6: bool) -> Vec<Field> {
    let addrs = if v6 {
        [
            iana(27, 16, "sourceIPv6Address"),
            iana(28, 16, "destinationIPv6Address"),
        ]
    } else {
        [
            iana(8, 4, "sourceIPv4Address"),
            iana(12, 4, "destinationIPv4Address"),
        ]
    };
    addrs.into_iter().chain(FLOW_TAIL).collect()
}

/// The options template's fields: the scope (applicationId) first.
pub const APP_FIELDS: [Field; 3] = [
    iana(95, 5, "applicationId"),
    iana(96, APP_NAME_LEN, "applicationName"),
    iana(94, APP_DESCRIPTION_LEN, "applicationDescription"),
];

/// flowEndReason values (RFC 7011 / IANA).
pub mod end_reason {
    pub const IDLE: u8 = 1;
    pub const ACTIVE: u8 = 2;
    pub const END_OF_FLOW: u8 = 3;
    pub const FORCED: u8 = 4;
    pub const LACK_OF_RESOURCES: u8 = 5;
}

/// One flow record's values. Source is the client (the biflow's initiator), destination the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowData {
    pub client: IpAddr,
    pub server: IpAddr,
    pub client_port: u16,
    pub server_port: u16,
    pub protocol: u8,
    pub flags_c2s: u8,
    pub flags_s2c: u8,
    /// Milliseconds since the Unix epoch.
    pub start_ms: u64,
    pub end_ms: u64,
    pub bytes_c2s: u64,
    pub packets_c2s: u64,
    pub bytes_s2c: u64,
    pub packets_s2c: u64,
    pub end_reason: u8,
    pub app: u32,
    pub services: String,
    pub basis: &'static str,
    pub provenance: &'static str,
    pub rpc_interface: String,
    pub evidence: String,
    pub sensor: String,
}

impl FlowData {
    /// Both addresses of one family: IPv4 when both are, else both as IPv6 (IPv4-mapped).
    pub fn is_v6(&self) -> bool {
        !(self.client.is_ipv4() && self.server.is_ipv4())
    }

    /// Length of the fixed-size part of the record (all but the strings).
    pub fn fixed_len(v6: bool) -> usize {
        flow_fields(v6)
            .iter()
            .filter(|f| f.len != VARIABLE)
            .map(|f| usize::from(f.len))
            .sum()
    }

    /// Appends the record to `out`, its strings cut (at character boundaries) so that the record is
    /// at most `max` bytes; false, with nothing written, if even the fixed part does not fit.
    pub fn encode(&self, max: usize, out: &mut Vec<u8>) -> bool {
        let v6 = self.is_v6();
        let fixed = FlowData::fixed_len(v6);
        let strings: [&str; 6] = [
            &self.services,
            self.basis,
            self.provenance,
            &self.rpc_interface,
            &self.evidence,
            &self.sensor,
        ];
        // Each string needs at least its 1-byte length.
        if max < fixed + strings.len() {
            return false;
        }
        let start = out.len();
        if v6 {
            out.extend_from_slice(&v6_octets(self.client));
            out.extend_from_slice(&v6_octets(self.server));
        } else {
            out.extend_from_slice(&v4_octets(self.client));
            out.extend_from_slice(&v4_octets(self.server));
        }
        out.extend_from_slice(&self.client_port.to_be_bytes());
        out.extend_from_slice(&self.server_port.to_be_bytes());
        out.push(self.protocol);
        out.push(self.flags_c2s);
        out.push(self.flags_s2c);
        out.extend_from_slice(&self.start_ms.to_be_bytes());
        out.extend_from_slice(&self.end_ms.to_be_bytes());
        out.extend_from_slice(&self.bytes_c2s.to_be_bytes());
        out.extend_from_slice(&self.packets_c2s.to_be_bytes());
        out.extend_from_slice(&self.bytes_s2c.to_be_bytes());
        out.extend_from_slice(&self.packets_s2c.to_be_bytes());
        out.push(self.end_reason);
        out.push(1); // biflowDirection: initiator (the source is the client)
        put_app_id(self.app, out);
        debug_assert_eq!(out.len() - start, fixed);
        // The strings share what is left, the short ones first so that only long ones are cut.
        let mut left = max - fixed;
        let mut order: [usize; 6] = [0, 1, 2, 3, 4, 5];
        order.sort_by_key(|&i| strings[i].len());
        let mut fitted = [""; 6];
        for (n, &i) in order.iter().enumerate() {
            let share = left / (strings.len() - n);
            fitted[i] = fit(strings[i], share);
            left -= varlen_size(fitted[i].len());
        }
        for s in fitted {
            put_varlen(s, out);
        }
        true
    }
}

/// The encoded length of a variable-length string of `n` bytes (RFC 7011 §7).
fn varlen_size(n: usize) -> usize {
    if n < 255 {
        n + 1
    } else {
        n + 3
    }
}

/// `s` cut to at most `max` bytes at a character boundary.
fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The longest start of `s`, cut at a character boundary, whose variable-length encoding takes at
/// most `room` bytes (`room` at least 1).
fn fit(s: &str, room: usize) -> &str {
    let room = room.min(usize::from(u16::MAX) + 3);
    if varlen_size(s.len()) <= room {
        return s;
    }
    let short = cut(s, room.saturating_sub(1));
    if short.len() < 255 {
        short
    } else {
        cut(s, room - 3)
    }
}

/// Appends `s` (at most 65,535 bytes) as a variable-length field.
fn put_varlen(s: &str, out: &mut Vec<u8>) {
    if s.len() < 255 {
        out.push(s.len() as u8);
    } else {
        out.push(255);
        out.extend_from_slice(&(s.len() as u16).to_be_bytes());
    }
    out.extend_from_slice(s.as_bytes());
}

/// Appends a fixed-length string field, cut and zero-padded to `len`.
fn put_fixed(s: &str, len: u16, out: &mut Vec<u8>) {
    let s = cut(s, usize::from(len));
    out.extend_from_slice(s.as_bytes());
    out.resize(out.len() + usize::from(len) - s.len(), 0);
}

fn put_app_id(app: u32, out: &mut Vec<u8>) {
    out.push(ENGINE_USER_DEFINED);
    out.extend_from_slice(&app.to_be_bytes());
}

fn v4_octets(a: IpAddr) -> [u8; 4] {
    match a {
        IpAddr::V4(v4) => v4.octets(),
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or([0; 4], |v4| v4.octets()),
    }
}

fn v6_octets(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

/// One application id's options record: id, name and description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppName {
    pub app: u32,
    pub name: String,
    pub description: String,
}

impl AppName {
    pub const LEN: usize = 5 + APP_NAME_LEN as usize + APP_DESCRIPTION_LEN as usize;

    pub fn encode(&self, out: &mut Vec<u8>) {
        put_app_id(self.app, out);
        put_fixed(&self.name, APP_NAME_LEN, out);
        put_fixed(&self.description, APP_DESCRIPTION_LEN, out);
    }
}

/// Appends one template record (`scope` > 0: an options template record) to `out`.
fn template_record(id: u16, fields: &[Field], scope: u16, pen: u32, out: &mut Vec<u8>) {
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&(fields.len() as u16).to_be_bytes());
    if scope > 0 {
        out.extend_from_slice(&scope.to_be_bytes());
    }
    for f in fields {
        let number = match f.owner {
            Owner::Iana => None,
            Owner::Reverse => Some(REVERSE_PEN),
            Owner::Svcscope => Some(pen),
        };
        let bit = if number.is_some() { 0x8000 } else { 0 };
        out.extend_from_slice(&(f.id | bit).to_be_bytes());
        out.extend_from_slice(&f.len.to_be_bytes());
        if let Some(n) = number {
            out.extend_from_slice(&n.to_be_bytes());
        }
    }
}

/// The template set (both flow templates) and the options template set, as one message body.
pub fn template_sets(pen: u32) -> Vec<u8> {
    let mut body = Vec::new();
    let start = body.len();
    body.extend_from_slice(&SET_TEMPLATE.to_be_bytes());
    body.extend_from_slice(&[0, 0]);
    template_record(TEMPLATE_V4, &flow_fields(false), 0, pen, &mut body);
    template_record(TEMPLATE_V6, &flow_fields(true), 0, pen, &mut body);
    let len = (body.len() - start) as u16;
    body[start + 2..start + 4].copy_from_slice(&len.to_be_bytes());
    let start = body.len();
    body.extend_from_slice(&SET_OPTIONS_TEMPLATE.to_be_bytes());
    body.extend_from_slice(&[0, 0]);
    template_record(TEMPLATE_APPS, &APP_FIELDS, 1, pen, &mut body);
    let len = (body.len() - start) as u16;
    body[start + 2..start + 4].copy_from_slice(&len.to_be_bytes());
    body
}

/// One message being filled: header, then sets of data records, at most `limit` bytes in all.
#[derive(Debug)]
pub struct Message {
    buf: Vec<u8>,
    limit: usize,
    /// The open set's template id and where its header is.
    set: Option<(u16, usize)>,
    /// Data records in the message.
    pub records: u32,
}

impl Message {
    pub fn new(limit: usize) -> Message {
        let mut buf = Vec::with_capacity(limit.min(MAX_MTU));
        buf.extend_from_slice(&VERSION.to_be_bytes());
        buf.resize(HEADER_LEN, 0);
        Message {
            buf,
            limit,
            set: None,
            records: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records == 0 && self.set.is_none()
    }

    /// Room for one more record of `template` without overflowing the limit.
    pub fn room(&self, template: u16) -> usize {
        let used = self.buf.len()
            + match self.set {
                Some((t, _)) if t == template => 0,
                _ => SET_HEADER_LEN,
            };
        self.limit.saturating_sub(used)
    }

    /// Adds the template sets (a whole body of [`template_sets`]); false if they do not fit.
    pub fn push_raw_sets(&mut self, sets: &[u8]) -> bool {
        if self.buf.len() + sets.len() > self.limit {
            return false;
        }
        self.close_set();
        self.buf.extend_from_slice(sets);
        true
    }

    /// Adds a data record of `template`, written by `write` into at most the room it is given
    /// (false from `write`: it did not fit, nothing added). False if it did not fit.
    pub fn push(&mut self, template: u16, write: impl FnOnce(usize, &mut Vec<u8>) -> bool) -> bool {
        let room = self.room(template);
        if room == 0 {
            return false;
        }
        let mark = self.buf.len();
        let open = matches!(self.set, Some((t, _)) if t == template);
        if !open {
            self.close_set();
            self.buf.extend_from_slice(&template.to_be_bytes());
            self.buf.extend_from_slice(&[0, 0]);
        }
        let before = self.buf.len();
        if !write(room, &mut self.buf) || self.buf.len() - before > room {
            self.buf.truncate(mark);
            return false;
        }
        if !open {
            self.set = Some((template, mark));
        }
        self.records += 1;
        true
    }

    /// Writes the open set's length.
    fn close_set(&mut self) {
        if let Some((_, at)) = self.set.take() {
            let len = (self.buf.len() - at) as u16;
            self.buf[at + 2..at + 4].copy_from_slice(&len.to_be_bytes());
        }
    }

    /// The finished message with its length, export time, sequence number and domain.
    pub fn finish(mut self, export_secs: u32, sequence: u32, domain: u32) -> Vec<u8> {
        self.close_set();
        let len = self.buf.len() as u16;
        self.buf[2..4].copy_from_slice(&len.to_be_bytes());
        stamp(&mut self.buf, export_secs, sequence, domain);
        self.buf
    }
}

/// Writes the export time, sequence number and observation domain into a finished message.
pub fn stamp(msg: &mut [u8], export_secs: u32, sequence: u32, domain: u32) {
    msg[4..8].copy_from_slice(&export_secs.to_be_bytes());
    msg[8..12].copy_from_slice(&sequence.to_be_bytes());
    msg[12..16].copy_from_slice(&domain.to_be_bytes());
}

#[cfg(test)]
pub mod decode {
    //! A small IPFIX decoder for the tests: what a collector would make of the messages.

    use super::*;

    /// Templates known: id, fields (id with the enterprise bit cleared, length, enterprise
    /// number), scope field count.
    pub type Templates = Vec<(u16, Vec<(u16, u16, Option<u32>)>, u16)>;

    #[derive(Debug, Default)]
    pub struct Decoded {
        pub sequence: u32,
        pub export_secs: u32,
        pub domain: u32,
        /// Template id → fields (id with the enterprise bit cleared, length, enterprise number).
        pub templates: Templates,
        /// Data records: template id and the field values in order.
        pub records: Vec<(u16, Vec<Vec<u8>>)>,
    }

    fn u16_at(b: &[u8], at: usize) -> Result<u16, String> {
        b.get(at..at + 2)
            .map(|s| u16::from_be_bytes([s[0], s[1]]))
            .ok_or_else(|| format!("short at {at}"))
    }

    fn u32_at(b: &[u8], at: usize) -> Result<u32, String> {
        b.get(at..at + 4)
            .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
            .ok_or_else(|| format!("short at {at}"))
    }

    /// Decodes one message, with the templates known so far (`known`, updated).
    pub fn message(msg: &[u8], known: &mut Templates) -> Result<Decoded, String> {
        if u16_at(msg, 0)? != VERSION {
            return Err("version".into());
        }
        if usize::from(u16_at(msg, 2)?) != msg.len() {
            return Err(format!("length {} of {}", u16_at(msg, 2)?, msg.len()));
        }
        let mut d = Decoded {
            export_secs: u32_at(msg, 4)?,
            sequence: u32_at(msg, 8)?,
            domain: u32_at(msg, 12)?,
            ..Decoded::default()
        };
        let mut at = HEADER_LEN;
        while at < msg.len() {
            let id = u16_at(msg, at)?;
            let len = usize::from(u16_at(msg, at + 2)?);
            if len < SET_HEADER_LEN || at + len > msg.len() {
                return Err(format!("set length {len} at {at}"));
            }
            let set = &msg[at + SET_HEADER_LEN..at + len];
            match id {
                SET_TEMPLATE | SET_OPTIONS_TEMPLATE => {
                    let mut p = 0;
                    while p + 4 <= set.len() {
                        let tid = u16_at(set, p)?;
                        let n = u16_at(set, p + 2)?;
                        p += 4;
                        let mut scope = 0;
                        if id == SET_OPTIONS_TEMPLATE {
                            scope = u16_at(set, p)?;
                            p += 2;
                        }
                        let mut fields = Vec::new();
                        for _ in 0..n {
                            let fid = u16_at(set, p)?;
                            let flen = u16_at(set, p + 2)?;
                            p += 4;
                            let pen = if fid & 0x8000 != 0 {
                                p += 4;
                                Some(u32_at(set, p - 4)?)
                            } else {
                                None
                            };
                            fields.push((fid & 0x7FFF, flen, pen));
                        }
                        known.retain(|t| t.0 != tid);
                        known.push((tid, fields.clone(), scope));
                        d.templates.push((tid, fields, scope));
                    }
                }
                tid if tid >= 256 => {
                    let fields = known
                        .iter()
                        .find(|t| t.0 == tid)
                        .map(|t| t.1.clone())
                        .ok_or_else(|| format!("data before template {tid}"))?;
                    let mut p = 0;
                    while p < set.len() {
                        let mut values = Vec::new();
                        for &(_, flen, _) in &fields {
                            let n = if flen == VARIABLE {
                                let first = *set.get(p).ok_or("short varlen")?;
                                p += 1;
                                if first == 255 {
                                    p += 2;
                                    usize::from(u16_at(set, p - 2)?)
                                } else {
                                    usize::from(first)
                                }
                            } else {
                                usize::from(flen)
                            };
                            let v = set.get(p..p + n).ok_or("short field")?;
                            values.push(v.to_vec());
                            p += n;
                        }
                        d.records.push((tid, values));
                    }
                }
                other => return Err(format!("set id {other}")),
            }
            at += len;
        }
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use super::decode::message;
    use super::*;
    use proptest::prelude::*;

    fn flow() -> FlowData {
        FlowData {
            client: "192.0.2.117".parse().unwrap(),
            server: "192.0.2.10".parse().unwrap(),
            client_port: 49369,
            server_port: 88,
            protocol: 6,
            flags_c2s: 0x1b,
            flags_s2c: 0x12,
            start_ms: 1_709_542_800_000,
            end_ms: 1_709_542_800_250,
            bytes_c2s: 680,
            packets_c2s: 6,
            bytes_s2c: 1724,
            packets_s2c: 4,
            end_reason: end_reason::END_OF_FLOW,
            app: 7,
            services: "kdc".into(),
            basis: "port",
            provenance: "port",
            rpc_interface: String::new(),
            evidence: String::new(),
            sensor: "dc01".into(),
        }
    }

    #[test]
    fn a_flow_record_is_these_bytes() {
        let mut out = Vec::new();
        assert!(flow().encode(1000, &mut out));
        #[rustfmt::skip]
        let expected: Vec<u8> = [
            &[192, 0, 2, 117, 192, 0, 2, 10][..],   // addresses
            &[0xC0, 0xD9, 0, 88],                   // ports 49369, 88
            &[6, 0x1b, 0x12],                       // protocol, flags each way
            &1_709_542_800_000u64.to_be_bytes(),
            &1_709_542_800_250u64.to_be_bytes(),
            &680u64.to_be_bytes(), &6u64.to_be_bytes(),
            &1724u64.to_be_bytes(), &4u64.to_be_bytes(),
            &[3, 1],                                // end of flow, initiator
            &[6, 0, 0, 0, 7],                       // user-defined engine, id 7
            &[3], b"kdc", &[4], b"port", &[4], b"port", &[0], &[0], &[4], b"dc01",
        ]
        .concat();
        assert_eq!(out, expected);
        assert_eq!(FlowData::fixed_len(false), 8 + 4 + 3 + 16 + 32 + 2 + 5);
        assert_eq!(FlowData::fixed_len(true), 32 + 4 + 3 + 16 + 32 + 2 + 5);
    }

    #[test]
    fn templates_are_these_bytes() {
        let sets = template_sets(32473);
        // The template set: header, then template 256 with 22 fields, 3 of them reverse (8 bytes
        // each with the enterprise number) and 6 of svcscope's.
        assert_eq!(&sets[..2], &SET_TEMPLATE.to_be_bytes());
        let v4 = 4 + 22 * 4 + 9 * 4;
        let first = u16::from_be_bytes([sets[2], sets[3]]) as usize;
        assert_eq!(first, 4 + 2 * v4);
        assert_eq!(&sets[4..8], &[1, 0, 0, 22]);
        assert_eq!(&sets[8..12], &[0, 8, 0, 4]); // sourceIPv4Address, 4 bytes
                                                 // reverseTcpControlBits: 0x8006, length 1, enterprise 29305.
        let rev = &sets[8 + 6 * 4..8 + 6 * 4 + 8];
        assert_eq!(rev, &[0x80, 6, 0, 1, 0, 0, 0x72, 0x79]);
        // services: 0x8065 (101), variable, enterprise 32473 (0x7ED9).
        let own = sets[8..]
            .windows(8)
            .position(|w| w == [0x80, 101, 0xFF, 0xFF, 0, 0, 0x7E, 0xD9]);
        assert!(own.is_some());
        // The options template set: id 258, 3 fields, 1 scope field.
        let opt = &sets[first..];
        assert_eq!(
            opt,
            &[0, 3, 0, 22, 1, 2, 0, 3, 0, 1, 0, 95, 0, 5, 0, 96, 0, 32, 0, 94, 0, 128]
        );
    }

    #[test]
    fn a_message_stops_at_its_limit_and_counts_its_records() {
        let mut m = Message::new(600);
        let mut n = 0;
        while m.push(TEMPLATE_V4, |room, out| flow().encode(room, out)) {
            n += 1;
        }
        let rec = {
            let mut v = Vec::new();
            flow().encode(1000, &mut v);
            v.len()
        };
        assert_eq!(n, (600 - HEADER_LEN - SET_HEADER_LEN) / rec);
        assert_eq!(m.records, n as u32);
        let msg = m.finish(1, 41, 1);
        assert!(msg.len() <= 600);
        let mut known = Vec::new();
        known.push((TEMPLATE_V4, flow_tmpl(false), 0));
        let d = message(&msg, &mut known).unwrap();
        assert_eq!(d.sequence, 41);
        assert_eq!(d.records.len(), n);
    }

    fn flow_tmpl(v6: bool) -> Vec<(u16, u16, Option<u32>)> {
        flow_fields(v6)
            .iter()
            .map(|f| {
                let pen = match f.owner {
                    Owner::Iana => None,
                    Owner::Reverse => Some(REVERSE_PEN),
                    Owner::Svcscope => Some(32473),
                };
                (f.id, f.len, pen)
            })
            .collect()
    }

    #[test]
    fn long_strings_are_cut_to_fit_the_room_at_a_character_boundary() {
        let mut f = flow();
        f.services = "é".repeat(2000);
        f.evidence = "x".repeat(5000);
        for room in [FlowData::fixed_len(false) + 6, 300, 600, 1380, 9000] {
            let mut out = Vec::new();
            assert!(f.encode(room, &mut out), "room {room}");
            assert!(out.len() <= room, "{} > {room}", out.len());
            let mut m = Message::new(HEADER_LEN + SET_HEADER_LEN + room);
            assert!(m.push(TEMPLATE_V4, |r, o| f.encode(r, o)));
            let msg = m.finish(0, 0, 1);
            let mut known = vec![(TEMPLATE_V4, flow_tmpl(false), 0)];
            let d = message(&msg, &mut known).unwrap();
            let services = &d.records[0].1[16];
            assert!(std::str::from_utf8(services).is_ok());
            if room >= 1380 {
                assert!(
                    services.len() > 200,
                    "services cut short: {}",
                    services.len()
                );
            }
        }
        let mut out = Vec::new();
        assert!(!f.encode(FlowData::fixed_len(false), &mut out));
        assert!(out.is_empty());
    }

    #[test]
    fn sets_switch_with_the_template() {
        let mut m = Message::new(1400);
        let mut v6 = flow();
        v6.client = "2001:db8::1".parse().unwrap();
        assert!(m.push(TEMPLATE_V4, |r, o| flow().encode(r, o)));
        assert!(m.push(TEMPLATE_V6, |r, o| v6.encode(r, o)));
        assert!(m.push(TEMPLATE_V4, |r, o| flow().encode(r, o)));
        let mut a = AppName {
            app: 7,
            name: "Kerberos".into(),
            description: "Kerberos tcp/88".into(),
        };
        assert!(m.push(TEMPLATE_APPS, |_, o| {
            a.encode(o);
            true
        }));
        a.name = "a name much longer than thirty-two bytes".into();
        assert!(m.push(TEMPLATE_APPS, |_, o| {
            a.encode(o);
            true
        }));
        let msg = m.finish(0, 0, 1);
        let mut known = Vec::new();
        message(&template_message(), &mut known).unwrap();
        let d = message(&msg, &mut known).unwrap();
        let ids: Vec<u16> = d.records.iter().map(|r| r.0).collect();
        assert_eq!(ids, [256, 257, 256, 258, 258]);
        assert_eq!(d.records[1].1[0], v6_octets("2001:db8::1".parse().unwrap()));
        assert_eq!(d.records[1].1[1], v6_octets("192.0.2.10".parse().unwrap()));
        assert_eq!(&d.records[3].1[1][..9], b"Kerberos\0");
        assert_eq!(d.records[4].1[1].len(), 32);
    }

    fn template_message() -> Vec<u8> {
        let mut m = Message::new(1400);
        assert!(m.push_raw_sets(&template_sets(32473)));
        m.finish(0, 0, 1)
    }

    fn arb_flow() -> impl Strategy<Value = FlowData> {
        (
            any::<bool>(),
            any::<[u8; 16]>(),
            any::<[u8; 16]>(),
            any::<(u16, u16, u8, u8, u8)>(),
            any::<(u64, u64, u64, u64, u64, u64)>(),
            any::<(u8, u32)>(),
            (".{0,400}", ".{0,40}", "[a-z0-9-]{0,700}"),
        )
            .prop_map(
                |(v6, a, b, p, n, (reason, app), (services, uuid, evidence))| {
                    let addr = |o: [u8; 16]| -> IpAddr {
                        if v6 {
                            std::net::Ipv6Addr::from(o).into()
                        } else {
                            std::net::Ipv4Addr::new(o[0], o[1], o[2], o[3]).into()
                        }
                    };
                    FlowData {
                        client: addr(a),
                        server: addr(b),
                        client_port: p.0,
                        server_port: p.1,
                        protocol: p.2,
                        flags_c2s: p.3,
                        flags_s2c: p.4,
                        start_ms: n.0,
                        end_ms: n.1,
                        bytes_c2s: n.2,
                        packets_c2s: n.3,
                        bytes_s2c: n.4,
                        packets_s2c: n.5,
                        end_reason: reason,
                        app,
                        services,
                        basis: "evidence",
                        provenance: "rpc-bind",
                        rpc_interface: uuid,
                        evidence,
                        sensor: "edge-1".into(),
                    }
                },
            )
    }

    proptest! {
        #![proptest_config(crate::testing::proptest_config(256))]

        /// Messages of random records parse back, record for record, within the limit.
        #[test]
        fn encoded_messages_parse_back(
            flows in proptest::collection::vec(arb_flow(), 1..40),
            limit in MIN_MTU..3000usize,
        ) {
            let mut known = Vec::new();
            message(&template_message(), &mut known).unwrap();
            let mut pending = flows.iter().peekable();
            while pending.peek().is_some() {
                let mut m = Message::new(limit);
                let mut inside = Vec::new();
                while let Some(f) = pending.peek() {
                    // As the exporter does: each record encoded to fit an empty message, then
                    // put in this one if it fits, else in the next.
                    let mut record = Vec::new();
                    prop_assert!(f.encode(limit - HEADER_LEN - SET_HEADER_LEN, &mut record));
                    let t = if f.is_v6() { TEMPLATE_V6 } else { TEMPLATE_V4 };
                    let fits = m.push(t, |room, out| {
                        out.extend_from_slice(&record);
                        record.len() <= room
                    });
                    if !fits {
                        break;
                    }
                    inside.push(pending.next().unwrap());
                }
                prop_assert!(!inside.is_empty(), "a record fits no message of {}", limit);
                let msg = m.finish(5, 9, 1);
                prop_assert!(msg.len() <= limit);
                let d = message(&msg, &mut known).unwrap();
                prop_assert_eq!(d.records.len(), inside.len());
                for (f, (_, v)) in inside.iter().zip(&d.records) {
                    prop_assert_eq!(&v[2], &f.client_port.to_be_bytes());
                    prop_assert_eq!(&v[9], &f.bytes_c2s.to_be_bytes());
                    prop_assert_eq!(&v[15][1..], &f.app.to_be_bytes());
                    let services = std::str::from_utf8(&v[16]).unwrap();
                    prop_assert!(f.services.starts_with(services));
                    let evidence = std::str::from_utf8(&v[20]).unwrap();
                    prop_assert!(f.evidence.starts_with(evidence));
                    if limit >= 1400 && f.services.len() + f.evidence.len() < 600 {
                        prop_assert_eq!(services, f.services.as_str());
                        prop_assert_eq!(evidence, f.evidence.as_str());
                    }
                }
            }
        }
    }
}

//! pcapng: section headers, interface descriptions (link type, timestamp resolution and offset) and
//! blocks, each frame copied once into the batch; interfaces of link types svcscope does not decode
//! are counted and reported once the file is read.

use super::*;

#[derive(Clone, Copy, Debug)]
pub(super) struct Interface {
    pub(super) dlt: i32,
    pub(super) link: LinkType,
    /// Nanoseconds per timestamp unit as a fraction: ts_ns = units * mul / div.
    pub(super) mul: u64,
    pub(super) div: u64,
    /// Seconds added to every timestamp (if_tsoffset).
    pub(super) offset_s: i64,
    pub(super) snaplen: u32,
}

impl Interface {
    pub(super) fn new(dlt: i32, snaplen: u32) -> Interface {
        Interface {
            dlt,
            link: LinkType::from_dlt(dlt),
            mul: 1000,
            div: 1,
            offset_s: 0,
            snaplen,
        }
    }

    pub(super) fn ts(&self, units: u64) -> Ts {
        // Past year 2262 in nanoseconds: saturate rather than wrap to a negative time. A negative
        // if_tsoffset cannot go before 1970 either: every capture time is in 0..=i64::MAX, so the
        // span of any two fits in a Ts.
        let ns = match units.checked_mul(self.mul) {
            // Microseconds and finer: no 128-bit division per packet.
            Some(n) if self.div == 1 => i64::try_from(n).unwrap_or(i64::MAX),
            _ => {
                let ns = u128::from(units) * u128::from(self.mul) / u128::from(self.div);
                i64::try_from(ns).unwrap_or(i64::MAX)
            }
        };
        ns.saturating_add(self.offset_s.saturating_mul(1_000_000_000))
            .max(0)
    }
}

enum Next {
    Frame {
        iface: usize,
        ts: Ts,
        caplen: u32,
        wire_len: u32,
    },
    Skip,
    End,
}

impl FileSource {
    /// Reads the rest of a section header block (its type was already read).
    pub(super) fn pcapng_section_header(&mut self) -> Result<(), CaptureError> {
        let mut h = [0u8; 8];
        self.read_exact(&mut h, &|| "the pcapng section header".to_string())?;
        let big_endian = match [h[4], h[5], h[6], h[7]] {
            [0x1a, 0x2b, 0x3c, 0x4d] => true,
            [0x4d, 0x3c, 0x2b, 0x1a] => false,
            _ => {
                return Err(self.fail("corrupt pcapng section header (bad byte-order magic)".into()))
            }
        };
        let total = u32_at(&h, 0, big_endian);
        if total < 28 || !total.is_multiple_of(4) || total > MAX_BLOCK {
            return Err(self.fail(format!(
                "corrupt pcapng section header (block length {total})"
            )));
        }
        self.format = Format::Pcapng { big_endian };
        self.interfaces.clear();
        self.read_vec(&mut Vec::new(), total as usize - 12, &|| {
            "the pcapng section header".to_string()
        })?;
        Ok(())
    }

    fn next_block(&mut self, big_endian: bool) -> Result<Next, CaptureError> {
        let mut h = [0u8; 8];
        let got = self.read_counted(&mut h)?;
        if got == 0 {
            return Ok(Next::End);
        }
        let record = self.records + 1;
        if got < 8 {
            return Err(self.fail(format!(
                "truncated capture: the block header {} is cut short ({got} of 8 bytes){}",
                self.after(),
                self.kept()
            )));
        }
        let kind = u32_at(&h, 0, big_endian);
        if kind == 0x0a0d_0d0a {
            // A new section: its byte order may differ. Re-read the length in its own byte order.
            let mut bom = [0u8; 4];
            self.read_exact(&mut bom, &|| "a pcapng section header".to_string())?;
            let big = match bom {
                [0x1a, 0x2b, 0x3c, 0x4d] => true,
                [0x4d, 0x3c, 0x2b, 0x1a] => false,
                _ => {
                    return Err(self.fail(format!(
                        "corrupt pcapng section header {} (bad byte-order magic){}",
                        self.after(),
                        self.kept()
                    )))
                }
            };
            let total = u32_at(&h, 4, big);
            if total < 28 || !total.is_multiple_of(4) || total > MAX_BLOCK {
                return Err(self.fail(format!(
                    "corrupt pcapng section header (block length {total})"
                )));
            }
            self.format = Format::Pcapng { big_endian: big };
            self.interfaces.clear();
            self.read_vec(&mut Vec::new(), total as usize - 12, &|| {
                "a pcapng section header".to_string()
            })?;
            return Ok(Next::Skip);
        }
        let total = u32_at(&h, 4, big_endian);
        if total < 12 || !total.is_multiple_of(4) || total > MAX_BLOCK {
            return Err(self.fail(format!(
                "corrupt pcapng block {} (block length {total}){}",
                self.after(),
                self.kept()
            )));
        }
        let body_len = total as usize - 12;
        match kind {
            // Enhanced packet block: read its fixed part, leave the frame for the caller.
            6 | 2 => {
                if body_len < 20 {
                    return Err(self.fail(format!("corrupt capture: packet block of record {record} is too short ({total} bytes)")));
                }
                let mut f = [0u8; 20];
                self.read_exact(&mut f, &|| format!("record {record}"))?;
                let (iface, hi, lo, caplen, wire_len) = if kind == 6 {
                    (
                        u32_at(&f, 0, big_endian) as usize,
                        u32_at(&f, 4, big_endian),
                        u32_at(&f, 8, big_endian),
                        u32_at(&f, 12, big_endian),
                        u32_at(&f, 16, big_endian),
                    )
                } else {
                    let id = if big_endian {
                        u16::from_be_bytes([f[0], f[1]])
                    } else {
                        u16::from_le_bytes([f[0], f[1]])
                    };
                    (
                        usize::from(id),
                        u32_at(&f, 4, big_endian),
                        u32_at(&f, 8, big_endian),
                        u32_at(&f, 12, big_endian),
                        u32_at(&f, 16, big_endian),
                    )
                };
                self.check_caplen(record, caplen)?;
                if caplen as usize > body_len - 20 {
                    return Err(self.fail(format!(
                        "corrupt capture: record {record} claims {caplen} captured bytes in a {total}-byte block"
                    )));
                }
                let Some(i) = self.interfaces.get(iface).copied() else {
                    return Err(self.fail(format!("corrupt capture: record {record} names interface {iface}, which was not described")));
                };
                let ts = i.ts((u64::from(hi) << 32) | u64::from(lo));
                // The caller reads the frame; the padding and options after it are skipped then.
                self.scratch_skip = body_len - 20 - caplen as usize;
                Ok(Next::Frame {
                    iface,
                    ts,
                    caplen,
                    wire_len,
                })
            }
            // Simple packet block: interface 0, no timestamp.
            3 => {
                if body_len < 4 {
                    return Err(self.fail(format!(
                        "corrupt capture: simple packet block of record {record} is too short"
                    )));
                }
                let mut f = [0u8; 4];
                self.read_exact(&mut f, &|| format!("record {record}"))?;
                let wire_len = u32_at(&f, 0, big_endian);
                let Some(i) = self.interfaces.first().copied() else {
                    return Err(self.fail(format!(
                        "corrupt capture: record {record} comes before any interface description"
                    )));
                };
                let mut caplen = wire_len.min((body_len - 4) as u32);
                if i.snaplen > 0 {
                    caplen = caplen.min(i.snaplen);
                }
                self.check_caplen(record, caplen)?;
                self.scratch_skip = body_len - 4 - caplen as usize;
                Ok(Next::Frame {
                    iface: 0,
                    ts: 0,
                    caplen,
                    wire_len,
                })
            }
            // Interface description block.
            1 => {
                let mut body = Vec::new();
                self.read_vec(&mut body, body_len, &|| {
                    "an interface description block".to_string()
                })?;
                self.skip(4)?;
                if body.len() < 8 {
                    return Err(self.fail("corrupt pcapng interface description block".into()));
                }
                let dlt = i32::from(if big_endian {
                    u16::from_be_bytes([body[0], body[1]])
                } else {
                    u16::from_le_bytes([body[0], body[1]])
                });
                let mut iface = Interface::new(dlt, u32_at(&body, 4, big_endian));
                parse_idb_options(&body[8..], big_endian, &mut iface);
                self.interfaces.push(iface);
                self.note_link(iface.link);
                Ok(Next::Skip)
            }
            // Anything else (name resolution, statistics, custom…): skip.
            _ => {
                self.skip(body_len + 4)?;
                Ok(Next::Skip)
            }
        }
    }
}

impl FileSource {
    /// pcapng: the timestamp of the first packet, reading at most `blocks` blocks; `None` on a fault,
    /// at the end of the file, or when no packet comes in that many blocks.
    pub(super) fn first_pcapng_ts(&mut self, blocks: usize) -> Option<Ts> {
        for _ in 0..blocks {
            let Format::Pcapng { big_endian } = self.format else {
                return None;
            };
            match self.next_block(big_endian).ok()? {
                Next::Frame { ts, .. } => return Some(ts),
                Next::Skip => {}
                Next::End => return None,
            }
        }
        None
    }

    /// pcapng: blocks until the batch is full, the link type changes or the file ends.
    pub(super) fn fill_pcapng(&mut self, batch: &mut Batch) -> Result<bool, CaptureError> {
        if let Some(c) = self.carry.take() {
            batch.link = Some(self.interfaces[c.iface].link);
            batch.push(c.ts, c.wire_len, &c.data);
        }
        loop {
            if batch.is_full() {
                return Ok(true);
            }
            // Read on every block: a new section (a block of this loop) may change the byte order.
            let Format::Pcapng { big_endian } = self.format else {
                unreachable!("fill_pcapng on a classic pcap file");
            };
            let (iface, ts, caplen, wire_len) = match self.next_block(big_endian)? {
                Next::End => return Ok(false),
                Next::Skip => continue,
                Next::Frame {
                    iface,
                    ts,
                    caplen,
                    wire_len,
                } => (iface, ts, caplen, wire_len),
            };
            self.records += 1;
            let record = self.records;
            // Read the frame straight into the batch buffer (one copy).
            let start = batch.data.len();
            let read = self.read_vec(&mut batch.data, caplen as usize, &|| {
                format!("record {record}")
            });
            if let Err(e) = read {
                batch.data.truncate(start);
                return Err(e);
            }
            if self.scratch_skip > 0 {
                let n = std::mem::take(&mut self.scratch_skip);
                if let Err(e) = self.skip(n) {
                    batch.data.truncate(start);
                    return Err(e);
                }
            }
            // The block's trailing length.
            if let Err(e) = self.skip(4) {
                batch.data.truncate(start);
                return Err(e);
            }
            self.counters.packets += 1;
            let i = self.interfaces[iface];
            let filter = match self.filter_for(i.dlt) {
                Ok(f) => f,
                Err(e) => {
                    batch.data.truncate(start);
                    return Err(e);
                }
            };
            if let Some(f) = filter {
                if !f.filter(&batch.data[start..]) {
                    self.counters.filtered += 1;
                    batch.data.truncate(start);
                    continue;
                }
            }
            if !i.link.is_supported() {
                self.undecodable
                    .get_or_insert(Undecodable {
                        dlt: i.dlt,
                        iface,
                        first: record,
                        packets: 0,
                    })
                    .packets += 1;
            }
            // A record whose capture length exceeds its wire length: trust what was captured.
            let wire_len = wire_len.max(caplen);
            match batch.link {
                None => batch.link = Some(i.link),
                Some(l) if l != i.link => {
                    // Another interface's link type: carry the frame to the next batch.
                    self.carry = Some(Carry {
                        iface,
                        ts,
                        wire_len,
                        data: batch.data[start..].to_vec(),
                    });
                    batch.data.truncate(start);
                    return Ok(true);
                }
                Some(_) => {}
            }
            batch.push_at(ts, wire_len, start as u32, caplen);
        }
    }
}

fn parse_idb_options(mut opts: &[u8], big_endian: bool, iface: &mut Interface) {
    while opts.len() >= 4 {
        let code = if big_endian {
            u16::from_be_bytes([opts[0], opts[1]])
        } else {
            u16::from_le_bytes([opts[0], opts[1]])
        };
        let len = usize::from(if big_endian {
            u16::from_be_bytes([opts[2], opts[3]])
        } else {
            u16::from_le_bytes([opts[2], opts[3]])
        });
        let padded = (len + 3) & !3;
        if code == 0 || opts.len() < 4 + padded {
            break;
        }
        let value = &opts[4..4 + len];
        match (code, value.len()) {
            // if_tsresol: 10^-n or 2^-n seconds per unit.
            (9, 1) => {
                let v = value[0];
                let n = u32::from(v & 0x7f);
                if v & 0x80 == 0 {
                    if n <= 9 {
                        iface.mul = 10u64.pow(9 - n);
                        iface.div = 1;
                    } else if n <= 19 {
                        iface.mul = 1;
                        iface.div = 10u64.pow(n - 9);
                    }
                } else if n <= 63 {
                    iface.mul = 1_000_000_000;
                    iface.div = 1u64 << n;
                }
            }
            // if_tsoffset: seconds.
            (14, 8) => {
                let b: [u8; 8] = value.try_into().expect("8 bytes");
                iface.offset_s = if big_endian {
                    i64::from_be_bytes(b)
                } else {
                    i64::from_le_bytes(b)
                };
            }
            _ => {}
        }
        opts = &opts[4 + padded..];
    }
}

/// Packets on pcapng interfaces of link types svcscope does not decode (the first such type).
#[derive(Clone, Copy, Debug)]
pub(super) struct Undecodable {
    pub(super) dlt: i32,
    /// The interface of the first such packet, in its section.
    pub(super) iface: usize,
    /// The record of the first such packet.
    pub(super) first: u64,
    pub(super) packets: u64,
}

impl Undecodable {
    /// `when`: where the packets are relative to the fault being reported ("" at the end of file).
    pub(super) fn message(&self, when: &str, others: bool) -> String {
        let n = self.packets;
        format!(
            "unsupported link type {} on interface {}: {n} packet{}{when} not decoded (the first is record {}); svcscope decodes {}{}",
            link_name(self.dlt),
            self.iface,
            if n == 1 { "" } else { "s" },
            self.first,
            crate::capture::SUPPORTED,
            if others { "; the other packets are reported" } else { "" }
        )
    }
}

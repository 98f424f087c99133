//! Minimal pcap and pcapng writers (little-endian, microsecond timestamps).

use std::io::{self, Write};

pub const LINKTYPE_NULL: u16 = 0;
pub const LINKTYPE_ETHERNET: u16 = 1;
pub const LINKTYPE_RAW: u16 = 101;
pub const LINKTYPE_PPP: u16 = 9;
pub const LINKTYPE_LINUX_SLL: u16 = 113;
pub const LINKTYPE_LINUX_SLL2: u16 = 276;

/// Where packets go: a pcap or pcapng file.
pub trait PacketSink {
    /// Writes one packet; `data` is the whole frame, cut to the interface's snaplen by the writer.
    fn packet(&mut self, ts_us: u64, iface: u32, data: &[u8], orig_len: u32) -> io::Result<()>;
    /// Flushes buffered output.
    fn flush(&mut self) -> io::Result<()>;
}

/// Classic pcap: magic 0xa1b2c3d4 (microseconds), version 2.4, little-endian.
pub struct PcapWriter<W: Write> {
    w: W,
    snaplen: u32,
}

impl<W: Write> PcapWriter<W> {
    pub fn new(mut w: W, snaplen: u32, linktype: u16) -> io::Result<Self> {
        let mut h = [0u8; 24];
        h[0..4].copy_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        h[4..6].copy_from_slice(&2u16.to_le_bytes());
        h[6..8].copy_from_slice(&4u16.to_le_bytes());
        // thiszone (8..12) and sigfigs (12..16) stay 0.
        h[16..20].copy_from_slice(&snaplen.to_le_bytes());
        h[20..24].copy_from_slice(&u32::from(linktype).to_le_bytes());
        w.write_all(&h)?;
        Ok(PcapWriter { w, snaplen })
    }

    pub fn into_inner(self) -> W {
        self.w
    }
}

impl<W: Write> PacketSink for PcapWriter<W> {
    fn packet(&mut self, ts_us: u64, _iface: u32, data: &[u8], orig_len: u32) -> io::Result<()> {
        let caplen = data.len().min(self.snaplen as usize);
        let mut h = [0u8; 16];
        h[0..4].copy_from_slice(&((ts_us / 1_000_000) as u32).to_le_bytes());
        h[4..8].copy_from_slice(&((ts_us % 1_000_000) as u32).to_le_bytes());
        h[8..12].copy_from_slice(&(caplen as u32).to_le_bytes());
        h[12..16].copy_from_slice(&orig_len.to_le_bytes());
        self.w.write_all(&h)?;
        self.w.write_all(&data[..caplen])
    }

    fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }
}

/// One pcapng interface: link type, snaplen and a name.
#[derive(Clone, Debug)]
pub struct NgInterface {
    pub linktype: u16,
    pub snaplen: u32,
    pub name: String,
}

/// pcapng: one section header, one interface description per interface, enhanced packet blocks.
pub struct PcapngWriter<W: Write> {
    w: W,
    snaplens: Vec<u32>,
}

fn pad4(n: usize) -> usize {
    (4 - n % 4) % 4
}

/// Appends one pcapng option (code, value, padding).
fn ng_option(out: &mut Vec<u8>, code: u16, value: &[u8]) {
    out.extend_from_slice(&code.to_le_bytes());
    out.extend_from_slice(&(value.len() as u16).to_le_bytes());
    out.extend_from_slice(value);
    out.resize(out.len() + pad4(value.len()), 0);
}

/// Wraps a block body into type + length + body + length.
fn ng_block(w: &mut impl Write, block_type: u32, body: &[u8]) -> io::Result<()> {
    let total = (12 + body.len()) as u32;
    w.write_all(&block_type.to_le_bytes())?;
    w.write_all(&total.to_le_bytes())?;
    w.write_all(body)?;
    w.write_all(&total.to_le_bytes())
}

impl<W: Write> PcapngWriter<W> {
    pub fn new(mut w: W, interfaces: &[NgInterface], app: &str) -> io::Result<Self> {
        // Section header block.
        let mut shb = Vec::new();
        shb.extend_from_slice(&0x1A2B_3C4Du32.to_le_bytes());
        shb.extend_from_slice(&1u16.to_le_bytes());
        shb.extend_from_slice(&0u16.to_le_bytes());
        shb.extend_from_slice(&u64::MAX.to_le_bytes()); // section length unknown
        ng_option(&mut shb, 4, app.as_bytes()); // shb_userappl
        ng_option(&mut shb, 0, &[]); // opt_endofopt
        ng_block(&mut w, 0x0A0D_0D0A, &shb)?;
        // Interface description blocks (default if_tsresol 6 = microseconds).
        for i in interfaces {
            let mut idb = Vec::new();
            idb.extend_from_slice(&i.linktype.to_le_bytes());
            idb.extend_from_slice(&0u16.to_le_bytes());
            idb.extend_from_slice(&i.snaplen.to_le_bytes());
            ng_option(&mut idb, 2, i.name.as_bytes()); // if_name
            ng_option(&mut idb, 0, &[]);
            ng_block(&mut w, 1, &idb)?;
        }
        Ok(PcapngWriter {
            w,
            snaplens: interfaces.iter().map(|i| i.snaplen).collect(),
        })
    }

    pub fn into_inner(self) -> W {
        self.w
    }
}

impl<W: Write> PacketSink for PcapngWriter<W> {
    fn packet(&mut self, ts_us: u64, iface: u32, data: &[u8], orig_len: u32) -> io::Result<()> {
        let snaplen = self.snaplens[iface as usize];
        let caplen = if snaplen == 0 {
            data.len()
        } else {
            data.len().min(snaplen as usize)
        };
        let pad = pad4(caplen);
        let total = (32 + caplen + pad) as u32;
        let mut h = [0u8; 28];
        h[0..4].copy_from_slice(&6u32.to_le_bytes());
        h[4..8].copy_from_slice(&total.to_le_bytes());
        h[8..12].copy_from_slice(&iface.to_le_bytes());
        h[12..16].copy_from_slice(&((ts_us >> 32) as u32).to_le_bytes());
        h[16..20].copy_from_slice(&(ts_us as u32).to_le_bytes());
        h[20..24].copy_from_slice(&(caplen as u32).to_le_bytes());
        h[24..28].copy_from_slice(&orig_len.to_le_bytes());
        self.w.write_all(&h)?;
        self.w.write_all(&data[..caplen])?;
        self.w.write_all(&[0u8; 3][..pad])?;
        self.w.write_all(&total.to_le_bytes())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcap_header_and_record() {
        let mut w = PcapWriter::new(Vec::new(), 68, LINKTYPE_ETHERNET).unwrap();
        w.packet(1_709_542_800_000_001, 0, &[0xAA; 100], 100)
            .unwrap();
        let b = w.into_inner();
        assert_eq!(&b[0..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
        assert_eq!(b.len(), 24 + 16 + 68);
        assert_eq!(u32::from_le_bytes(b[32..36].try_into().unwrap()), 68);
        assert_eq!(u32::from_le_bytes(b[36..40].try_into().unwrap()), 100);
    }

    #[test]
    fn pcapng_blocks_are_aligned() {
        let ifs = [NgInterface {
            linktype: LINKTYPE_RAW,
            snaplen: 65535,
            name: "x".into(),
        }];
        let mut w = PcapngWriter::new(Vec::new(), &ifs, "t").unwrap();
        w.packet(5, 0, &[1, 2, 3, 4, 5], 5).unwrap();
        let b = w.into_inner();
        assert_eq!(b.len() % 4, 0);
    }
}

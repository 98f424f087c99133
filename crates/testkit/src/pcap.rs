//! Capture-file writers for hand-made test inputs: classic pcap (little-endian, microseconds) and
//! pcapng sections in either byte order. They write exactly the bytes they are given, lengths
//! included, so tests can also build files whose headers lie.

/// The 24-byte header of a little-endian microsecond pcap file, version 2.4.
pub fn pcap_header(snaplen: u32, link: u32) -> Vec<u8> {
    let mut f = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    f.extend_from_slice(&snaplen.to_le_bytes());
    f.extend_from_slice(&link.to_le_bytes());
    f
}

/// Appends one pcap record: its 16-byte header (seconds, microseconds, captured and wire length,
/// as given, even when they disagree with `data`) and then `data`.
pub fn pcap_record(f: &mut Vec<u8>, secs: u32, usecs: u32, caplen: u32, wire: u32, data: &[u8]) {
    for x in [secs, usecs, caplen, wire] {
        f.extend_from_slice(&x.to_le_bytes());
    }
    f.extend_from_slice(data);
}

/// A 32-bit value in a pcapng section's byte order.
pub fn ne32(big_endian: bool, x: u32) -> [u8; 4] {
    if big_endian {
        x.to_be_bytes()
    } else {
        x.to_le_bytes()
    }
}

pub fn pcapng_block(f: &mut Vec<u8>, big_endian: bool, kind: u32, body: &[u8]) {
    let padded = (body.len() + 3) & !3;
    let total = 12 + padded as u32;
    f.extend_from_slice(&ne32(big_endian, kind));
    f.extend_from_slice(&ne32(big_endian, total));
    f.extend_from_slice(body);
    f.resize(f.len() + padded - body.len(), 0);
    f.extend_from_slice(&ne32(big_endian, total));
}

/// One pcapng section in either byte order: interfaces of (link type, options), then enhanced
/// packet blocks of (interface, timestamp in the interface's units, frame).
pub fn pcapng_section(
    big_endian: bool,
    interfaces: &[(u16, Vec<u8>)],
    packets: &[(u32, u64, Vec<u8>)],
) -> Vec<u8> {
    let mut f = Vec::new();
    let mut shb = ne32(big_endian, 0x1a2b_3c4d).to_vec();
    let version: [u16; 2] = [1, 0];
    for v in version {
        shb.extend_from_slice(&if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        });
    }
    shb.extend_from_slice(&[0xff; 8]);
    pcapng_block(&mut f, big_endian, 0x0a0d_0d0a, &shb);
    for (dlt, options) in interfaces {
        let mut body = if big_endian {
            dlt.to_be_bytes().to_vec()
        } else {
            dlt.to_le_bytes().to_vec()
        };
        body.extend_from_slice(&[0; 6]);
        body.extend_from_slice(options);
        pcapng_block(&mut f, big_endian, 1, &body);
    }
    for (iface, units, frame) in packets {
        let mut body = ne32(big_endian, *iface).to_vec();
        body.extend_from_slice(&ne32(big_endian, (units >> 32) as u32));
        body.extend_from_slice(&ne32(big_endian, *units as u32));
        body.extend_from_slice(&ne32(big_endian, frame.len() as u32));
        body.extend_from_slice(&ne32(big_endian, frame.len() as u32));
        body.extend_from_slice(frame);
        pcapng_block(&mut f, big_endian, 6, &body);
    }
    f
}

/// A little-endian pcapng file of one section.
pub fn pcapng(interfaces: &[(u16, Vec<u8>)], packets: &[(u32, u64, Vec<u8>)]) -> Vec<u8> {
    pcapng_section(false, interfaces, packets)
}

/// An interface option: code, value (padded to 4 bytes).
pub fn option(code: u16, value: &[u8]) -> Vec<u8> {
    let mut o = code.to_le_bytes().to_vec();
    o.extend_from_slice(&(value.len() as u16).to_le_bytes());
    o.extend_from_slice(value);
    o.resize(4 + ((value.len() + 3) & !3), 0);
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcap_header_and_record_are_the_little_endian_microsecond_layout() {
        let mut f = pcap_header(65535, 1);
        assert_eq!(
            f,
            [
                0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0,
                0, 0
            ]
        );
        pcap_record(&mut f, 0x0102_0304, 5, 0xffff_ffff, 2, &[0xaa, 0xbb]);
        assert_eq!(
            f[24..],
            [4, 3, 2, 1, 5, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0xaa, 0xbb]
        );
    }

    #[test]
    fn pcapng_blocks_are_padded_and_carry_their_length_twice_in_the_section_order() {
        let mut le = Vec::new();
        pcapng_block(&mut le, false, 6, &[1, 2, 3, 4, 5]);
        assert_eq!(
            le,
            [6, 0, 0, 0, 20, 0, 0, 0, 1, 2, 3, 4, 5, 0, 0, 0, 20, 0, 0, 0]
        );
        let mut be = Vec::new();
        pcapng_block(&mut be, true, 6, &[]);
        assert_eq!(be, [0, 0, 0, 6, 0, 0, 0, 12, 0, 0, 0, 12]);
        assert_eq!(option(9, &[6]), [9, 0, 1, 0, 6, 0, 0, 0]);
        let s = pcapng_section(true, &[(1, Vec::new())], &[]);
        assert_eq!(s[..4], [0x0a, 0x0d, 0x0d, 0x0a]);
        assert_eq!(
            s[8..12],
            [0x1a, 0x2b, 0x3c, 0x4d],
            "big-endian byte-order magic"
        );
    }
}

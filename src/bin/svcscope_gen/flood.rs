//! `svcscope-gen flood`: a flood of distinct flows for memory tests — every packet a TCP SYN of a new
//! flow from a spoofed source (203.0.113.0/24, 198.51.100.0/24, 192.0.2.0/24 and every source port),
//! to 192.0.2.10 on a rotating set of ports. Deterministic; no flow repeats up to 49 million packets.

use std::fs::File;
use std::io::{self, BufWriter};
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use crate::packet::{self, Link, LinkSpec, TcpHdr};
use crate::writer::{PacketSink, PcapWriter};

const PORTS: [u16; 8] = [445, 135, 88, 389, 3389, 8080, 5432, 49700];

pub fn run(packets: u64, out: &Path) -> io::Result<u64> {
    let mut w = PcapWriter::new(
        BufWriter::with_capacity(1 << 20, File::create(out)?),
        65535,
        Link::Ethernet.linktype(),
    )?;
    let server = Ipv4Addr::new(192, 0, 2, 10);
    let nets = [[203, 0, 113], [198, 51, 100], [192, 0, 2]];
    let mut frame = Vec::with_capacity(64);
    let mut tcp = Vec::with_capacity(32);
    for i in 0..packets {
        let a = (i % 768) as usize;
        let net = nets[a / 256];
        let src = Ipv4Addr::new(net[0], net[1], net[2], (a % 256) as u8);
        let sport = 1024 + ((i / 768) % 64_512) as u16;
        let dport = PORTS[((i / 768 / 64_512) as usize + a) % PORTS.len()];
        tcp.clear();
        let h = TcpHdr {
            sport,
            dport,
            seq: i as u32,
            ack: 0,
            flags: 0x02,
            window: 64240,
            options: &[],
        };
        packet::tcp(&mut tcp, IpAddr::V4(src), IpAddr::V4(server), &h, &[]);
        frame.clear();
        let spec = LinkSpec {
            link: Link::Ethernet,
            src_mac: packet::mac_for(IpAddr::V4(src)),
            dst_mac: packet::mac_for(IpAddr::V4(server)),
            vlans: &[],
            outgoing: false,
        };
        packet::link_header(&mut frame, &spec, 0x0800);
        packet::ipv4(&mut frame, src, server, 6, i as u16, 64, 0, &[], tcp.len());
        frame.extend_from_slice(&tcp);
        packet::pad_ethernet(&mut frame, Link::Ethernet);
        // 1 µs apart, from 2024-03-04T09:00:00Z.
        w.packet(1_709_542_800_000_000 + i, 0, &frame, frame.len() as u32)?;
    }
    w.flush()?;
    Ok(packets)
}

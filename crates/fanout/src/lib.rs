//! Linux `PACKET_FANOUT` for svcscope's live capture (`capture --sockets N`).
//!
//! Several packet sockets on one interface join one fanout group; for each packet the kernel runs the
//! group's classic BPF program ([`address_pair_program`]) and hands the packet to socket
//! `result % members` (net/packet/af_packet.c, `fanout_demux_bpf`), in the order the sockets joined.
//! The program hashes the packet's address pair symmetrically — the two addresses xor-ed, then
//! folded — so both directions of a flow, every flow between the same two hosts and every fragment
//! of a datagram reach the same socket, which the classifier's cross-flow learning (endpoint-mapper
//! answers and the dynamic-port connections they announce) needs. The kernel's own
//! `PACKET_FANOUT_HASH` hashes the 5-tuple and would separate them.
//!
//! The program reads the network header through the `SKF_NET_OFF` negative offset, which is right
//! wherever the link header ends and whether the packet is received (skb->data at the network
//! header) or sent (skb->data at the link header); the protocol comes from the ancillary
//! `skb->protocol`. Packets that are neither IPv4 nor IPv6 (ARP, VLAN tags the NIC did not strip)
//! and IP packets too short for their addresses go to socket 0 (a failed load ends a classic BPF
//! program with 0). No `PACKET_FANOUT_FLAG_DEFRAG`: fragments already meet (their addresses are the
//! datagram's), and defragmenting would show the sockets reassembled datagrams, not the frames on
//! the wire. No rollover: a socket whose buffer is full drops (and counts) rather than sending a
//! flow's packets elsewhere.
//!
//! The socket options need `setsockopt(2)`/`getsockopt(2)`, which neither std, nix 0.30 nor socket2
//! expose for `SOL_PACKET`; they go through one audited function, [`sockopt`], the only `unsafe` of
//! svcscope.

use std::io;

/// One classic BPF instruction (`struct sock_filter`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

// linux/bpf_common.h and linux/filter.h.
const BPF_LD: u16 = 0x00;
const BPF_ALU: u16 = 0x04;
const BPF_JMP: u16 = 0x05;
const BPF_RET: u16 = 0x06;
const BPF_MISC: u16 = 0x07;
const BPF_W: u16 = 0x00;
const BPF_H: u16 = 0x08;
const BPF_ABS: u16 = 0x20;
const BPF_JEQ: u16 = 0x10;
const BPF_JA: u16 = 0x00;
const BPF_K: u16 = 0x00;
const BPF_X: u16 = 0x08;
const BPF_A: u16 = 0x10;
const BPF_RSH: u16 = 0x70;
const BPF_XOR: u16 = 0xa0;
const BPF_TAX: u16 = 0x00;
/// Loads at `SKF_NET_OFF + n` read byte `n` of the network header.
const SKF_NET_OFF: i32 = -0x10_0000;
/// `SKF_AD_OFF + SKF_AD_PROTOCOL`: the ancillary load of `skb->protocol` (host byte order).
const SKF_AD_PROTOCOL: i32 = -0x1000;

const ETH_P_IP: u32 = 0x0800;
const ETH_P_IPV6: u32 = 0x86dd;

fn insn(code: u16, jt: u8, jf: u8, k: u32) -> Insn {
    Insn { code, jt, jf, k }
}

fn net_word(offset: i32) -> Insn {
    insn(
        BPF_LD | BPF_W | BPF_ABS,
        0,
        0,
        (SKF_NET_OFF + offset) as u32,
    )
}

/// The fanout program: a symmetric hash of the packet's address pair; the kernel takes it modulo
/// the number of sockets. IPv4: source xor destination (header bytes 12..20); IPv6: the xor of the
/// eight address words (bytes 8..40); either folded (`h ^= h >> 16; h ^= h >> 8`) so that hosts
/// differing only in high bits spread too. Anything else: 0.
pub fn address_pair_program() -> Vec<Insn> {
    let tax = insn(BPF_MISC | BPF_TAX, 0, 0, 0);
    let xor_x = insn(BPF_ALU | BPF_XOR | BPF_X, 0, 0, 0);
    let mut v4 = vec![net_word(12), tax, net_word(16), xor_x];
    let mut v6 = vec![net_word(8)];
    for word in 1..8 {
        v6.extend([tax, net_word(8 + 4 * word), xor_x]);
    }
    let fold = [
        tax,
        insn(BPF_ALU | BPF_RSH | BPF_K, 0, 0, 16),
        xor_x,
        tax,
        insn(BPF_ALU | BPF_RSH | BPF_K, 0, 0, 8),
        xor_x,
        insn(BPF_RET | BPF_A, 0, 0, 0),
    ];
    let not_ip = insn(BPF_RET | BPF_K, 0, 0, 0);
    // Layout: protocol tests, IPv4 (ending in a jump over IPv6), IPv6, fold, not IP.
    v4.push(insn(BPF_JMP | BPF_JA, 0, 0, v6.len() as u32));
    let to_v6 = v4.len() as u8;
    let to_not_ip = (v4.len() + v6.len() + fold.len()) as u8;
    let mut p = vec![
        insn(BPF_LD | BPF_H | BPF_ABS, 0, 0, SKF_AD_PROTOCOL as u32),
        // IPv4: on to the next test's successor; else the IPv6 test.
        insn(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, ETH_P_IP),
        insn(BPF_JMP | BPF_JEQ | BPF_K, to_v6, to_not_ip, ETH_P_IPV6),
    ];
    p.extend(v4);
    p.extend(v6);
    p.extend(fold);
    p.push(not_ip);
    p
}

/// Runs `program` on a packet of protocol `protocol` (an EtherType) whose network header (and what
/// follows) is `network`, as the kernel does for the opcodes [`address_pair_program`] uses: a load
/// outside the packet ends the program with 0. `None` for an opcode it does not know or a jump out
/// of the program. For tests: which socket a packet goes to is `result % sockets`.
pub fn evaluate(program: &[Insn], protocol: u16, network: &[u8]) -> Option<u32> {
    let (mut a, mut x) = (0u32, 0u32);
    let mut pc = 0usize;
    // Classic BPF only jumps forward: at most one step per instruction.
    for _ in 0..=program.len() {
        let i = *program.get(pc)?;
        pc += 1;
        match i.code {
            c if c == BPF_LD | BPF_H | BPF_ABS && i.k == SKF_AD_PROTOCOL as u32 => {
                a = u32::from(protocol)
            }
            c if c == BPF_LD | BPF_W | BPF_ABS => {
                let offset = (i.k as i32).checked_sub(SKF_NET_OFF)?;
                let at = usize::try_from(offset).ok()?;
                match network.get(at..at + 4) {
                    Some(w) => a = u32::from_be_bytes([w[0], w[1], w[2], w[3]]),
                    None => return Some(0),
                }
            }
            c if c == BPF_MISC | BPF_TAX => x = a,
            c if c == BPF_ALU | BPF_XOR | BPF_X => a ^= x,
            c if c == BPF_ALU | BPF_RSH | BPF_K => a = a.checked_shr(i.k).unwrap_or(0),
            c if c == BPF_JMP | BPF_JA => pc = pc.checked_add(i.k as usize)?,
            c if c == BPF_JMP | BPF_JEQ | BPF_K => {
                pc += usize::from(if a == i.k { i.jt } else { i.jf })
            }
            c if c == BPF_RET | BPF_A => return Some(a),
            c if c == BPF_RET | BPF_K => return Some(i.k),
            _ => return None,
        }
    }
    None
}

/// A fanout group of packet sockets, created by [`Group::create`] with a group id the kernel picks
/// unused (`PACKET_FANOUT_FLAG_UNIQUEID`), so that no other process's group on the same interface
/// (a second svcscope) is ever joined by mistake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Group {
    id: u16,
}

#[cfg(target_os = "linux")]
mod linux {
    use super::*;
    use std::os::fd::{AsRawFd, BorrowedFd};

    const PACKET_FANOUT: libc::c_int = 18;
    const PACKET_FANOUT_DATA: libc::c_int = 22;
    const PACKET_FANOUT_CBPF: u32 = 6;
    const PACKET_FANOUT_FLAG_UNIQUEID: u32 = 0x2000;

    /// What [`sockopt`] does.
    pub(crate) enum Op<'a> {
        /// Sets an option whose value is a 32-bit integer.
        SetU32(u32),
        /// Sets an option whose value is a classic BPF program (`struct sock_fprog`).
        SetProgram(&'a [Insn]),
        /// Reads an option whose value is a 32-bit integer.
        GetU32,
    }

    /// `setsockopt(2)` or `getsockopt(2)` of option `name` at `level` on `fd`; returns the value read
    /// (0 for a set). The one `unsafe` of svcscope.
    #[allow(unsafe_code)]
    pub(crate) fn sockopt(
        fd: BorrowedFd<'_>,
        level: libc::c_int,
        name: libc::c_int,
        op: Op<'_>,
    ) -> io::Result<u32> {
        let mut value: u32 = 0;
        // Declared before the pointers into them, so they outlive the call.
        let mut filters: Vec<libc::sock_filter>;
        let fprog: libc::sock_fprog;
        let (ptr, mut len, get): (*mut libc::c_void, libc::socklen_t, bool) = match op {
            Op::SetU32(v) => {
                value = v;
                (
                    (&raw mut value).cast(),
                    std::mem::size_of::<u32>() as libc::socklen_t,
                    false,
                )
            }
            Op::GetU32 => (
                (&raw mut value).cast(),
                std::mem::size_of::<u32>() as libc::socklen_t,
                true,
            ),
            Op::SetProgram(program) => {
                let count = u16::try_from(program.len()).map_err(|_| {
                    io::Error::new(io::ErrorKind::InvalidInput, "BPF program too long")
                })?;
                filters = program
                    .iter()
                    .map(|i| libc::sock_filter {
                        code: i.code,
                        jt: i.jt,
                        jf: i.jf,
                        k: i.k,
                    })
                    .collect();
                fprog = libc::sock_fprog {
                    len: count,
                    filter: filters.as_mut_ptr(),
                };
                (
                    (&raw const fprog).cast_mut().cast(),
                    std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
                    false,
                )
            }
        };
        // SAFETY: `fd` is a borrowed, open descriptor for the whole call (the kernel checks that it
        // is a socket and answers ENOTSOCK/ENOPROTOOPT otherwise). `ptr` points at a live local of
        // exactly `len` bytes: `value` (a u32, which the kernel writes for a get — at most `len`
        // bytes, then it stores the length it wrote in `len`) or `fprog`, whose `filter` points at
        // `filters`, `count` = `filters.len()` initialised instructions, both declared before `ptr`
        // and alive until this function returns. For a set the kernel only reads (copy_from_user,
        // bounded by `len` and, for the program, by `fprog.len` instructions, which it validates
        // as classic BPF before use); nothing it reads is retained as a pointer. No Rust reference
        // to `value` or `fprog` is alive during the call.
        let rc = unsafe {
            if get {
                libc::getsockopt(fd.as_raw_fd(), level, name, ptr, &raw mut len)
            } else {
                libc::setsockopt(fd.as_raw_fd(), level, name, ptr, len)
            }
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(value)
    }

    impl Group {
        /// Makes the packet socket `fd` the first member of a new group, with an id the kernel
        /// picks, and gives the group [`address_pair_program`].
        pub fn create(fd: BorrowedFd<'_>) -> io::Result<Group> {
            let mode = (PACKET_FANOUT_CBPF | PACKET_FANOUT_FLAG_UNIQUEID) << 16;
            sockopt(fd, libc::SOL_PACKET, PACKET_FANOUT, Op::SetU32(mode))?;
            // id | type << 16 | flags << 24 (af_packet.c, packet_getsockopt).
            let got = sockopt(fd, libc::SOL_PACKET, PACKET_FANOUT, Op::GetU32)?;
            if (got >> 16) & 0xff != PACKET_FANOUT_CBPF {
                return Err(io::Error::other(format!(
                    "the kernel reports fanout mode {:#x}, not classic BPF",
                    got >> 16
                )));
            }
            let program = address_pair_program();
            sockopt(
                fd,
                libc::SOL_PACKET,
                PACKET_FANOUT_DATA,
                Op::SetProgram(&program),
            )?;
            Ok(Group {
                id: (got & 0xffff) as u16,
            })
        }

        /// Adds the packet socket `fd` (on the same interface and protocol) to the group.
        pub fn join(&self, fd: BorrowedFd<'_>) -> io::Result<()> {
            let value = u32::from(self.id) | PACKET_FANOUT_CBPF << 16;
            sockopt(fd, libc::SOL_PACKET, PACKET_FANOUT, Op::SetU32(value)).map(drop)
        }
    }
}

#[cfg(not(target_os = "linux"))]
impl Group {
    /// PACKET_FANOUT is Linux's: elsewhere this fails.
    pub fn create(_fd: std::os::fd::BorrowedFd<'_>) -> io::Result<Group> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "PACKET_FANOUT needs Linux",
        ))
    }

    /// PACKET_FANOUT is Linux's: elsewhere this fails.
    pub fn join(&self, _fd: std::os::fd::BorrowedFd<'_>) -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "PACKET_FANOUT needs Linux",
        ))
    }
}

impl Group {
    /// The group id the kernel chose.
    pub fn id(&self) -> u16 {
        self.id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipv4(src: [u8; 4], dst: [u8; 4], flags_fragment: u16) -> Vec<u8> {
        let mut h = vec![0x45, 0, 0, 28, 0, 1];
        h.extend(flags_fragment.to_be_bytes());
        h.extend([64, 17, 0, 0]);
        h.extend(src);
        h.extend(dst);
        // A UDP header: ports differ per flow, the program must not read them.
        h.extend([0xc3, 0x50, 0, 135, 0, 8, 0, 0]);
        h
    }

    fn ipv6(src: [u8; 16], dst: [u8; 16]) -> Vec<u8> {
        let mut h = vec![0x60, 0, 0, 0, 0, 8, 17, 64];
        h.extend(src);
        h.extend(dst);
        h.extend([0xc3, 0x50, 0, 135, 0, 8, 0, 0]);
        h
    }

    fn run(protocol: u16, network: &[u8]) -> u32 {
        evaluate(&address_pair_program(), protocol, network).expect("the program runs to a return")
    }

    #[test]
    fn both_directions_and_every_flow_of_a_pair_get_one_value() {
        let a = [192, 0, 2, 10];
        let b = [198, 51, 100, 7];
        let there = run(0x0800, &ipv4(a, b, 0));
        assert_eq!(there, run(0x0800, &ipv4(b, a, 0)));
        // Another flow between them (other ports), and a later fragment (no UDP header at all).
        let mut other = ipv4(a, b, 0);
        other[20..24].copy_from_slice(&[0xd0, 0x01, 0xc0, 0x10]);
        assert_eq!(there, run(0x0800, &other));
        assert_eq!(there, run(0x0800, &ipv4(b, a, 0x00b9)[..20]));
        // The value is the folded xor of the addresses.
        let x = u32::from_be_bytes(a) ^ u32::from_be_bytes(b);
        let x = x ^ (x >> 16);
        assert_eq!(there, x ^ (x >> 8));
    }

    #[test]
    fn pairs_spread_over_the_sockets() {
        for sockets in [2u32, 3, 4] {
            let mut seen = vec![0; sockets as usize];
            for host in 1..=64u8 {
                let v = run(0x0800, &ipv4([10, 0, 0, host], [10, 0, 1, 200], 0));
                seen[(v % sockets) as usize] += 1;
            }
            assert!(
                seen.iter().all(|&n| n >= 64 / sockets as usize / 2),
                "{sockets} sockets: {seen:?}"
            );
        }
    }

    #[test]
    fn ipv6_pairs_are_symmetric_and_read_every_address_word() {
        let mut a = [0u8; 16];
        a[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        a[15] = 1;
        let mut b = a;
        b[15] = 2;
        let ab = run(0x86dd, &ipv6(a, b));
        assert_eq!(ab, run(0x86dd, &ipv6(b, a)));
        assert_ne!(ab, 0);
        // A difference in any word of either address changes the value.
        for word in 0..8 {
            let (mut c, mut d) = (a, b);
            let target = if word < 4 { &mut c } else { &mut d };
            target[(word % 4) * 4] ^= 0x40;
            assert_ne!(run(0x86dd, &ipv6(c, d)), ab, "word {word}");
        }
    }

    #[test]
    fn not_ip_and_short_packets_go_to_socket_zero() {
        let arp = [0u8; 28];
        assert_eq!(run(0x0806, &arp), 0);
        // A VLAN tag left in the frame: not looked into, socket 0 (all of it, so pairs still meet).
        assert_eq!(run(0x8100, &ipv4([1, 2, 3, 4], [5, 6, 7, 8], 0)), 0);
        let full = ipv4([192, 0, 2, 1], [192, 0, 2, 2], 0);
        assert_eq!(run(0x0800, &full[..19]), 0);
        assert_eq!(run(0x0800, &[]), 0);
        assert_eq!(run(0x86dd, &ipv6([1; 16], [2; 16])[..39]), 0);
    }

    #[test]
    fn the_program_only_jumps_inside_itself_and_ends_in_returns() {
        let p = address_pair_program();
        assert!(p.len() < 64, "{} instructions", p.len());
        for (at, i) in p.iter().enumerate() {
            if i.code & 0x07 == BPF_JMP {
                let far = if i.code == BPF_JMP | BPF_JA {
                    i.k as usize
                } else {
                    usize::from(i.jt.max(i.jf))
                };
                assert!(at + 1 + far < p.len(), "jump at {at} leaves the program");
            }
        }
        assert_eq!(p.last().map(|i| i.code), Some(BPF_RET | BPF_K));
        // Unknown opcodes are not guessed at.
        assert_eq!(evaluate(&[insn(0xff, 0, 0, 0)], 0x0800, &[]), None);
    }

    #[cfg(target_os = "linux")]
    mod kernel {
        use super::super::linux::{sockopt, Op};
        use super::super::*;
        use super::ipv4;
        use std::net::UdpSocket;
        use std::os::fd::AsFd;
        use std::time::Duration;

        /// The kernel's own checker accepts the program, and runs it as the evaluator does: attached
        /// as a socket filter to a UDP socket on 127.0.0.1 (no privileges needed), it returns 0
        /// ("drop") for 127.0.0.1 → 127.0.0.1 and the folded xor for 127.0.0.2 → 127.0.0.1, read
        /// through SKF_NET_OFF from the network header while skb->data is at the UDP header.
        #[test]
        fn the_kernel_runs_the_program_on_the_network_header() {
            let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
            rx.set_read_timeout(Some(Duration::from_millis(500)))
                .unwrap();
            sockopt(
                rx.as_fd(),
                libc::SOL_SOCKET,
                libc::SO_ATTACH_FILTER,
                Op::SetProgram(&address_pair_program()),
            )
            .expect("the kernel accepts the program");
            let same = UdpSocket::bind("127.0.0.1:0").unwrap();
            let other = UdpSocket::bind("127.0.0.2:0").unwrap();
            let to = rx.local_addr().unwrap();
            for _ in 0..3 {
                same.send_to(b"dropped", to).unwrap();
            }
            other.send_to(b"kept", to).unwrap();
            let mut buf = [0u8; 16];
            let (_, from) = rx.recv_from(&mut buf).expect("the datagram of 127.0.0.2");
            assert_eq!(from, other.local_addr().unwrap());
            assert!(rx.recv_from(&mut buf).is_err(), "127.0.0.1's were dropped");
            assert_eq!(
                evaluate(
                    &address_pair_program(),
                    0x0800,
                    &ipv4([127, 0, 0, 1], [127, 0, 0, 1], 0)
                ),
                Some(0)
            );
        }

        #[test]
        fn a_socket_that_is_not_a_packet_socket_cannot_join() {
            let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
            let e = Group::create(udp.as_fd()).expect_err("a UDP socket has no SOL_PACKET");
            assert!(e.raw_os_error().is_some(), "{e}");
            let e = Group { id: 7 }
                .join(udp.as_fd())
                .expect_err("nor does it join");
            assert!(e.raw_os_error().is_some(), "{e}");
            let (reader, _writer) = std::io::pipe().unwrap();
            let e = sockopt(reader.as_fd(), libc::SOL_PACKET, 18, Op::GetU32)
                .expect_err("a pipe is no socket");
            assert_eq!(e.raw_os_error(), Some(libc::ENOTSOCK));
        }

        #[test]
        fn a_program_longer_than_a_sock_fprog_holds_is_refused_before_the_call() {
            let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
            let long = vec![insn(BPF_RET | BPF_K, 0, 0, 0); 70_000];
            let e = sockopt(
                udp.as_fd(),
                libc::SOL_SOCKET,
                libc::SO_ATTACH_FILTER,
                Op::SetProgram(&long),
            )
            .expect_err("too long");
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        }
    }
}

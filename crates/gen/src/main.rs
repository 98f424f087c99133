//! svcscope-gen: writes the project's test fixtures and benchmark captures.
//!
//! Deterministic: the same command always writes byte-identical files (fixed seeds, fixed
//! timestamps from 2024-03-04T09:00:00Z). Only documentation addresses are used (192.0.2.0/24,
//! 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32) and locally administered MACs 02:00:00:xx:xx:xx.
//! Self-contained on purpose: it does not use the svcscope library.

mod bench;
mod capture;
mod dcerpc;
mod domain;
mod fixtures;
mod flood;
mod gss;
mod ldap;
mod packet;
mod payload;
mod rng;
mod smb;
mod smb_scenarios;
mod writer;

use anyhow::{Context, Result};
use capture::Capture;
use clap::{Parser, Subcommand, ValueEnum};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Parser)]
#[command(
    name = "svcscope-gen",
    version,
    about = "Writes svcscope's deterministic test fixtures and benchmark captures"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Write every test fixture and a README.md describing them.
    Fixtures {
        /// Directory to write into (created if missing).
        #[arg(default_value = "fixtures")]
        dir: PathBuf,
    },
    /// Write a large, realistic mixed capture for benchmarks (streamed, bounded memory).
    Bench {
        /// Number of packets.
        #[arg(long)]
        packets: u64,
        /// Random seed; the same seed gives the same file.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
        /// File format.
        #[arg(long, value_enum, default_value_t = Format::Pcap)]
        format: Format,
    },
    /// A flood that fills one of svcscope's caps (by default distinct flows, one TCP SYN each, from
    /// spoofed sources), for memory tests and scripts/bench-flood.
    Flood {
        /// Number of packets (about: whole contacts, answers or flows).
        #[arg(long)]
        packets: u64,
        #[arg(long)]
        out: PathBuf,
        /// What the flood fills: the flow table, the fragment table, the endpoint-mapper contacts,
        /// the announcements, or the inspector's partial PDUs.
        #[arg(long, value_enum, default_value = "syn")]
        kind: flood::Kind,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Pcap,
    Pcapng,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Fixtures { dir } => write_fixtures(&dir),
        Cmd::Flood { packets, out, kind } => {
            let start = Instant::now();
            let written = flood::run(kind, packets, &out)
                .with_context(|| format!("writing {}", out.display()))?;
            println!(
                "wrote {}: {written} packets of a {kind:?} flood; {:.2} s",
                out.display(),
                start.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Cmd::Bench {
            packets,
            seed,
            out,
            format,
        } => {
            let start = Instant::now();
            let s = bench::run(packets, seed, &out, matches!(format, Format::Pcapng))
                .with_context(|| format!("writing {}", out.display()))?;
            let secs = start.elapsed().as_secs_f64();
            let pct = |n: u64| 100.0 * n as f64 / s.packets.max(1) as f64;
            println!(
                "wrote {}: {} packets, {} frame bytes (mean {:.0} B/frame), {} flows ({:.1}% on unknown ports) \
                 in {} epoch(s) of at most {} concurrent flows; IPv6 {:.1}%, VLAN {:.1}%, IPv4 fragments {:.2}% of packets; {:.2} s",
                out.display(),
                s.packets,
                s.bytes,
                s.bytes as f64 / s.packets.max(1) as f64,
                s.flows,
                100.0 * s.unknown_flows as f64 / s.flows.max(1) as f64,
                s.epochs,
                s.max_concurrent,
                pct(s.v6_packets),
                pct(s.vlan_packets),
                pct(s.fragments),
                secs
            );
            Ok(())
        }
    }
}

fn all_fixtures() -> Vec<Capture> {
    vec![
        domain::domain(),
        fixtures::catalog_rows(),
        fixtures::shared_ports(),
        fixtures::server_side(),
        fixtures::one_direction(),
        fixtures::vlan(),
        fixtures::sll(),
        fixtures::sll2(),
        fixtures::rawip(),
        fixtures::null(),
        fixtures::ipv6_ext(),
        fixtures::ipv4_fragments(),
        fixtures::snaplen(),
        fixtures::malformed(),
        fixtures::truncated(),
        fixtures::multi_a(),
        fixtures::multi_b(),
        fixtures::multi_if(),
        fixtures::tunnels(),
        fixtures::rpc(),
        fixtures::ftp(),
        fixtures::tftp(),
        smb_scenarios::smb_fixture(),
    ]
}

fn write_fixtures(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut caps = all_fixtures();
    // Progress goes to stdout; a closed pipe there must not stop the files being written.
    let mut out = std::io::stdout().lock();
    for cap in &mut caps {
        let bytes = cap.serialize()?;
        let path = dir.join(cap.file);
        std::fs::write(&path, &bytes).with_context(|| format!("writing {}", path.display()))?;
        let _ = writeln!(
            out,
            "{:<22} {:>5} packets  {:>8} bytes",
            cap.file,
            cap.recs.len(),
            bytes.len()
        );
    }
    let readme = readme(&caps);
    let path = dir.join("README.md");
    std::fs::write(&path, readme).with_context(|| format!("writing {}", path.display()))?;
    let _ = writeln!(out, "{:<22} written", "README.md");
    Ok(())
}

fn packet_count(cap: &Capture) -> String {
    if cap.incomplete > 0 {
        format!(
            "{} + {} cut short",
            cap.recs.len() - cap.incomplete,
            cap.incomplete
        )
    } else {
        cap.recs.len().to_string()
    }
}

fn readme(caps: &[Capture]) -> String {
    let mut s = String::new();
    s.push_str("# svcscope test fixtures\n\n");
    s.push_str(
        "Written by `svcscope-gen fixtures` (`crates/gen`); regenerate with\n\
         `cargo run -p svcscope-gen -- fixtures fixtures` instead of editing. Every run writes byte-identical files.\n\
         Timestamps start at 2024-03-04T09:00:00Z (microsecond resolution). Only documentation addresses are used\n\
         (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32) and MACs 02:00:00:xx:xx:xx; hosts on\n\
         192.0.2.0/24 have MAC 02:00:00:00:02:<last octet>, off-subnet addresses are behind the router 02:00:00:00:00:fe.\n\
         pcap files are little-endian, magic 0xa1b2c3d4, version 2.4; pcapng files have one section.\n\n\
         Every TCP conversation has a three-way handshake, data both ways with correct sequence and acknowledgement numbers,\n\
         and a FIN/ACK close (client FIN, server FIN, client ACK), unless its section says otherwise. Client ports are\n\
         ephemeral (49152 and up) unless stated. \"Server\" below is the end the analyzer should pick; packet counts are\n\
         per direction (client->server / server->client); classification names follow `catalog/windows-server.toml`.\n\n",
    );
    s.push_str("| file | format | link type | packets | contents |\n|---|---|---|---|---|\n");
    for c in caps {
        let _ = writeln!(
            s,
            "| `{}` | {} | {} | {} | {} |",
            c.file,
            c.format_name(),
            c.link_types(),
            packet_count(c),
            c.about
        );
    }
    for c in caps {
        let _ = writeln!(s, "\n## {}\n", c.file);
        let _ = writeln!(
            s,
            "{} — {}, link type {}, {} packets.\n",
            c.about,
            c.format_name(),
            c.link_types(),
            packet_count(c)
        );
        for e in &c.expect {
            let _ = writeln!(s, "{e}\n");
        }
        let broken: Vec<String> = c
            .recs
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.note.as_ref().map(|n| format!("- frame {}: {n}", i + 1)))
            .collect();
        if !broken.is_empty() {
            s.push_str("Broken frames:\n\n");
            for b in broken {
                let _ = writeln!(s, "{b}");
            }
            s.push('\n');
        }
        if c.summarize {
            s.push_str(&summary(c));
        } else {
            s.push_str("Flows (protocol client -> server: packets client->server / server->client — expected classification):\n\n");
            for f in &c.flows {
                let _ = writeln!(
                    s,
                    "- {} {} -> {}: {} / {} — {}",
                    f.proto, f.client, f.server, f.c2s, f.s2c, f.expect
                );
            }
        }
    }
    s
}

/// Flows grouped by server endpoint (and expected classification), for the big capture.
fn summary(c: &Capture) -> String {
    struct G {
        proto: &'static str,
        server: String,
        expect: String,
        flows: usize,
        clients: Vec<String>,
        c2s: u32,
        s2c: u32,
    }
    let mut groups: Vec<G> = Vec::new();
    for f in &c.flows {
        let client_host = f
            .client
            .rsplit_once(':')
            .map_or(f.client.clone(), |(h, _)| h.to_string());
        let client_host = if f.proto == "TCP" || f.proto == "UDP" {
            client_host
        } else {
            f.client.clone()
        };
        match groups
            .iter_mut()
            .find(|g| g.proto == f.proto && g.server == f.server && g.expect == f.expect)
        {
            Some(g) => {
                g.flows += 1;
                g.c2s += f.c2s;
                g.s2c += f.s2c;
                if !g.clients.contains(&client_host) {
                    g.clients.push(client_host);
                }
            }
            None => groups.push(G {
                proto: f.proto,
                server: f.server.clone(),
                expect: f.expect.clone(),
                flows: 1,
                clients: vec![client_host],
                c2s: f.c2s,
                s2c: f.s2c,
            }),
        }
    }
    groups.sort_by(|a, b| (a.proto, &a.server).cmp(&(b.proto, &b.server)));
    let total: u32 = c.flows.iter().map(|f| f.c2s + f.s2c).sum();
    let mut s = format!(
        "{} flows carrying {} packets, grouped by server (protocol server: flows, distinct clients, packets client->server / server->client — expected classification):\n\n",
        c.flows.len(),
        total
    );
    for g in groups {
        let clients = if g.clients.len() <= 3 {
            g.clients.join(", ")
        } else {
            format!("{} clients", g.clients.len())
        };
        let _ = writeln!(
            s,
            "- {} {}: {} flow{} from {}, {} / {} — {}",
            g.proto,
            g.server,
            g.flows,
            if g.flows == 1 { "" } else { "s" },
            clients,
            g.c2s,
            g.s2c,
            g.expect
        );
    }
    s
}

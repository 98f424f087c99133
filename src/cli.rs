//! Command line: argument definitions and the subcommands, each a thin layer over the library.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};

use std::sync::atomic::AtomicBool;

use crate::capture::fanout::open_group;
use crate::capture::privileges::drop_privileges;
use crate::capture::savefile::{SaveReport, WriteOptions};
use crate::capture::{interfaces, LiveOptions, LiveSource};
use crate::catalog::{Catalog, RowFilter, Transport};
use crate::flow::FlowSink;
use crate::flow::{Timeouts, DEFAULT_MAX_FLOWS};
use crate::metrics::{Exchange, MetricsServer};
use crate::pipeline::{analyze_files, capture_live, AnalyzeOptions, LiveRunOptions, Snapshots};
use crate::report::flowfile::{FlowFileOptions, FlowFiles, RecordOutput, Unrotated};
use crate::report::flows::JsonLines;
use crate::report::hosts::{HostsReport, Net};
use crate::report::ipfix::{self, Exporter, Launcher};
use crate::report::live::{Tick, TickReport};
use crate::report::metrics::Metrics;
use crate::report::rules::RuleFormat;
use crate::report::{self, LiveHealth, Report, SavefileHealth};
use crate::tracker::TrackerConfig;

/// One line on standard error after `svcscope: `, with the control characters of names and paths in
/// it shown escaped (a file name must not send escape sequences to the terminal).
macro_rules! warn {
    ($($arg:tt)*) => {
        eprintln!("svcscope: {}", $crate::report::escape::terminal(&format!($($arg)*)))
    };
}

/// Which Windows server services do the hosts on this network talk to?
#[derive(Parser, Debug)]
#[command(name = "svcscope", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Extra catalog file (TOML, same format as catalog/windows-server.toml) that adds to or overrides
    /// the built-in catalog; repeatable, later files win.
    #[arg(long = "catalog", value_name = "FILE", global = true)]
    pub catalogs: Vec<PathBuf>,

    /// Tables at their full width: no column cut or left out to fit the terminal (its width is
    /// COLUMNS, else the terminal's; a pipe or a file gets full width anyway).
    #[arg(long, global = true)]
    pub wide: bool,

    #[command(subcommand)]
    pub command: Command,
}

// Parsed once per run: the size of the capture variant costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum Command {
    /// List the service catalog: services, application protocols, transports and ports.
    Catalog(CatalogArgs),
    /// Classify the flows in capture files (pcap, pcapng) and report traffic per Windows service.
    Analyze(AnalyzeArgs),
    /// Classify live traffic on a network interface; Ctrl-C ends it with the full report.
    Capture(CaptureArgs),
    /// List the capture interfaces with their addresses and flags.
    Interfaces(InterfacesArgs),
    /// Per host: the Windows services it serves and the ones it uses, from capture files.
    Hosts(HostsArgs),
    /// Draft inbound firewall rules for the services a host was seen serving.
    Rules(RulesArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) on standard output.
    Completions(CompletionsArgs),
    /// Print the man page (roff) on standard output: svcscope(1), or a subcommand's.
    Man(ManArgs),
}

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Args, Debug)]
pub struct ManArgs {
    /// A subcommand's page (svcscope-analyze(1), …) instead of svcscope(1).
    #[arg(value_name = "SUBCOMMAND")]
    pub subcommand: Option<String>,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum View {
    /// Traffic per service and application protocol.
    Services,
    /// Per host: what it serves and uses.
    Hosts,
}

/// Options shared by the commands that analyse capture files (analyze, hosts, rules).
#[derive(Args, Debug)]
pub struct InputArgs {
    /// Capture files (pcap or pcapng), `-` for standard input; several make one merged report.
    #[arg(required_unless_present = "read", value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// A capture file to read, as `tcpdump -r FILE` (`-` for standard input); repeatable, and
    /// with the FILE arguments.
    #[arg(short = 'r', long = "read", value_name = "FILE")]
    pub read: Vec<PathBuf>,
    /// Only packets matching this BPF expression (tcpdump syntax).
    #[arg(long, value_name = "BPF")]
    pub filter: Option<String>,
    /// No progress bar (it is shown only when standard error is a terminal): only faults and
    /// warnings on standard error.
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub tracking: TrackingArgs,
}

impl InputArgs {
    /// The inputs as given: `-r` files, then the FILE arguments.
    pub fn paths(&self) -> Vec<PathBuf> {
        self.read.iter().chain(&self.files).cloned().collect()
    }
}

#[derive(Args, Debug)]
pub struct HostSelection {
    /// Only this host (repeatable).
    #[arg(long, value_name = "ADDR")]
    pub host: Vec<String>,
    /// Only hosts in this network, e.g. 192.0.2.0/24 (repeatable).
    #[arg(long, value_name = "CIDR")]
    pub net: Vec<String>,
    /// Show each host's likely role (domain controller, file server, …) with the evidence.
    #[arg(long)]
    pub role: bool,
}

impl HostSelection {
    fn nets(&self) -> Result<Vec<Net>> {
        self.host
            .iter()
            .chain(&self.net)
            .map(|t| Net::parse(t).map_err(anyhow::Error::msg))
            .collect()
    }
}

#[derive(Args, Debug)]
pub struct HostsArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub select: HostSelection,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    #[command(flatten)]
    pub sensor: SensorArg,
    /// Order the hosts by what they serve, most first (default: bytes served, then address).
    #[arg(long, value_enum, value_name = "KEY")]
    pub sort: Option<report::SortKey>,
    /// At most N hosts.
    #[arg(long, value_name = "N")]
    pub top: Option<usize>,
}

#[derive(Args, Debug)]
pub struct RulesArgs {
    /// The host the rules are for.
    #[arg(long, value_name = "ADDR", required = true)]
    pub host: String,
    #[arg(long, value_enum, default_value = "powershell")]
    pub format: RuleFormat,
    /// Restrict each rule to the client addresses seen using it.
    #[arg(long)]
    pub remote_from_observed: bool,
    /// Keep the rules of ports whose every flow carried another protocol than the catalog's
    /// (they are drafted commented out otherwise).
    #[arg(long)]
    pub keep_mismatches: bool,
    #[command(flatten)]
    pub input: InputArgs,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Csv,
    /// One self-contained HTML page (analyze, hosts, capture).
    Html,
}

/// The commands whose output is a list, not a traffic report, have no HTML page.
fn no_html(format: Format, command: &str) -> Result<()> {
    if format == Format::Html {
        anyhow::bail!("--format html is for analyze, hosts and capture, not {command}");
    }
    Ok(())
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum TransportArg {
    Tcp,
    Udp,
    Ip,
}

#[derive(Args, Debug)]
pub struct CatalogArgs {
    /// Only rows for this port (TCP/UDP port, IP protocol number, or a port in the dynamic RPC range).
    #[arg(long)]
    pub port: Option<u16>,
    /// Only rows of this transport.
    #[arg(long, value_enum)]
    pub transport: Option<TransportArg>,
    /// Only services whose friendly or system name contains TEXT (case-insensitive).
    #[arg(long, value_name = "TEXT")]
    pub service: Option<String>,
    /// Only rows whose application protocol contains TEXT (case-insensitive).
    #[arg(long, value_name = "TEXT")]
    pub protocol: Option<String>,
    /// List the DCE/RPC interfaces (UUID, name, protocol document, services) instead of the port rows;
    /// --service and --protocol filter them too.
    #[arg(long)]
    pub interfaces: bool,
    /// List the SMB named pipes, shares and verified protocols (with the services they show are
    /// used, and where that is documented) instead of the port rows; --service filters them by
    /// service, --protocol by name.
    #[arg(long, conflicts_with = "interfaces")]
    pub names: bool,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
}

/// Flow-tracking settings shared by every command that classifies traffic.
#[derive(Args, Debug, Clone)]
pub struct TrackingArgs {
    /// Idle timeout of TCP flows (trace time).
    #[arg(long, value_name = "DURATION", default_value = "2h", value_parser = humantime::parse_duration)]
    pub tcp_timeout: Duration,
    /// Idle timeout of UDP flows.
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = humantime::parse_duration)]
    pub udp_timeout: Duration,
    /// Idle timeout of other IP protocols (GRE, ESP, AH, ICMP, …).
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = humantime::parse_duration)]
    pub other_timeout: Duration,
    /// How long a closed TCP connection (FIN both ways, or RST) lingers before it ends.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = humantime::parse_duration)]
    pub closed_timeout: Duration,
    /// At most this many concurrent flows; when full, the least recently active sixteenth ends early.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_FLOWS)]
    pub max_flows: usize,
    /// How long an endpoint-mapper contact or announcement (or an FTP or TFTP one) labels later
    /// flows.
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = humantime::parse_duration)]
    pub epm_window: Duration,
    /// Classifier threads, sharded by address pair (see the README's performance section).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub workers: u16,
}

impl TrackingArgs {
    pub fn config(&self) -> TrackerConfig {
        TrackerConfig {
            timeouts: Timeouts {
                tcp: self.tcp_timeout,
                tcp_closed: self.closed_timeout,
                udp: self.udp_timeout,
                other: self.other_timeout,
            },
            max_flows: self.max_flows,
            epm_window: self.epm_window,
            active_timeout: None,
            selection: None,
        }
    }
}

/// `--ipfix`: IPFIX export to a collector (see the README's IPFIX export section).
#[derive(Args, Debug, Clone)]
pub struct IpfixArgs {
    /// Also export one IPFIX record per flow to this collector (HOST:PORT).
    #[arg(long, value_name = "HOST:PORT")]
    pub ipfix: Option<String>,
    /// IPFIX over UDP or TCP.
    #[arg(
        long,
        value_enum,
        value_name = "PROTO",
        default_value = "udp",
        requires = "ipfix"
    )]
    pub ipfix_transport: ipfix::Transport,
    /// Private enterprise number of svcscope's own IPFIX elements (services, provenance, …);
    /// 32473 is the number RFC 5612 reserves for documentation.
    #[arg(long, value_name = "PEN", default_value_t = 32473, requires = "ipfix")]
    pub ipfix_pen: u32,
    /// Largest IPFIX message (UDP payload), in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 1400, requires = "ipfix")]
    pub ipfix_mtu: usize,
    /// How often the templates and application names are sent again.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = humantime::parse_duration, requires = "ipfix")]
    pub ipfix_template_refresh: Duration,
}

/// A started exporter, its first sink, and its sender to launch.
type Started = (Exporter, Box<dyn FlowSink>, Launcher);

impl IpfixArgs {
    /// The exporter, its first sink and the sender to launch; `None` without `--ipfix`.
    fn start(&self, catalog: &Arc<Catalog>, sensor: &str, live: bool) -> Result<Option<Started>> {
        let Some(collector) = &self.ipfix else {
            return Ok(None);
        };
        let config = ipfix::Config {
            collector: collector.clone(),
            transport: self.ipfix_transport,
            pen: self.ipfix_pen,
            mtu: self.ipfix_mtu,
            template_refresh: self.ipfix_template_refresh,
            live,
            sensor: sensor.to_string(),
        };
        let (exporter, sink, launcher) = Exporter::start(catalog.clone(), config)?;
        Ok(Some((exporter, Box::new(sink), launcher)))
    }
}

/// A flow sink for the pipeline, and the exporter behind it with its sender to launch (if
/// `--ipfix`).
type Sinks = (Option<Box<dyn FlowSink>>, Option<(Exporter, Launcher)>);

/// The flow sinks of `--flows` and `--ipfix` (one, both, or none) and the running exporter.
fn sinks(
    catalog: &Arc<Catalog>,
    flows: &FlowArgs,
    sensor: &str,
    ipfix: &IpfixArgs,
    live: bool,
) -> Result<Sinks> {
    let exporter = ipfix.start(catalog, sensor, live)?;
    let records = flow_sink(catalog, flows, sensor)?;
    Ok(match (records, exporter) {
        (records, None) => (records, None),
        (None, Some((e, sink, l))) => (Some(sink), Some((e, l))),
        (Some(records), Some((e, sink, l))) => (
            Some(Box::new(crate::flow::FanOut(vec![records, sink]))),
            Some((e, l)),
        ),
    })
}

/// Stops the exporter (what is queued is sent, for at most a few seconds) and warns when records
/// were not sent; the counters go in the report's health.
fn close_exporter(exporter: Option<Exporter>) -> Option<ipfix::IpfixHealth> {
    let health = exporter?.close(Duration::from_secs(5));
    let dropped = health.dropped_queue_full + health.dropped_unsent;
    if dropped > 0 {
        warn!(
            "ipfix {}: {dropped} of {} flow records not sent{}",
            health.collector,
            health.records,
            health
                .last_error
                .as_ref()
                .map(|e| format!(" (last error: {e})"))
                .unwrap_or_default()
        );
    }
    Some(health)
}

#[derive(Args, Debug)]
pub struct AnalyzeArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    #[command(flatten)]
    pub flows: FlowArgs,
    #[command(flatten)]
    pub ipfix: IpfixArgs,
    #[command(flatten)]
    pub sensor: SensorArg,
    #[command(flatten)]
    pub select: FlowSelection,
    /// Order the service and application-protocol tables by this, most first (default: services
    /// known from evidence first, then by bytes).
    #[arg(long, value_enum, value_name = "KEY")]
    pub sort: Option<report::SortKey>,
    /// At most N rows in each of the service, not-determined, application-protocol and
    /// unclassified-port tables (default: every row, and 10 unclassified ports).
    #[arg(long, value_name = "N")]
    pub top: Option<usize>,
    /// Write the packets of the flows credited to service NAME (evidence, or a port only it uses)
    /// to the pcap FILE; the inputs are read a second time for it (not standard input or pipes).
    #[arg(long, num_args = 2, value_names = ["NAME", "FILE"])]
    pub write_service: Option<Vec<String>>,
}

/// Which flows `analyze` counts (the rest are counted nowhere): kinds must all hold, values of one
/// kind are alternatives.
#[derive(Args, Debug)]
pub struct FlowSelection {
    /// Only flows credited to this service (friendly or system name, case-insensitive; evidence,
    /// or a port only it uses); repeatable.
    #[arg(long, value_name = "NAME")]
    pub service: Vec<String>,
    /// Only flows of this application protocol (its catalog name, case-insensitive); repeatable.
    #[arg(long, value_name = "NAME")]
    pub protocol: Vec<String>,
    /// Only flows to or from this address; repeatable.
    #[arg(long, value_name = "ADDR")]
    pub host: Vec<String>,
    /// Only flows with an end in this network, e.g. 192.0.2.0/24; repeatable.
    #[arg(long, value_name = "CIDR")]
    pub net: Vec<String>,
}

impl FlowSelection {
    fn resolve(&self, catalog: &Catalog) -> Result<Option<crate::select::Selection>> {
        let nets = self
            .host
            .iter()
            .chain(&self.net)
            .map(|t| Net::parse(t).map_err(anyhow::Error::msg))
            .collect::<Result<Vec<Net>>>()?;
        let s = crate::select::Selection::new(catalog, nets, &self.protocol, &self.service)
            .map_err(anyhow::Error::msg)?;
        Ok((!s.is_everything()).then_some(s))
    }

    /// What the report says was selected (names as the catalog spells them).
    fn described(&self, catalog: &Catalog, s: &crate::select::Selection) -> report::Selected {
        let mut protocols: Vec<String> = Vec::new();
        for p in &s.protocols {
            if let Some(l) = catalog.labels.iter().find(|l| l.name.to_lowercase() == *p) {
                if !protocols.contains(&l.name) {
                    protocols.push(l.name.clone());
                }
            }
        }
        report::Selected {
            services: s
                .services
                .iter()
                .map(|&id| catalog.service(id).name.clone())
                .collect(),
            protocols,
            nets: self.host.iter().chain(&self.net).cloned().collect(),
            ..report::Selected::default()
        }
    }
}

/// Flow records (`--flows`) and their rotation, for `analyze` and `capture`.
#[derive(Args, Debug)]
pub struct FlowArgs {
    /// Also write one JSON object per flow (JSON Lines) to FILE ('-' for standard output); a name
    /// ending in .gz or .zst is written compressed (gzip, zstd).
    #[arg(long, value_name = "FILE")]
    pub flows: Option<PathBuf>,
    /// With --flows: start a new file (FILE1, FILE2, …) before one grows past SIZE, e.g. 100MB
    /// (compressed bytes for a compressed file).
    #[arg(long, value_name = "SIZE", value_parser = parse_size, requires = "flows")]
    pub flows_rotate_size: Option<u64>,
    /// With --flows: start a new file every DURATION (checked as flow records are written).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, requires = "flows")]
    pub flows_rotate_time: Option<Duration>,
}

/// The sensor name reports and flow records carry.
#[derive(Args, Debug)]
pub struct SensorArg {
    /// The name of this sensor in reports, interval lines and flow records (default: the host
    /// name), to tell sensors apart when their records are pooled.
    #[arg(long, value_name = "NAME")]
    pub sensor: Option<String>,
}

impl SensorArg {
    fn resolve(&self) -> Result<String> {
        report::sensor::resolve(self.sensor.as_deref()).map_err(anyhow::Error::msg)
    }
}

#[derive(Args, Debug)]
pub struct CaptureArgs {
    /// Interface to capture on (see `svcscope interfaces`).
    #[arg(short = 'i', long, value_name = "IFACE")]
    pub interface: String,
    /// Only packets matching this BPF expression (tcpdump syntax), applied in the kernel.
    #[arg(long, value_name = "BPF")]
    pub filter: Option<String>,
    /// Bytes captured of each packet.
    #[arg(long, short = 's', value_name = "BYTES", default_value_t = 262_144)]
    pub snaplen: i32,
    /// Do not put the interface into promiscuous mode.
    #[arg(long, short = 'p')]
    pub no_promisc: bool,
    /// Kernel capture buffer size, e.g. 4MiB (libpcap's default when absent).
    #[arg(long, short = 'B', value_name = "SIZE", value_parser = parse_size)]
    pub buffer_size: Option<u64>,
    /// Deliver packets as they arrive rather than in kernel batches.
    #[arg(long)]
    pub immediate: bool,
    /// Capture with N sockets (Linux), each read by a capture thread of its own and split by
    /// address pair with PACKET_FANOUT; at least N classifier workers (see --workers). Each has a
    /// kernel buffer of --buffer-size. Not with --write.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=16))]
    pub sockets: u8,
    /// Stop after this many packets.
    #[arg(long, short = 'c', value_name = "N")]
    pub count: Option<u64>,
    /// Stop after this long, e.g. 30s, 10m, 2h.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
    /// Print a report of the last interval and since start this often, e.g. 10s.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub interval: Option<Duration>,
    /// Final report format; with --interval and json, every report is one JSON line.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Also save the captured packets to this pcap file (re-analyse it later with `analyze`).
    #[arg(long, short = 'w', value_name = "FILE")]
    pub write: Option<PathBuf>,
    /// With --write: start a new file (FILE1, FILE2, …) before one grows past SIZE, e.g. 100MB.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, requires = "write")]
    pub rotate_size: Option<u64>,
    /// With --write: start a new file every DURATION.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, requires = "write")]
    pub rotate_time: Option<Duration>,
    /// After opening the interface, run as this user with no capabilities (default when root:
    /// nobody, else uid 65534; "root" keeps root). Without root it needs CAP_SETUID and CAP_SETGID.
    #[arg(long, short = 'Z', value_name = "USER")]
    pub user: Option<String>,
    #[command(flatten)]
    pub flows: FlowArgs,
    #[command(flatten)]
    pub ipfix: IpfixArgs,
    /// With --ipfix: export flows still going each time they have been going this long again.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = humantime::parse_duration, requires = "ipfix")]
    pub ipfix_active_timeout: Duration,
    #[command(flatten)]
    pub sensor: SensorArg,
    /// Serve Prometheus metrics at http://ADDR/metrics, e.g. 127.0.0.1:9464.
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<std::net::SocketAddr>,
    /// How many unclassified server ports to list.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub top: usize,
    /// Final report: traffic per service, or per host (what each serves and uses).
    #[arg(long, value_enum, default_value = "services")]
    pub view: View,
    /// No status lines on standard error ("listening on …", "wrote …"): only faults and warnings.
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub select: HostSelection,
    #[command(flatten)]
    pub tracking: TrackingArgs,
}

#[derive(Args, Debug)]
pub struct InterfacesArgs {
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
}

/// Unclassified server ports listed without `--top`.
const DEFAULT_TOP_PORTS: usize = 10;

/// "4096", "64k", "4MiB", "100MB", "1G" → bytes (K/M/G are powers of 1024).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("\"{text}\" is not a size (e.g. 4096, 64k, 4MiB, 1G)"))?;
    let mult = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return Err(format!("\"{text}\": unknown size unit (use k, M or G)")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("\"{text}\" is too large"))
}

/// Runs the command line; errors that stop a command return `Err` (main prints them).
pub fn run(cli: Cli) -> Result<ExitCode> {
    // Made from the argument definitions alone: no catalog needed.
    match &cli.command {
        Command::Completions(args) => return completions(args.shell),
        Command::Man(args) => return man_page(args.subcommand.as_deref()),
        _ => {}
    }
    report::table::set_width(if cli.wide {
        None
    } else {
        report::table::detect_width()
    });
    let catalog = Catalog::load(&cli.catalogs)?;
    match cli.command {
        Command::Catalog(args) => catalog_command(&catalog, &args),
        Command::Analyze(args) => analyze_command(Arc::new(catalog), args),
        Command::Capture(args) => capture_command(Arc::new(catalog), args),
        Command::Interfaces(args) => interfaces_command(&args),
        Command::Hosts(args) => hosts_command(Arc::new(catalog), args),
        Command::Rules(args) => rules_command(Arc::new(catalog), args),
        Command::Completions(_) | Command::Man(_) => unreachable!("handled above"),
    }
}

/// The completion script for `shell`, generated from the argument definitions.
fn completions(shell: clap_complete::Shell) -> Result<ExitCode> {
    let mut out = Vec::new();
    clap_complete::generate(
        shell,
        &mut <Cli as clap::CommandFactory>::command(),
        "svcscope",
        &mut out,
    );
    write_stdout(&String::from_utf8_lossy(&out))?;
    Ok(ExitCode::SUCCESS)
}

/// The man page of svcscope or of one subcommand (named `svcscope-SUBCOMMAND`), in roff.
fn man_page(subcommand: Option<&str>) -> Result<ExitCode> {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    cmd.build();
    let page = match subcommand {
        None => cmd,
        Some(name) => {
            let sub = cmd
                .get_subcommands()
                .find(|c| c.get_name() == name)
                .cloned()
                .ok_or_else(|| anyhow::anyhow!("man {name}: no such subcommand"))?;
            let full = format!("svcscope-{name}");
            sub.name(full.clone()).bin_name(full)
        }
    };
    let mut out = Vec::new();
    clap_mangen::Man::new(page)
        .render(&mut out)
        .context("rendering the man page")?;
    write_stdout(&String::from_utf8_lossy(&out))?;
    Ok(ExitCode::SUCCESS)
}

fn catalog_command(catalog: &Catalog, args: &CatalogArgs) -> Result<ExitCode> {
    no_html(args.format, "catalog")?;
    let filter = RowFilter {
        port: args.port,
        transport: args.transport.map(|t| match t {
            TransportArg::Tcp => Transport::Tcp,
            TransportArg::Udp => Transport::Udp,
            TransportArg::Ip => Transport::Ip,
        }),
        service: args.service.clone(),
        protocol: args.protocol.clone(),
    };
    if args.interfaces {
        let matches = |i: &&crate::catalog::Interface| {
            let has = |text: &Option<String>, hay: &[&str]| {
                text.as_ref().is_none_or(|t| {
                    hay.iter()
                        .any(|h| h.to_lowercase().contains(&t.to_lowercase()))
                })
            };
            let services: Vec<&str> = i
                .services
                .iter()
                .map(|&s| catalog.service(s).name.as_str())
                .collect();
            has(&args.service, &services) && has(&args.protocol, &[&i.name, &i.protocol])
        };
        let list: Vec<&crate::catalog::Interface> =
            catalog.interfaces.iter().filter(matches).collect();
        let text = match args.format {
            Format::Json => report::catalog::interfaces_json(catalog, &list) + "\n",
            Format::Csv => report::catalog::interfaces_csv(catalog, &list),
            Format::Table | Format::Html => report::catalog::interfaces_table(catalog, &list),
        };
        write_stdout(&text)?;
        return Ok(ExitCode::SUCCESS);
    }
    if args.names {
        let contains = |text: &Option<String>, hay: &str| {
            text.as_ref()
                .is_none_or(|t| hay.to_lowercase().contains(&t.to_lowercase()))
        };
        let list: Vec<&crate::catalog::Name> = catalog
            .names
            .iter()
            .filter(|n| {
                contains(&args.protocol, &n.name)
                    && (args.service.is_none()
                        || n.services.iter().any(|&s| {
                            let s = catalog.service(s);
                            contains(&args.service, &s.name)
                                || s.system
                                    .as_ref()
                                    .is_some_and(|x| contains(&args.service, x))
                        }))
            })
            .collect();
        let text = match args.format {
            Format::Json => report::catalog::names_json(catalog, &list) + "\n",
            Format::Csv => report::catalog::names_csv(catalog, &list),
            Format::Table | Format::Html => report::catalog::names_table(catalog, &list),
        };
        write_stdout(&text)?;
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<_> = catalog.query(&filter).collect();
    let text = match args.format {
        Format::Json => report::catalog::json(catalog, &rows) + "\n",
        Format::Csv => report::catalog::csv(catalog, &rows),
        Format::Table | Format::Html if rows.is_empty() => "No catalog rows match.\n".to_string(),
        Format::Table | Format::Html => report::catalog::table(catalog, &rows),
    };
    write_stdout(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// The flow-record writer of `--flows` (JSON Lines; it writes whole lines in blocks of its own),
/// to a file (compressed by its extension, rotated) or standard output.
fn flow_sink(
    catalog: &Arc<Catalog>,
    args: &FlowArgs,
    sensor: &str,
) -> Result<Option<Box<dyn FlowSink>>> {
    if args.flows_rotate_size == Some(0) || args.flows_rotate_time == Some(Duration::ZERO) {
        anyhow::bail!("--flows-rotate-size and --flows-rotate-time must be more than 0");
    }
    let rotated = args.flows_rotate_size.is_some() || args.flows_rotate_time.is_some();
    let out: Box<dyn RecordOutput> = match &args.flows {
        None => return Ok(None),
        Some(p) if p.as_os_str() == "-" && rotated => {
            anyhow::bail!("--flows -: standard output cannot be rotated")
        }
        Some(p) if p.as_os_str() == "-" => Box::new(Unrotated(std::io::stdout())),
        Some(p) => Box::new(
            FlowFiles::create(FlowFileOptions {
                path: p.clone(),
                rotate_size: args.flows_rotate_size,
                rotate_time: args.flows_rotate_time,
            })
            .with_context(|| format!("{}: cannot write flow records", p.display()))?,
        ),
    };
    Ok(Some(Box::new(JsonLines::new(catalog.clone(), sensor, out))))
}

/// Renders the services report; the HTML page holds the host view too (`hosts` builds it with
/// roles from the same aggregate).
fn render(
    report: &Report,
    format: Format,
    hosts: impl FnOnce() -> HostsReport,
    catalog: &Catalog,
) -> String {
    match format {
        Format::Table => report::table::render(report),
        Format::Json => serde_json::to_string_pretty(report).expect("reports serialize") + "\n",
        Format::Csv => report::csv::render(report),
        Format::Html => report::html::render(catalog, report, &hosts()),
    }
}

fn analyze_command(catalog: Arc<Catalog>, args: AnalyzeArgs) -> Result<ExitCode> {
    let sensor = args.sensor.resolve()?;
    let selection = args.select.resolve(&catalog)?;
    let (flows, exporter) = sinks(&catalog, &args.flows, &sensor, &args.ipfix, false)?;
    let exporter = match exporter {
        Some((e, launcher)) => {
            launcher.launch()?;
            Some(e)
        }
        None => None,
    };
    let mut tracker = args.input.tracking.config();
    tracker.selection = selection.clone().map(Arc::new);
    let paths = crate::pipeline::processing_order(&args.input.paths());
    // --write-service: the first pass notes the service's flows, a second writes their packets.
    let write_service = match &args.write_service {
        Some(v) => {
            let (name, out) = (&v[0], PathBuf::from(&v[1]));
            crate::extract::check_rereadable(&paths, &out).map_err(anyhow::Error::msg)?;
            let only = crate::select::Selection::new(
                &catalog,
                Vec::new(),
                &[],
                std::slice::from_ref(name),
            )
            .map_err(|e| anyhow::anyhow!("--write-service: {e}"))?;
            Some((crate::extract::SpanSink::new(catalog.clone(), only), out))
        }
        None => None,
    };
    let flows = match (&write_service, flows) {
        (None, f) => f,
        (Some((spans, _)), None) => Some(Box::new(spans.clone()) as Box<dyn FlowSink>),
        (Some((spans, _)), Some(f)) => {
            Some(Box::new(crate::extract::Tee(f, Box::new(spans.clone()))) as Box<dyn FlowSink>)
        }
    };
    let (analysis, mut failed) = analyze_inputs(&catalog, &args.input, tracker, flows)?;
    let mut report = Report::build(
        &catalog,
        &analysis.aggregate,
        analysis.inputs,
        args.top.unwrap_or(DEFAULT_TOP_PORTS),
    );
    report.sensor = sensor.clone();
    report.health.ipfix = close_exporter(exporter);
    if selection.is_some() || args.sort.is_some() || args.top.is_some() {
        let mut selected = selection
            .as_ref()
            .map(|s| args.select.described(&catalog, s))
            .unwrap_or_default();
        selected.flows_not_selected = analysis.aggregate.flows_not_selected;
        report.narrow(selected, args.sort, args.top);
    }
    let hosts = || {
        let mut h = HostsReport::build(
            &catalog,
            &analysis.aggregate,
            report.inputs.clone(),
            &[],
            true,
        );
        h.sensor = sensor.clone();
        h
    };
    write_stdout(&render(&report, args.format, hosts, &catalog))?;
    if let Some(e) = analysis.flow_log_error {
        warn!("writing flow records failed: {e}");
        failed = true;
    }
    if let Some((sink, out)) = write_service {
        let spans = sink.spans();
        let spans = spans.lock().unwrap_or_else(|e| e.into_inner());
        match crate::extract::write_packets(&paths, args.input.filter.as_deref(), &spans, &out) {
            Err(e) => {
                warn!("{e}");
                failed = true;
            }
            Ok(w) => {
                if spans.flows_not_kept > 0 {
                    warn!(
                        "{}: {} flows of the service not written (more than {} flows)",
                        out.display(),
                        spans.flows_not_kept,
                        crate::extract::MAX_FLOWS
                    );
                    failed = true;
                }
                if w.other_link_type > 0 {
                    warn!(
                        "{}: {} packets of the service not written: their link type differs from the file's",
                        out.display(),
                        w.other_link_type
                    );
                    failed = true;
                }
                if !args.input.quiet {
                    warn!(
                        "wrote {}: {} packets of {} flows",
                        out.display(),
                        w.packets,
                        spans.flows
                    );
                }
            }
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The report could not be written to standard output (a closed pipe, a full disk): the command
/// ran, but its output is lost or cut short, so it exits 1 rather than 2 (see [`exit_code`]).
#[derive(Debug)]
pub struct StdoutError(pub std::io::Error);

impl std::fmt::Display for StdoutError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "writing to standard output: {}", self.0)
    }
}

impl std::error::Error for StdoutError {}

/// Writes to standard output. Any failure, a closed pipe (`| head -0`) too, is a [`StdoutError`]:
/// what was asked for did not all arrive.
pub fn write_stdout(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .map_err(|e| StdoutError(e).into())
}

/// The exit status of a command that returned this error: 1 when the output could not be written
/// (the command ran), else 2 (nothing could run: bad arguments, catalog, filter, interface).
pub fn exit_code(e: &anyhow::Error) -> u8 {
    if e.chain().any(|c| c.is::<StdoutError>()) {
        1
    } else {
        2
    }
}

fn capture_command(catalog: Arc<Catalog>, args: CaptureArgs) -> Result<ExitCode> {
    if args.write.as_ref().is_some_and(|p| p.as_os_str() == "-") {
        // Packets and the report cannot share standard output, and a report that silently went
        // nowhere would be worse than none.
        anyhow::bail!(
            "-w -: packets cannot go to standard output, where the report goes; give -w a file name"
        );
    }
    let nets = args.select.nets()?;
    let sensor = args.sensor.resolve()?;
    if args.format == Format::Html && args.interval.is_some() {
        // Interval reports are text or JSON lines; a page is one document, written at the end.
        anyhow::bail!("--format html writes the final report only: it does not take --interval");
    }
    let live = LiveOptions {
        interface: args.interface.clone(),
        snaplen: args.snaplen,
        promisc: !args.no_promisc,
        buffer_size: args
            .buffer_size
            .map(|b| i32::try_from(b).map_err(|_| anyhow::anyhow!("--buffer-size: at most 2 GiB")))
            .transpose()?,
        immediate: args.immediate,
        filter: args.filter.clone(),
    };
    // Handlers first: a signal during start-up ends the run cleanly too.
    let stop = Arc::new(AtomicBool::new(false));
    for signal in STOP_SIGNALS {
        // Every one of them, the first or a later one, ends the run with the report and whole
        // savefiles (`timeout` sends two; a second Ctrl-C must not throw the report away).
        signal_hook::flag::register(signal, stop.clone())
            .context("installing the signal handler")?;
    }
    let metrics = match args.metrics {
        None => None,
        Some(addr) => Some(
            MetricsServer::bind(addr)
                .with_context(|| format!("--metrics {addr}: cannot listen"))?,
        ),
    };
    let sockets = usize::from(args.sockets);
    if sockets > 1 && args.write.is_some() {
        // One savefile from several capture threads would need a lock per packet and would not
        // be in time order.
        anyhow::bail!("--write takes one capture socket: it does not go with --sockets");
    }
    let sources = if sockets > 1 {
        open_group(&live, sockets)?
    } else {
        vec![LiveSource::open(&live)?]
    };
    let published = Arc::new(Mutex::new(Metrics::default()));
    let (snapshots, exchange) = match &metrics {
        None => (None, None),
        Some(_) => {
            let (exchange, requests) = Exchange::new(report::metrics::CONTENT_TYPE);
            let (catalog, sensor, published, to) = (
                catalog.clone(),
                sensor.clone(),
                published.clone(),
                exchange.clone(),
            );
            let publish = move |tick: &Tick<'_>| {
                let mut report = Report::build(&catalog, tick.snapshot, Vec::new(), 0);
                report.sensor = sensor.clone();
                report.health.live = Some(tick.live.clone());
                publish_metrics(&published, &to, &report, tick.active_flows);
            };
            (
                Some(Snapshots {
                    requests,
                    publish: Box::new(publish),
                }),
                Some(exchange),
            )
        }
    };
    let (flows, exporter) = sinks(&catalog, &args.flows, &sensor, &args.ipfix, true)?;
    let (exporter, launcher) = exporter.unzip();
    let mut tracker = args.tracking.config();
    if exporter.is_some() {
        if args.ipfix_active_timeout < Duration::from_secs(1) {
            anyhow::bail!("--ipfix-active-timeout: at least 1s");
        }
        tracker.active_timeout = Some(args.ipfix_active_timeout);
    }
    let opts = LiveRunOptions {
        tracker,
        // Every socket feeds workers of its own.
        workers: usize::from(args.tracking.workers).max(sockets),
        flows,
        count: args.count,
        duration: args.duration,
        interval: args.interval,
        write: args.write.clone().map(|path| WriteOptions {
            path,
            rotate_size: args.rotate_size,
            rotate_time: args.rotate_time,
        }),
        stop,
        snapshots,
    };
    let link = sources[0].link_type().name();
    let socket_note = if sockets > 1 {
        format!(", {sockets} sockets")
    } else {
        String::new()
    };
    let user = args.user.clone();
    let iface = args.interface.clone();
    let snaplen = args.snaplen;
    let quiet = args.quiet;
    // The server's thread starts once privileges are dropped (they are per thread, and it parses
    // what clients send).
    let serve_metrics = metrics.zip(exchange.clone());
    let before_read = move || {
        let running = drop_privileges(user.as_deref())?;
        // The IPFIX sender starts after the privileges are gone too.
        if let Some(l) = launcher {
            l.launch().map_err(|e| format!("{e:#}"))?;
        }
        if let Some((server, exchange)) = serve_metrics {
            server
                .spawn(exchange)
                .map_err(|e| format!("cannot start the metrics thread: {e}"))?;
        }
        if quiet {
            return Ok(());
        }
        warn!(
            "listening on {iface} ({link}, snaplen {snaplen}{socket_note}), running as {running}; \
             Ctrl-C to stop"
        );
        Ok(())
    };
    let format = args.format;
    let json_lines = format == Format::Json && args.interval.is_some();
    let tick_catalog = catalog.clone();
    let tick_sensor = sensor.clone();
    let result = capture_live(catalog.clone(), sources, opts, before_read, |tick| {
        let mut t = TickReport::new(&tick_catalog, tick);
        t.sensor = tick_sensor.clone();
        match format {
            Format::Json => {
                let _ = write_stdout(
                    &(serde_json::to_string(&t).expect("interval reports serialize") + "\n"),
                );
            }
            Format::Table => {
                let _ = write_stdout(&(t.render() + "\n"));
            }
            // Standard output holds the final CSV alone: one header, one table.
            // (The page is refused with --interval above.)
            Format::Csv | Format::Html => eprint!("{}", t.render() + "\n"),
        }
    })?;
    let mut live = result.live;
    live.savefile = result.saved.as_ref().map(savefile_health);
    let mut report = Report::build(&catalog, &result.aggregate, vec![result.input], args.top);
    report.health.live = Some(live.clone());
    report.health.ipfix = close_exporter(exporter);
    report.sensor = sensor.clone();
    if let Some(exchange) = &exchange {
        // Scrapes from now until the process ends get the final numbers.
        publish_metrics(&published, exchange, &report, 0);
    }
    let text = match args.view {
        View::Hosts => {
            let mut hosts = HostsReport::build(
                &catalog,
                &result.aggregate,
                report.inputs.clone(),
                &nets,
                args.select.role || format == Format::Html,
            );
            hosts.sensor = sensor.clone();
            if json_lines {
                serde_json::to_string(&hosts).expect("host reports serialize") + "\n"
            } else {
                render_hosts(&hosts, format, || report.clone(), &catalog)
            }
        }
        View::Services if json_lines => {
            serde_json::to_string(&report).expect("reports serialize") + "\n"
        }
        View::Services => render(
            &report,
            format,
            || {
                HostsReport::build(
                    &catalog,
                    &result.aggregate,
                    report.inputs.clone(),
                    &nets,
                    true,
                )
            },
            &catalog,
        ),
    };
    write_stdout(&text)?;
    if result.sockets.len() > 1 && !args.quiet {
        let n = result.sockets.len();
        for (i, s) in result.sockets.iter().enumerate() {
            warn!(
                "socket {} of {n}: {} packets read; libpcap received {}, dropped {} (the kernel), \
                 {} by svcscope",
                i + 1,
                s.packets,
                s.libpcap.received,
                s.libpcap.dropped,
                s.dropped_by_svcscope
            );
        }
    }
    let mut failed = false;
    if let Some(e) = &report.inputs[0].error {
        warn!("{e}");
        failed = true;
    }
    if let Some(e) = result.flow_log_error {
        warn!("writing flow records failed: {e}");
        failed = true;
    }
    if let Some(saved) = &result.saved {
        let names: Vec<String> = saved
            .files
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        match &saved.error {
            None if args.quiet => {}
            None => warn!("wrote {}", names.join(", ")),
            Some(e) => {
                warn!(
                    "{e}; {} packets not saved ({} saved in {})",
                    saved.not_saved,
                    saved.saved,
                    names.join(", ")
                );
                failed = true;
            }
        }
    }
    if live.packets_dropped > 0 {
        eprintln!(
            "svcscope: {} packets dropped ({} by the kernel, {} by the interface, {} by svcscope): \
             the report is incomplete",
            live.packets_dropped,
            live.dropped_by_kernel,
            live.dropped_by_interface,
            live.dropped_by_svcscope
        );
    }
    Ok(ExitCode::from(capture_status(failed, &live)))
}

/// Takes a snapshot's report into the metrics and publishes their text.
fn publish_metrics(metrics: &Mutex<Metrics>, to: &Exchange, report: &Report, active_flows: usize) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut m = metrics.lock().unwrap_or_else(|e| e.into_inner());
    m.update(report, active_flows, now);
    to.publish(m.render());
}

/// The signals that end a capture cleanly: Ctrl-C, `kill`, a closed terminal.
pub const STOP_SIGNALS: [i32; 3] = [
    signal_hook::consts::SIGINT,
    signal_hook::consts::SIGTERM,
    signal_hook::consts::SIGHUP,
];

/// Exit status of a capture that ran: 1 when something failed (the capture, a savefile, the flow
/// records), else 3 when packets were dropped (the report is incomplete), else 0.
pub fn capture_status(failed: bool, live: &LiveHealth) -> u8 {
    if failed {
        1
    } else if live.packets_dropped > 0 {
        3
    } else {
        0
    }
}

fn savefile_health(s: &SaveReport) -> SavefileHealth {
    SavefileHealth {
        files: s.files.iter().map(|p| p.display().to_string()).collect(),
        packets_saved: s.saved,
        packets_not_saved: s.not_saved,
        error: s.error.clone(),
    }
}

fn interfaces_command(args: &InterfacesArgs) -> Result<ExitCode> {
    no_html(args.format, "interfaces")?;
    let list = interfaces().map_err(anyhow::Error::msg)?;
    let text = match args.format {
        Format::Json => report::interfaces::json(&list),
        Format::Csv => report::interfaces::csv(&list),
        Format::Table | Format::Html => report::interfaces::table(&list),
    };
    write_stdout(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// Runs the offline pipeline for `hosts` and `rules`; reports input errors on stderr.
fn analyze_inputs(
    catalog: &Arc<Catalog>,
    input: &InputArgs,
    tracker: TrackerConfig,
    flows: Option<Box<dyn FlowSink>>,
) -> Result<(crate::pipeline::Analysis, bool)> {
    if let Some(expr) = &input.filter {
        crate::capture::check_filter(expr).map_err(anyhow::Error::msg)?;
    }
    let opts = AnalyzeOptions {
        workers: usize::from(input.tracking.workers),
        tracker,
        filter: input.filter.clone(),
        flows,
        progress: !input.quiet && std::io::stderr().is_terminal(),
    };
    let analysis = analyze_files(catalog.clone(), &input.paths(), opts);
    let mut failed = false;
    for i in &analysis.inputs {
        if let Some(e) = &i.error {
            warn!("{}: {e}", i.path);
            failed = true;
        }
    }
    Ok((analysis, failed))
}

/// Renders the host view; the HTML page holds the services report too.
fn render_hosts(
    report: &HostsReport,
    format: Format,
    services: impl FnOnce() -> Report,
    catalog: &Catalog,
) -> String {
    match format {
        Format::Table => report.render_table(),
        Format::Json => {
            serde_json::to_string_pretty(report).expect("host reports serialize") + "\n"
        }
        Format::Csv => report.render_csv(),
        Format::Html => report::html::render(catalog, &services(), report),
    }
}

fn hosts_command(catalog: Arc<Catalog>, args: HostsArgs) -> Result<ExitCode> {
    let nets = args.select.nets()?;
    let sensor = args.sensor.resolve()?;
    let (analysis, failed) =
        analyze_inputs(&catalog, &args.input, args.input.tracking.config(), None)?;
    // The page always shows roles.
    let roles = args.select.role || args.format == Format::Html;
    let mut report =
        HostsReport::build(&catalog, &analysis.aggregate, analysis.inputs, &nets, roles);
    report.sensor = sensor.clone();
    report.narrow(args.sort, args.top);
    let services = || {
        let mut r = Report::build(&catalog, &analysis.aggregate, report.inputs.clone(), 10);
        r.sensor = sensor.clone();
        r
    };
    write_stdout(&render_hosts(&report, args.format, services, &catalog))?;
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn rules_command(catalog: Arc<Catalog>, args: RulesArgs) -> Result<ExitCode> {
    let net = Net::parse(&args.host).map_err(anyhow::Error::msg)?;
    if net.prefix != 128 {
        anyhow::bail!("--host takes one address, not a network: {}", args.host);
    }
    let (analysis, failed) =
        analyze_inputs(&catalog, &args.input, args.input.tracking.config(), None)?;
    let report = HostsReport::build(
        &catalog,
        &analysis.aggregate,
        analysis.inputs,
        &[net],
        false,
    );
    let empty = crate::report::hosts::HostRow::new(net.addr);
    let host = report
        .hosts
        .iter()
        .find(|h| h.addr == net.addr)
        .unwrap_or(&empty);
    let Some(text) = crate::report::rules::render(
        &catalog,
        host,
        &report.inputs,
        args.format,
        crate::report::rules::Options {
            remote_from_observed: args.remote_from_observed,
            keep_mismatches: args.keep_mismatches,
        },
    ) else {
        // No rule is no draft: an nftables ruleset of nothing would drop everything inbound.
        let mismatched: Vec<String> = host
            .serves
            .iter()
            .filter(|s| s.app_protocol.is_some() && s.flows > 0 && s.mismatch_flows == s.flows)
            .take(10)
            .map(|s| {
                let carried: Vec<&str> = s.mismatch_payloads.iter().map(|p| p.payload).collect();
                let port = s.port.map_or_else(String::new, |p| format!("/{p}"));
                format!("{}{port} carried {}", s.transport, carried.join(", "))
            })
            .collect();
        if !mismatched.is_empty() {
            warn!(
                "no rules drafted: every port {} served carried another protocol than the catalog's ({}); --keep-mismatches drafts them",
                net.addr,
                mismatched.join("; ")
            );
            return Ok(ExitCode::from(1));
        }
        let mut served: Vec<String> = host
            .serves
            .iter()
            .take(10)
            .map(|s| match s.port {
                Some(p) => format!("{}/{p}", s.transport),
                None => s.transport.clone(),
            })
            .collect();
        if host.serves.len() > served.len() {
            served.push(format!("{} more", host.serves.len() - served.len()));
        }
        warn!(
            "no rules drafted: {} was not seen serving any catalog service{}",
            net.addr,
            if served.is_empty() {
                String::new()
            } else {
                format!(" (it served {}, not in the catalog)", served.join(", "))
            }
        );
        return Ok(ExitCode::from(1));
    };
    write_stdout(&text)?;
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: a capture that dropped packets exited 0. Errors come first (1), then drops (3).
    #[test]
    fn capture_exit_status() {
        let mut live = LiveHealth::default();
        assert_eq!(capture_status(false, &live), 0);
        assert_eq!(capture_status(true, &live), 1);
        for drops in [(1, 0, 0), (0, 1, 0), (0, 0, 1)] {
            live.set_drops(drops.0, drops.1, drops.2);
            assert_eq!(capture_status(false, &live), 3, "{drops:?}");
            assert_eq!(capture_status(true, &live), 1, "{drops:?}");
        }
    }

    #[test]
    fn every_stop_signal_is_handled() {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        for s in [SIGINT, SIGTERM, SIGHUP] {
            assert!(STOP_SIGNALS.contains(&s));
        }
    }
}

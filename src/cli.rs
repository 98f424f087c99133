//! Command line: argument definitions and the subcommands, each a thin layer over the library.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::catalog::{Catalog, RowFilter, Transport};
use crate::flow::{Timeouts, DEFAULT_MAX_FLOWS};
use crate::pipeline::{analyze_files, AnalyzeOptions};
use crate::report::{self, Report};
use crate::tracker::TrackerConfig;

/// Which Windows server services do the hosts on this network talk to?
#[derive(Parser, Debug)]
#[command(name = "svcscope", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Extra catalog file (TOML, same format as catalog/windows-server.toml) that adds to or overrides
    /// the built-in catalog; repeatable, later files win.
    #[arg(long = "catalog", value_name = "FILE", global = true)]
    pub catalogs: Vec<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// List the service catalog: services, application protocols, transports and ports.
    Catalog(CatalogArgs),
    /// Classify the flows in capture files (pcap, pcapng) and report traffic per Windows service.
    Analyze(AnalyzeArgs),
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Csv,
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
    /// A flow to a dynamic RPC port is labelled RPC when its client spoke to the server's endpoint
    /// mapper (TCP 135) within this window before.
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = humantime::parse_duration)]
    pub epm_window: Duration,
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
        }
    }
}

#[derive(Args, Debug)]
pub struct AnalyzeArgs {
    /// Capture files (pcap or pcapng); several make one merged report.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Only packets matching this BPF expression (tcpdump syntax), e.g. 'host 192.0.2.10'.
    #[arg(long, value_name = "BPF")]
    pub filter: Option<String>,
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Also write one JSON object per flow (JSON Lines) to FILE ('-' for standard output).
    #[arg(long, value_name = "FILE")]
    pub flows: Option<PathBuf>,
    /// How many unclassified server ports to list.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub top: usize,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub tracking: TrackingArgs,
}

/// Runs the command line; errors that stop a command return `Err` (main prints them).
pub fn run(cli: Cli) -> Result<ExitCode> {
    let catalog = Catalog::load(&cli.catalogs)?;
    match cli.command {
        Command::Catalog(args) => catalog_command(&catalog, &args),
        Command::Analyze(args) => analyze_command(Arc::new(catalog), args),
    }
}

fn catalog_command(catalog: &Catalog, args: &CatalogArgs) -> Result<ExitCode> {
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
    let rows: Vec<_> = catalog.query(&filter).collect();
    let text = match args.format {
        Format::Json => report::catalog::json(catalog, &rows) + "\n",
        Format::Csv => report::catalog::csv(catalog, &rows),
        Format::Table if rows.is_empty() => "No catalog rows match.\n".to_string(),
        Format::Table => report::catalog::table(catalog, &rows),
    };
    write_stdout(&text)?;
    Ok(ExitCode::SUCCESS)
}

fn analyze_command(catalog: Arc<Catalog>, args: AnalyzeArgs) -> Result<ExitCode> {
    let flows: Option<crate::tracker::FlowSink> = match &args.flows {
        None => None,
        Some(p) if p.as_os_str() == "-" => Some(Box::new(BufWriter::new(std::io::stdout()))),
        Some(p) => Some(Box::new(BufWriter::new(File::create(p).with_context(
            || format!("{}: cannot write flow records", p.display()),
        )?))),
    };
    if let Some(expr) = &args.filter {
        // Check the expression once up front so a typo is one clear error, not one per file.
        crate::capture::compile_filter(pcap::Linktype::ETHERNET, expr)
            .map_err(anyhow::Error::msg)?;
    }
    let opts = AnalyzeOptions {
        tracker: args.tracking.config(),
        filter: args.filter.clone(),
        flows,
        progress: !args.quiet && std::io::stderr().is_terminal(),
    };
    let analysis = analyze_files(catalog.clone(), &args.files, opts);
    let report = Report::build(&catalog, &analysis.aggregate, analysis.inputs, args.top);
    let text = match args.format {
        Format::Table => report::table::render(&report),
        Format::Json => serde_json::to_string_pretty(&report).expect("reports serialize") + "\n",
        Format::Csv => report::csv::render(&report),
    };
    write_stdout(&text)?;
    let mut failed = false;
    for i in &report.inputs {
        if let Some(e) = &i.error {
            eprintln!("svcscope: {}: {e}", i.path);
            failed = true;
        }
    }
    if let Some(e) = analysis.flow_log_error {
        eprintln!(
            "svcscope: {}: writing flow records failed: {e}",
            args.flows
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        );
        failed = true;
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Writes to standard output; a closed pipe (`| head`) is not an error.
pub fn write_stdout(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("writing to standard output"),
    }
}

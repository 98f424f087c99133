//! IPFIX export (`--ipfix HOST:PORT`): one biflow record per ended flow, and live one per active
//! flow every `--ipfix-active-timeout`, sent to a collector over UDP or TCP.
//!
//! The classifier workers' [`IpfixSink`]s (a [`FlowSink`] each) encode records and hand them to one
//! sender thread over a bounded queue of [`QUEUE_RECORDS`] records: live, a full queue drops the
//! record (counted); offline, the worker waits for room, which the sender always makes, since it
//! never waits on the collector longer than a send timeout and drops what it cannot send. The
//! sender packs the records into messages of at most `--ipfix-mtu` bytes, announces each
//! application id's name (an options record) before its first use, resends the templates and
//! the names on a timer and on every new TCP connection, and numbers the messages (RFC 7011: the
//! count of data records sent before this message in the observation domain). Strings (evidence is
//! text from the wire) go out with their control characters written visibly, as on a terminal, so
//! that a collector printing them line by line gets one line per record.

pub mod encode;

use std::io::Write;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::hash::HashMap;
use anyhow::{bail, Context, Result};
use crossbeam_channel::{bounded, select, Receiver, Sender, TrySendError};
use serde::Serialize;

use crate::catalog::Catalog;
use crate::decode::FlowKey;
use crate::flow::{EndReason, Flow, FlowSink, C2S, S2C};
use crate::time::Ts;

use super::escape::visible;
use encode::{end_reason, AppName, FlowData, Message, APP_UNCLASSIFIED};

/// Records the queue to the sender holds (each at most an MTU; about 150 bytes typically).
pub const QUEUE_RECORDS: usize = 4096;
/// The observation domain id of every message.
pub const DOMAIN: u32 = 1;
/// How long a record waits in a message that is not full before the message goes out.
const LINGER: Duration = Duration::from_millis(200);
/// How long a send (and a TCP connection attempt) may take before the collector counts as gone.
const SEND_TIMEOUT: Duration = Duration::from_secs(1);
/// Time between TCP connection attempts.
const RECONNECT: Duration = Duration::from_secs(1);

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    #[default]
    Udp,
    Tcp,
}

/// What the exporter is told.
#[derive(Clone, Debug)]
pub struct Config {
    /// The collector, `HOST:PORT`.
    pub collector: String,
    pub transport: Transport,
    /// The private enterprise number of svcscope's own elements.
    pub pen: u32,
    /// Largest message, in bytes (the UDP payload).
    pub mtu: usize,
    /// How often templates and application names are sent again.
    pub template_refresh: Duration,
    /// Live capture: a full queue drops records instead of waiting.
    pub live: bool,
    /// The sensor name every record carries.
    pub sensor: String,
}

/// The exporter's counters, in the report's health (`health.ipfix`).
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct IpfixHealth {
    pub collector: String,
    pub transport: Transport,
    /// Flow records handed to the exporter (ended flows, and active flows live).
    pub records: u64,
    /// Of them, records of active flows (live, every `--ipfix-active-timeout`).
    pub active_records: u64,
    /// Flow records in messages sent.
    pub records_sent: u64,
    /// Options records (application names) sent.
    pub names_sent: u64,
    pub messages_sent: u64,
    pub template_messages_sent: u64,
    /// Flow records dropped because the queue to the sender was full (live only).
    pub dropped_queue_full: u64,
    /// Flow records in messages that could not be sent (collector unreachable, send failed, no
    /// TCP connection), or left when the exporter stopped.
    pub dropped_unsent: u64,
    /// Sends that failed; on UDP mostly "connection refused" (ICMP port unreachable: nothing
    /// listening on the collector's port).
    pub send_errors: u64,
    /// The last send or connection error, if any.
    pub last_error: Option<String>,
}

#[derive(Default)]
struct Stats {
    records: AtomicU64,
    active: AtomicU64,
    sent: AtomicU64,
    names: AtomicU64,
    messages: AtomicU64,
    templates: AtomicU64,
    queue_full: AtomicU64,
    unsent: AtomicU64,
    errors: AtomicU64,
    last_error: std::sync::Mutex<Option<String>>,
}

impl Stats {
    fn error(&self, e: String) {
        self.errors.fetch_add(1, Relaxed);
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
    }
}

/// One encoded flow record on its way to the sender.
struct Item {
    v6: bool,
    app: u32,
    record: Vec<u8>,
}

/// The exporter: its counters, and the means to stop the sender thread.
pub struct Exporter {
    config: Config,
    stats: Arc<Stats>,
    stop: Sender<()>,
    done: Receiver<()>,
}

/// The sender thread, ready to start: live capture starts it once it has given up its privileges
/// (which needs a process of one thread).
pub struct Launcher {
    outbox: Outbox,
    rx: Receiver<Item>,
    stop: Receiver<()>,
    done: Sender<()>,
}

impl Launcher {
    /// Starts the sender thread.
    pub fn launch(self) -> Result<()> {
        let Launcher {
            mut outbox,
            rx,
            stop,
            done,
        } = self;
        std::thread::Builder::new()
            .name("ipfix".into())
            .spawn(move || {
                outbox.run(rx, stop);
                let _ = done.send(());
            })
            .context("starting the IPFIX sender")?;
        Ok(())
    }
}

/// The collector's address: `HOST:PORT`, the host a name or an address (IPv6 in brackets).
pub fn resolve(collector: &str) -> Result<SocketAddr> {
    let (host, port) = collector
        .rsplit_once(':')
        .with_context(|| format!("--ipfix {collector:?}: expected HOST:PORT"))?;
    if host.is_empty() {
        bail!("--ipfix {collector:?}: expected HOST:PORT (no host)");
    }
    let port: u16 = port
        .parse()
        .ok()
        .filter(|&p| p != 0)
        .with_context(|| format!("--ipfix {collector:?}: the port must be 1 to 65535"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    (host, port)
        .to_socket_addrs()
        .with_context(|| format!("--ipfix {collector:?}: cannot resolve {host:?}"))?
        .next()
        .with_context(|| format!("--ipfix {collector:?}: {host:?} has no address"))
}

impl Exporter {
    /// Checks the options, resolves the collector and opens the socket: the exporter, the first
    /// sink, and the sender to launch. Records queue up (live: up to the bound) until it runs.
    pub fn start(catalog: Arc<Catalog>, config: Config) -> Result<(Exporter, IpfixSink, Launcher)> {
        if !(encode::MIN_MTU..=encode::MAX_MTU).contains(&config.mtu) {
            bail!(
                "--ipfix-mtu {}: must be {} to {} bytes",
                config.mtu,
                encode::MIN_MTU,
                encode::MAX_MTU
            );
        }
        if config.template_refresh < Duration::from_secs(1) {
            bail!("--ipfix-template-refresh: at least 1s");
        }
        let addr = resolve(&config.collector)?;
        let link = match config.transport {
            Transport::Udp => {
                let local: SocketAddr = if addr.is_ipv4() {
                    "0.0.0.0:0".parse().expect("address")
                } else {
                    "[::]:0".parse().expect("address")
                };
                let socket = UdpSocket::bind(local)
                    .and_then(|s| s.connect(addr).map(|()| s))
                    .with_context(|| format!("--ipfix {}: cannot open a UDP socket", addr))?;
                socket
                    .set_write_timeout(Some(SEND_TIMEOUT))
                    .context("--ipfix: setting the send timeout")?;
                Link::Udp(socket)
            }
            Transport::Tcp => Link::Tcp {
                addr,
                stream: None,
                next_try: Instant::now(),
            },
        };
        let stats = Arc::new(Stats::default());
        let (tx, rx) = bounded::<Item>(QUEUE_RECORDS);
        let (stop_tx, stop_rx) = bounded::<()>(1);
        let (done_tx, done_rx) = bounded::<()>(1);
        let labels = catalog.labels.len();
        let outbox = Outbox {
            catalog: catalog.clone(),
            stats: stats.clone(),
            link,
            mtu: config.mtu,
            pen: config.pen,
            refresh: config.template_refresh,
            sequence: 0,
            announced: vec![false; labels + 1],
            pending: None,
        };
        let launcher = Launcher {
            outbox,
            rx,
            stop: stop_rx,
            done: done_tx,
        };
        let sink = IpfixSink {
            sensor: config.sensor.as_str().into(),
            catalog,
            tx,
            stats: stats.clone(),
            live: config.live,
            max_record: config.mtu - encode::HEADER_LEN - encode::SET_HEADER_LEN,
            exported: HashMap::default(),
        };
        Ok((
            Exporter {
                config,
                stats,
                stop: stop_tx,
                done: done_rx,
            },
            sink,
            launcher,
        ))
    }

    /// The counters so far.
    pub fn health(&self) -> IpfixHealth {
        let s = &self.stats;
        IpfixHealth {
            collector: self.config.collector.clone(),
            transport: self.config.transport,
            records: s.records.load(Relaxed),
            active_records: s.active.load(Relaxed),
            records_sent: s.sent.load(Relaxed),
            names_sent: s.names.load(Relaxed),
            messages_sent: s.messages.load(Relaxed),
            template_messages_sent: s.templates.load(Relaxed),
            dropped_queue_full: s.queue_full.load(Relaxed),
            dropped_unsent: s.unsent.load(Relaxed),
            send_errors: s.errors.load(Relaxed),
            last_error: s
                .last_error
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        }
    }

    /// Sends what is queued (waiting at most `wait`), stops the sender and returns the counters.
    /// A sender never launched has nothing to wait for.
    pub fn close(self, wait: Duration) -> IpfixHealth {
        let _ = self.stop.try_send(());
        let _ = self.done.recv_timeout(wait);
        self.health()
    }
}

enum Link {
    Udp(UdpSocket),
    Tcp {
        addr: SocketAddr,
        stream: Option<TcpStream>,
        next_try: Instant,
    },
}

/// The sender thread's state.
struct Outbox {
    catalog: Arc<Catalog>,
    stats: Arc<Stats>,
    link: Link,
    mtu: usize,
    pen: u32,
    refresh: Duration,
    /// Data records (flow and options) sent in this transport session.
    sequence: u32,
    /// Application ids whose names the collector has been sent.
    announced: Vec<bool>,
    /// The message being filled, when it was started, and the names it announces.
    pending: Option<(Message, Instant, Vec<u32>)>,
}

impl Outbox {
    fn run(&mut self, rx: Receiver<Item>, stop: Receiver<()>) {
        // Templates first: on UDP now, on TCP with each new connection.
        if matches!(self.link, Link::Udp(_)) {
            self.send_templates();
        } else {
            self.connect();
        }
        let mut next_refresh = Instant::now() + self.refresh;
        loop {
            let now = Instant::now();
            if now >= next_refresh {
                self.send_templates();
                self.send_names();
                next_refresh = now + self.refresh;
            }
            let linger_end = self.pending.as_ref().map(|p| p.1 + LINGER);
            if linger_end.is_some_and(|t| now >= t) {
                self.flush();
                continue;
            }
            let wake = linger_end.map_or(next_refresh, |t| t.min(next_refresh));
            let timeout = wake.saturating_duration_since(now);
            select! {
                recv(rx) -> item => match item {
                    Ok(item) => self.add(item),
                    Err(_) => break,
                },
                recv(stop) -> _ => {
                    // Whatever is queued now, then stop.
                    while let Ok(item) = rx.try_recv() {
                        self.add(item);
                    }
                    break;
                },
                default(timeout) => {}
            }
        }
        self.flush();
    }

    /// Opens the TCP connection if there is none and it is time to try; templates and names go
    /// first on a new one.
    fn connect(&mut self) -> bool {
        let Link::Tcp {
            addr,
            stream,
            next_try,
        } = &mut self.link
        else {
            return true;
        };
        if stream.is_some() {
            return true;
        }
        if Instant::now() < *next_try {
            return false;
        }
        *next_try = Instant::now() + RECONNECT;
        match TcpStream::connect_timeout(addr, SEND_TIMEOUT) {
            Ok(s) => {
                let _ = s.set_write_timeout(Some(SEND_TIMEOUT));
                let _ = s.set_nodelay(true);
                *stream = Some(s);
                // A new transport session: sequence numbers start again, templates and the
                // names announced so far come first.
                self.sequence = 0;
                self.send_templates();
                self.send_names();
                true
            }
            Err(e) => {
                self.stats.error(format!("connecting to {addr}: {e}"));
                false
            }
        }
    }

    /// Sends one finished message; false (counted) if it could not be sent.
    fn send(&mut self, msg: &[u8]) -> bool {
        let result = match &mut self.link {
            Link::Udp(s) => s.send(msg).map(|_| ()),
            Link::Tcp { stream, .. } => match stream {
                Some(s) => {
                    let r = s.write_all(msg);
                    if r.is_err() {
                        *stream = None;
                    }
                    r
                }
                None => Err(std::io::Error::new(
                    std::io::ErrorKind::NotConnected,
                    "not connected",
                )),
            },
        };
        match result {
            Ok(()) => {
                self.stats.messages.fetch_add(1, Relaxed);
                true
            }
            Err(e) => {
                self.stats.error(e.to_string());
                false
            }
        }
    }

    fn export_secs() -> u32 {
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as u32)
    }

    fn send_templates(&mut self) {
        if !self.connect() {
            return;
        }
        let mut m = Message::new(self.mtu);
        if m.push_raw_sets(&encode::template_sets(self.pen)) {
            let msg = m.finish(Self::export_secs(), self.sequence, DOMAIN);
            if self.send(&msg) {
                self.stats.templates.fetch_add(1, Relaxed);
            }
        }
    }

    /// The name of an application id.
    fn app_name(&self, app: u32) -> AppName {
        if app == APP_UNCLASSIFIED {
            return AppName {
                app,
                name: "unclassified".into(),
                description: "no catalog row matches the flow".into(),
            };
        }
        let id = (app - 1) as crate::catalog::LabelId;
        let label = self.catalog.label(id);
        let services: Vec<&str> = label
            .services
            .iter()
            .map(|&s| self.catalog.service(s).name.as_str())
            .collect();
        AppName {
            app,
            name: visible(&label.name).into_owned(),
            description: visible(&format!(
                "{} {}: {}",
                label.name,
                super::port_text(&self.catalog, id),
                services.join(", ")
            ))
            .into_owned(),
        }
    }

    /// Sends the names of every application id announced so far again.
    fn send_names(&mut self) {
        let apps: Vec<u32> = (0..self.announced.len() as u32)
            .filter(|&a| self.announced[a as usize])
            .collect();
        for app in apps {
            self.announced[app as usize] = false;
            self.announce(app);
        }
        self.flush();
    }

    /// Adds `app`'s options record to the pending message.
    fn announce(&mut self, app: u32) {
        let name = self.app_name(app);
        let mut record = Vec::with_capacity(AppName::LEN);
        name.encode(&mut record);
        if self.append(encode::TEMPLATE_APPS, &record) {
            if let Some(slot) = self.announced.get_mut(app as usize) {
                *slot = true;
            }
            if let Some(p) = &mut self.pending {
                p.2.push(app);
            }
        }
    }

    /// Adds a record to the pending message, sending that first when the record does not fit.
    fn append(&mut self, template: u16, record: &[u8]) -> bool {
        for _ in 0..2 {
            let (m, _, _) = self
                .pending
                .get_or_insert_with(|| (Message::new(self.mtu), Instant::now(), Vec::new()));
            let fits = m.push(template, |room, out| {
                if record.len() > room {
                    return false;
                }
                out.extend_from_slice(record);
                true
            });
            if fits {
                return true;
            }
            if m.is_empty() {
                break;
            }
            self.flush();
        }
        false
    }

    fn add(&mut self, item: Item) {
        let app = item.app as usize;
        if app < self.announced.len() && !self.announced[app] {
            self.announce(item.app);
        }
        let template = if item.v6 {
            encode::TEMPLATE_V6
        } else {
            encode::TEMPLATE_V4
        };
        if !self.append(template, &item.record) {
            self.stats.unsent.fetch_add(1, Relaxed);
        }
    }

    /// Sends the pending message, if any.
    fn flush(&mut self) {
        let Some((m, _, names)) = self.pending.take() else {
            return;
        };
        let records = m.records;
        if records == 0 {
            return;
        }
        let n_names = names.len() as u64;
        let flows = u64::from(records) - n_names;
        let connected = self.connect();
        let msg = m.finish(Self::export_secs(), self.sequence, DOMAIN);
        if connected && self.send(&msg) {
            self.sequence = self.sequence.wrapping_add(records);
            self.stats.sent.fetch_add(flows, Relaxed);
            self.stats.names.fetch_add(n_names, Relaxed);
        } else {
            self.stats.unsent.fetch_add(flows, Relaxed);
            // Those names were not seen: announce them again with their next use.
            for app in names {
                if let Some(a) = self.announced.get_mut(app as usize) {
                    *a = false;
                }
            }
        }
    }
}

/// A worker's end of the exporter: encodes records and queues them for the sender.
pub struct IpfixSink {
    catalog: Arc<Catalog>,
    sensor: Arc<str>,
    tx: Sender<Item>,
    stats: Arc<Stats>,
    live: bool,
    max_record: usize,
    /// Flows exported as active, by key and start: what those records counted, so that later
    /// records carry only what came since (delta counts). At most one entry per flow in the
    /// worker's table; an entry goes when its flow ends.
    exported: HashMap<(FlowKey, Ts), [u64; 4]>,
}

/// Milliseconds since the epoch of a trace time (0 before 1970).
fn millis(ts: Ts) -> u64 {
    u64::try_from(ts.div_euclid(1_000_000)).unwrap_or(0)
}

impl IpfixSink {
    /// The record of a flow, with counts since `before` (packets and bytes each way).
    fn data(&self, f: &Flow, reason: u8, before: [u64; 4]) -> FlowData {
        let catalog = &self.catalog;
        let (client, cport) = f.client();
        let (server, sport) = f.server();
        let ports = f.has_ports();
        let attribution = f.attribution(catalog);
        let services: Vec<&str> = attribution
            .services
            .iter()
            .map(|&s| {
                let s = catalog.service(s);
                s.system.as_deref().unwrap_or(&s.name)
            })
            .collect();
        let slot = f.slot.as_deref();
        let evidence: Vec<String> = slot
            .iter()
            .flat_map(|s| s.evidence.iter())
            .map(|e| match e.value.text() {
                Some(v) => format!("{}={v}", e.kind.as_str()),
                None => e.kind.as_str().to_string(),
            })
            .collect();
        FlowData {
            client: client.ip(),
            server: server.ip(),
            client_port: if ports { cport } else { 0 },
            server_port: if ports { sport } else { 0 },
            protocol: f.key.protocol,
            flags_c2s: f.flags[C2S],
            flags_s2c: f.flags[S2C],
            start_ms: millis(f.first_ts),
            end_ms: millis(f.last_ts),
            packets_c2s: f.packets[C2S].saturating_sub(before[0]),
            packets_s2c: f.packets[S2C].saturating_sub(before[1]),
            bytes_c2s: f.bytes[C2S].saturating_sub(before[2]),
            bytes_s2c: f.bytes[S2C].saturating_sub(before[3]),
            end_reason: reason,
            app: f.class.label.map_or(APP_UNCLASSIFIED, |l| u32::from(l) + 1),
            services: visible(&services.join(",")).into_owned(),
            basis: attribution.basis.as_str(),
            provenance: f.class.provenance.as_str(),
            rpc_interface: slot
                .and_then(|s| s.interface)
                .map(|u| u.to_string())
                .unwrap_or_default(),
            evidence: visible(&evidence.join(";")).into_owned(),
            sensor: self.sensor.to_string(),
        }
    }

    fn queue(&mut self, data: FlowData) {
        self.stats.records.fetch_add(1, Relaxed);
        let mut record = Vec::with_capacity(160);
        if !data.encode(self.max_record, &mut record) {
            // Not reached: the smallest MTU holds the fixed part with room to spare.
            self.stats.unsent.fetch_add(1, Relaxed);
            return;
        }
        let item = Item {
            v6: data.is_v6(),
            app: data.app,
            record,
        };
        let sent = if self.live {
            match self.tx.try_send(item) {
                Ok(()) => Ok(()),
                Err(TrySendError::Full(_)) => {
                    self.stats.queue_full.fetch_add(1, Relaxed);
                    return;
                }
                Err(TrySendError::Disconnected(_)) => Err(()),
            }
        } else {
            self.tx.send(item).map_err(|_| ())
        };
        if sent.is_err() {
            self.stats.unsent.fetch_add(1, Relaxed);
        }
    }
}

impl FlowSink for IpfixSink {
    fn ended(&mut self, f: &Flow, why: EndReason) {
        let before = self
            .exported
            .remove(&(f.key, f.first_ts))
            .unwrap_or_default();
        let reason = match why {
            EndReason::Idle => end_reason::IDLE,
            EndReason::Closed | EndReason::Reused => end_reason::END_OF_FLOW,
            EndReason::Evicted => end_reason::LACK_OF_RESOURCES,
            EndReason::EndOfInput => end_reason::FORCED,
        };
        let data = self.data(f, reason, before);
        self.queue(data);
    }

    fn active(&mut self, f: &Flow) {
        let key = (f.key, f.first_ts);
        let before = self.exported.get(&key).copied().unwrap_or_default();
        let data = self.data(f, end_reason::ACTIVE, before);
        self.stats.active.fetch_add(1, Relaxed);
        self.exported.insert(
            key,
            [f.packets[C2S], f.packets[S2C], f.bytes[C2S], f.bytes[S2C]],
        );
        self.queue(data);
    }

    fn finish(&mut self) -> Result<(), String> {
        // The sender sends what is queued when the exporter closes; its faults are counted in
        // the health, not errors of the run.
        Ok(())
    }

    fn fork(&self) -> Box<dyn FlowSink> {
        Box::new(IpfixSink {
            catalog: self.catalog.clone(),
            sensor: self.sensor.clone(),
            tx: self.tx.clone(),
            stats: self.stats.clone(),
            live: self.live,
            max_record: self.max_record,
            exported: HashMap::default(),
        })
    }
}

#[cfg(test)]
mod tests;

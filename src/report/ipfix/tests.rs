//! The exporter against sockets of the test's own: what a collector receives.

use std::io::Read;
use std::net::{TcpListener, UdpSocket};

use super::encode::decode::{message, Decoded, Templates};
use super::*;
use crate::decode::{proto, Addr};
use crate::flow::{Class, ServerRule};
use crate::inspect::Provenance;

/// A TCP flow from 192.0.2.`client`:`port` to 192.0.2.10:88 with some traffic, labelled as the
/// catalog labels Kerberos on TCP 88.
fn flow(catalog: &Catalog, client: u8, port: u16) -> Flow {
    let server = Addr::from_v4([192, 0, 2, 10]);
    let (key, _) = FlowKey::of(
        proto::TCP,
        Addr::from_v4([192, 0, 2, client]),
        server,
        Some((port, 88)),
    );
    let class = Class {
        client_is_lo: key.lo != server,
        server_rule: ServerRule::Syn,
        label: catalog
            .labels
            .iter()
            .position(|l| l.name == "Kerberos" && l.transport == crate::catalog::Transport::Tcp)
            .map(|i| i as crate::catalog::LabelId),
        provenance: Provenance::Port,
        inspector: None,
    };
    let mut f = Flow::new(key, class, 1_709_542_800_000_000_000);
    f.last_ts = f.first_ts + 250_000_000;
    f.packets = [6, 4];
    f.bytes = [680, 1724];
    f.flags = [0x1b, 0x12];
    f
}

fn config(collector: String, transport: Transport) -> Config {
    Config {
        collector,
        transport,
        pen: 32473,
        mtu: 1400,
        template_refresh: Duration::from_secs(60),
        live: false,
        sensor: "edge-1".into(),
    }
}

fn udp_collector() -> (UdpSocket, String) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let addr = socket.local_addr().unwrap().to_string();
    (socket, addr)
}

/// Every datagram until none comes for a while.
fn receive(socket: &UdpSocket) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 70_000];
    while let Ok(n) = socket.recv(&mut buf) {
        out.push(buf[..n].to_vec());
    }
    out
}

/// Decodes the messages in order, checking that each one's sequence number counts the data
/// records (flow and options) of the messages before it.
fn decode_all(messages: &[Vec<u8>]) -> Vec<Decoded> {
    let mut known: Templates = Vec::new();
    let mut expected = 0u32;
    messages
        .iter()
        .map(|m| {
            let d = message(m, &mut known).unwrap();
            assert_eq!(d.sequence, expected, "sequence number");
            assert_eq!(d.domain, DOMAIN);
            expected += d.records.len() as u32;
            d
        })
        .collect()
}

fn catalog() -> Arc<Catalog> {
    Arc::new(Catalog::builtin())
}

#[test]
fn a_udp_collector_gets_templates_first_then_names_then_records_in_order() {
    let catalog = catalog();
    let (socket, addr) = udp_collector();
    let (exporter, sink, launcher) =
        Exporter::start(catalog.clone(), config(addr, Transport::Udp)).unwrap();
    launcher.launch().unwrap();
    let mut sink: Box<dyn FlowSink> = Box::new(sink);
    let mut other = sink.fork();
    for port in 0..150u16 {
        sink.ended(&flow(&catalog, 101, 40_000 + port), EndReason::Closed);
        other.ended(&flow(&catalog, 102, 40_000 + port), EndReason::Idle);
    }
    drop((sink, other));
    let health = exporter.close(Duration::from_secs(5));
    let messages = receive(&socket);
    let decoded = decode_all(&messages);
    assert!(messages.iter().all(|m| m.len() <= 1400));
    assert_eq!(decoded[0].templates.len(), 3, "templates first");
    assert!(decoded[0].records.is_empty());
    let records: Vec<&(u16, Vec<Vec<u8>>)> = decoded.iter().flat_map(|d| &d.records).collect();
    // The name of the one application id comes before its first use, once.
    assert_eq!(records[0].0, encode::TEMPLATE_APPS);
    let app = &records[0].1[0];
    assert_eq!(&records[0].1[1][..9], b"Kerberos\0");
    let flows: Vec<_> = records
        .iter()
        .filter(|r| r.0 == encode::TEMPLATE_V4)
        .collect();
    assert_eq!(flows.len(), 300);
    assert!(flows.iter().all(|r| &r.1[15] == app));
    assert_eq!(records.len(), 301);
    // Several messages, each as full as the records allow.
    let per_message = (1400 - 20) / (FlowData::fixed_len(false) + 1 + 4 + 4 + 5 + 1 + 1 + 7);
    assert!(
        messages.len() - 1 <= 300 / per_message + 2,
        "{} messages",
        messages.len()
    );
    assert_eq!(health.records, 300);
    assert_eq!(health.records_sent, 300);
    assert_eq!(health.names_sent, 1);
    assert_eq!(health.messages_sent as usize, messages.len());
    assert_eq!(health.template_messages_sent, 1);
    assert_eq!(health.dropped_queue_full + health.dropped_unsent, 0);
}

#[test]
fn messages_stay_within_a_small_mtu() {
    let catalog = catalog();
    let (socket, addr) = udp_collector();
    let mut cfg = config(addr, Transport::Udp);
    cfg.mtu = encode::MIN_MTU;
    let (exporter, mut sink, launcher) = Exporter::start(catalog.clone(), cfg).unwrap();
    launcher.launch().unwrap();
    for port in 0..100u16 {
        let mut f = flow(&catalog, 101, 40_000 + port);
        // Flows without a label: the unclassified application id.
        f.class.label = None;
        sink.ended(&f, EndReason::Closed);
    }
    drop(sink);
    let health = exporter.close(Duration::from_secs(5));
    let messages = receive(&socket);
    assert!(messages.iter().all(|m| m.len() <= encode::MIN_MTU));
    let decoded = decode_all(&messages);
    let flows = decoded
        .iter()
        .flat_map(|d| &d.records)
        .filter(|r| r.0 == encode::TEMPLATE_V4)
        .count();
    assert_eq!(flows, 100);
    assert_eq!(health.records_sent, 100);
    assert!(messages.len() > 10, "{} messages", messages.len());
}

/// Regression: nothing listening on the collector's port (ICMP port unreachable) must neither
/// stop the run nor hang it; the sends that failed are counted.
#[test]
fn an_unreachable_udp_collector_is_counted_and_does_not_hang() {
    let catalog = catalog();
    let addr = {
        let (socket, addr) = udp_collector();
        drop(socket);
        addr
    };
    let mut cfg = config(addr, Transport::Udp);
    cfg.mtu = encode::MIN_MTU;
    let start = Instant::now();
    let (exporter, mut sink, launcher) = Exporter::start(catalog.clone(), cfg).unwrap();
    launcher.launch().unwrap();
    for port in 0..200u16 {
        sink.ended(&flow(&catalog, 101, 40_000 + port), EndReason::Closed);
        if port % 20 == 0 {
            // Room for the port-unreachable answers to come back.
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    drop(sink);
    let health = exporter.close(Duration::from_secs(5));
    assert!(start.elapsed() < Duration::from_secs(4));
    assert!(health.send_errors > 0, "{health:?}");
    assert!(health.dropped_unsent > 0, "{health:?}");
    assert_eq!(
        health.records_sent + health.dropped_unsent,
        200,
        "{health:?}"
    );
    assert!(health.last_error.as_deref().unwrap().contains("refused"));
}

/// The queue to the sender holds at most `QUEUE_RECORDS`: live, whatever does not fit is dropped
/// and counted, and the worker never waits.
#[test]
fn a_full_queue_drops_and_counts_instead_of_growing() {
    let catalog = catalog();
    let stats = Arc::new(Stats::default());
    let (tx, rx) = bounded(QUEUE_RECORDS);
    let mut sink = IpfixSink {
        catalog: catalog.clone(),
        sensor: "edge-1".into(),
        tx,
        stats: stats.clone(),
        live: true,
        max_record: 1380,
        exported: HashMap::default(),
    };
    let f = flow(&catalog, 101, 40_000);
    let start = Instant::now();
    for _ in 0..QUEUE_RECORDS + 25 {
        sink.ended(&f, EndReason::Closed);
    }
    assert!(start.elapsed() < Duration::from_secs(2));
    assert_eq!(rx.len(), QUEUE_RECORDS);
    assert_eq!(stats.queue_full.load(Relaxed), 25);
    assert_eq!(stats.records.load(Relaxed), QUEUE_RECORDS as u64 + 25);
}

#[test]
fn templates_and_names_are_sent_again_on_the_timer() {
    let catalog = catalog();
    let (socket, addr) = udp_collector();
    let mut cfg = config(addr, Transport::Udp);
    cfg.template_refresh = Duration::from_secs(1);
    let (exporter, mut sink, launcher) = Exporter::start(catalog.clone(), cfg).unwrap();
    launcher.launch().unwrap();
    sink.ended(&flow(&catalog, 101, 40_000), EndReason::Closed);
    std::thread::sleep(Duration::from_millis(1_300));
    drop(sink);
    let health = exporter.close(Duration::from_secs(5));
    let decoded = decode_all(&receive(&socket));
    let templates = decoded.iter().filter(|d| !d.templates.is_empty()).count();
    let names = decoded
        .iter()
        .flat_map(|d| &d.records)
        .filter(|r| r.0 == encode::TEMPLATE_APPS)
        .count();
    assert_eq!(templates, 2);
    assert_eq!(names, 2, "the name again after the templates");
    assert_eq!(health.template_messages_sent, 2);
}

/// Active records carry what came since the previous record of the flow (delta counts), and the
/// final record the rest.
#[test]
fn active_records_count_what_came_since_the_last_one() {
    let catalog = catalog();
    let (socket, addr) = udp_collector();
    let (exporter, mut sink, launcher) =
        Exporter::start(catalog.clone(), config(addr, Transport::Udp)).unwrap();
    launcher.launch().unwrap();
    let mut f = flow(&catalog, 101, 40_000);
    sink.active(&f);
    f.packets = [10, 9];
    f.bytes = [1000, 2000];
    sink.active(&f);
    f.packets = [11, 9];
    f.bytes = [1100, 2000];
    sink.ended(&f, EndReason::Idle);
    assert!(sink.exported.is_empty(), "the ended flow is forgotten");
    drop(sink);
    let health = exporter.close(Duration::from_secs(5));
    let decoded = decode_all(&receive(&socket));
    let flows: Vec<&Vec<Vec<u8>>> = decoded
        .iter()
        .flat_map(|d| &d.records)
        .filter(|r| r.0 == encode::TEMPLATE_V4)
        .map(|r| &r.1)
        .collect();
    let n = |v: &Vec<u8>| u64::from_be_bytes(v[..].try_into().unwrap());
    let counts: Vec<[u64; 4]> = flows
        .iter()
        .map(|r| [n(&r[9]), n(&r[10]), n(&r[11]), n(&r[12])])
        .collect();
    assert_eq!(
        counts,
        [[680, 6, 1724, 4], [320, 4, 276, 5], [100, 1, 0, 0]]
    );
    let reasons: Vec<u8> = flows.iter().map(|r| r[13][0]).collect();
    assert_eq!(
        reasons,
        [end_reason::ACTIVE, end_reason::ACTIVE, end_reason::IDLE]
    );
    assert_eq!(health.active_records, 2);
}

/// Splits a TCP stream into IPFIX messages by their length fields.
fn split_stream(mut bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while bytes.len() >= 4 {
        let len = usize::from(u16::from_be_bytes([bytes[2], bytes[3]]));
        assert!(
            len >= encode::HEADER_LEN && len <= bytes.len(),
            "cut message"
        );
        out.push(bytes[..len].to_vec());
        bytes = &bytes[len..];
    }
    assert!(bytes.is_empty());
    out
}

/// Over TCP each connection is a new transport session: templates first, sequence numbers from
/// zero; a collector that goes away and comes back gets both again.
#[test]
fn a_tcp_collector_that_comes_back_gets_templates_again() {
    let catalog = catalog();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (exporter, mut sink, launcher) =
        Exporter::start(catalog.clone(), config(addr, Transport::Tcp)).unwrap();
    launcher.launch().unwrap();
    let read_session = |n: usize| {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_millis(800)))
            .unwrap();
        let mut bytes = Vec::new();
        let mut buf = [0u8; 4096];
        let mut messages = Vec::new();
        while messages.len() < n {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(k) => bytes.extend_from_slice(&buf[..k]),
            }
            if bytes.len() >= 4 {
                let whole = {
                    let mut at = 0;
                    while at + 4 <= bytes.len() {
                        let len = usize::from(u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]));
                        if at + len > bytes.len() {
                            break;
                        }
                        at += len;
                    }
                    at
                };
                messages = split_stream(&bytes[..whole]);
            }
        }
        messages
    };
    sink.ended(&flow(&catalog, 101, 40_000), EndReason::Closed);
    let first = read_session(2);
    let d = decode_all(&first);
    assert_eq!(d[0].templates.len(), 3);
    assert_eq!(d[1].records.len(), 2, "the name and the flow");
    // The collector went away (the session above was dropped); the next record finds out, and
    // the one after goes on a new connection.
    std::thread::sleep(Duration::from_millis(300));
    let mut second = Vec::new();
    for port in 1..40u16 {
        sink.ended(&flow(&catalog, 101, 40_000 + port), EndReason::Closed);
        std::thread::sleep(Duration::from_millis(60));
        if port == 30 {
            second = read_session(2);
        }
    }
    let d = decode_all(&second);
    assert_eq!(
        d[0].templates.len(),
        3,
        "templates first on the new connection"
    );
    assert_eq!(d[0].sequence, 0);
    assert_eq!(d[1].records[0].0, encode::TEMPLATE_APPS, "the name again");
    drop(sink);
    let health = exporter.close(Duration::from_secs(5));
    assert!(health.template_messages_sent >= 2, "{health:?}");
}

#[test]
fn bad_collector_addresses_are_one_line_errors() {
    let catalog = catalog();
    for (bad, says) in [
        ("nocolon", "expected HOST:PORT"),
        (":4739", "no host"),
        ("127.0.0.1:0", "1 to 65535"),
        ("127.0.0.1:99999", "1 to 65535"),
        ("127.0.0.1:port", "1 to 65535"),
        ("no-such-host.invalid:4739", "cannot resolve"),
    ] {
        let e = Exporter::start(catalog.clone(), config(bad.into(), Transport::Udp))
            .err()
            .unwrap_or_else(|| panic!("{bad} accepted"));
        let text = format!("{e:#}");
        assert!(text.contains(says), "{bad}: {text}");
        assert!(!text.contains('\n'));
    }
    let mut cfg = config("127.0.0.1:4739".into(), Transport::Udp);
    cfg.mtu = 100;
    assert!(Exporter::start(catalog.clone(), cfg).is_err());
    assert!(resolve("[::1]:4739").unwrap().is_ipv6());
}

/// Regression: evidence is text from the wire; a share name with a line break must not start a
/// new line in a collector's output.
#[test]
fn control_characters_in_evidence_are_written_visibly() {
    use crate::inspect::{Evidence, EvidenceKind, Slot, Value};
    let catalog = catalog();
    let (socket, addr) = udp_collector();
    let (exporter, mut sink, launcher) =
        Exporter::start(catalog.clone(), config(addr, Transport::Udp)).unwrap();
    launcher.launch().unwrap();
    let mut f = flow(&catalog, 101, 40_000);
    let evidence = Evidence::labelled(
        EvidenceKind::SmbShare,
        Value::Text("IPC$\n1.2.3.4|forged".into()),
        None,
    );
    f.slot = Some(Box::new(Slot::with(evidence, None)));
    sink.ended(&f, EndReason::Closed);
    drop(sink);
    exporter.close(Duration::from_secs(5));
    let decoded = decode_all(&receive(&socket));
    let record = decoded
        .iter()
        .flat_map(|d| &d.records)
        .find(|r| r.0 == encode::TEMPLATE_V4)
        .unwrap();
    let text = std::str::from_utf8(&record.1[20]).unwrap();
    assert_eq!(text, "smb-share=IPC$\\n1.2.3.4|forged");
    assert_eq!(record.1[21], b"edge-1", "the sensor name");
}

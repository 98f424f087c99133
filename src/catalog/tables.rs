//! The catalog's lookup tables: rows compiled into labels (one per distinct port, IP protocol and
//! RPC interface) and flat arrays indexed by port or protocol number, so that classifying a flow is
//! one array access.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use super::*;

impl Catalog {
    pub(super) fn index(
        services: Vec<Service>,
        rows: Vec<Row>,
        interfaces: Vec<Interface>,
        names: Vec<Name>,
        dynamic_ranges: Vec<(u16, u16)>,
        dynamic_source: SourcePos,
    ) -> Catalog {
        // Group rows by (transport, spec) keeping first-seen order of application protocols. A
        // service has at most one row per (transport, spec), so it is in at most one group of a key,
        // once. Rows with `candidate = false` are in no label: only evidence names their service.
        let mut by_key: BTreeMap<(Transport, PortSpec), Vec<LabelGroup>> = BTreeMap::new();
        let mut group_of: FxHashMap<(Transport, PortSpec, &str), usize> = FxHashMap::default();
        for row in rows.iter().filter(|r| r.candidate) {
            let groups = by_key.entry((row.transport, row.spec)).or_default();
            match group_of.entry((row.transport, row.spec, row.app.as_str())) {
                std::collections::hash_map::Entry::Occupied(g) => {
                    groups[*g.get()].services.push(row.service)
                }
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(groups.len());
                    groups.push(LabelGroup {
                        app: row.app.clone(),
                        services: vec![row.service],
                    })
                }
            }
        }
        let mut labels = Vec::new();
        let mut tcp = vec![None; 65536];
        let mut udp = vec![None; 65536];
        let mut ip = vec![None; 256];
        for ((transport, spec), groups) in by_key {
            if spec == PortSpec::Dynamic {
                continue;
            }
            let id = labels.len() as LabelId;
            labels.push(make_label(transport, spec, groups));
            match (transport, spec) {
                (Transport::Tcp, PortSpec::Port(p)) => tcp[p as usize] = Some(id),
                (Transport::Udp, PortSpec::Port(p)) => udp[p as usize] = Some(id),
                (Transport::Ip, PortSpec::IpProtocol(n)) => ip[n as usize] = Some(id),
                _ => unreachable!("rows are validated when parsed"),
            }
        }
        // Dynamic RPC: the services with a random-port row and an RPC endpoint-mapper (TCP 135) row.
        // (FTP Publishing's random ports are passive FTP data, announced on the FTP control channel.)
        let tcp_specs: std::collections::HashSet<(ServiceId, PortSpec)> = rows
            .iter()
            .filter(|r| r.transport == Transport::Tcp && r.candidate)
            .map(|r| (r.service, r.spec))
            .collect();
        let has = |sid: ServiceId, spec: PortSpec| tcp_specs.contains(&(sid, spec));
        // The services with a random-port row and a row for this TCP port.
        let random_ports_and = |port: u16| -> Vec<ServiceId> {
            (0..services.len() as ServiceId)
                .filter(|&s| has(s, PortSpec::Dynamic) && has(s, PortSpec::Port(port)))
                .collect()
        };
        let rpc_services = random_ports_and(135);
        let rpc_dynamic = (!rpc_services.is_empty()).then(|| {
            push_dynamic(
                &mut labels,
                Transport::Tcp,
                RPC_DYNAMIC_APP.to_string(),
                rpc_services.clone(),
            )
        });
        // One label per interface and transport (connection-oriented over TCP, connectionless over UDP),
        // and one for interfaces the catalog does not list.
        let mut interface_labels = FxHashMap::default();
        let mut rpc_unknown = [None; 2];
        for (udp, transport) in [(false, Transport::Tcp), (true, Transport::Udp)] {
            for (i, iface) in interfaces.iter().enumerate() {
                let app = if iface.protocol.is_empty() {
                    format!("RPC {}", iface.name)
                } else {
                    format!("RPC {} ({})", iface.name, iface.protocol)
                };
                let id = push_dynamic(&mut labels, transport, app, iface.services.clone());
                labels[usize::from(id)].interface = Some(i as u16);
                interface_labels.insert((iface.uuid, udp), id);
            }
            rpc_unknown[usize::from(udp)] = Some(push_dynamic(
                &mut labels,
                transport,
                RPC_UNKNOWN_INTERFACE_APP.to_string(),
                rpc_services.clone(),
            ));
        }
        // FTP data on ports the control connection announces: the services with an FTP control row on
        // TCP 21 and random high ports (FTP Publishing Service).
        let ftp_services = random_ports_and(21);
        let ftp_data = (!ftp_services.is_empty()).then(|| {
            push_dynamic(
                &mut labels,
                Transport::Tcp,
                FTP_DATA_APP.to_string(),
                ftp_services,
            )
        });
        let mut dynamic_port = vec![false; 65536];
        for &(first, last) in &dynamic_ranges {
            for p in first..=last {
                dynamic_port[p as usize] = true;
            }
        }
        Catalog {
            services,
            rows,
            dynamic_ranges,
            dynamic_source,
            labels,
            interfaces,
            name_index: names
                .iter()
                .enumerate()
                .map(|(i, n)| ((n.kind, n.name.clone()), i as NameId))
                .collect(),
            names,
            interface_labels,
            rpc_unknown,
            ftp_data,
            tcp,
            udp,
            ip,
            dynamic_port,
            rpc_dynamic,
        }
    }

    /// The label of flows bound to a DCE/RPC interface (over UDP: connectionless); interfaces the
    /// catalog does not list share one label.
    pub fn interface_label(&self, uuid: Uuid, udp: bool) -> Option<LabelId> {
        self.interface_labels
            .get(&(uuid, udp))
            .copied()
            .or(self.rpc_unknown[usize::from(udp)])
    }

    /// The label of FTP data connections announced on the control connection.
    pub fn ftp_data_label(&self) -> Option<LabelId> {
        self.ftp_data
    }

    /// The catalog's entry for an interface, if it lists it.
    pub fn interface(&self, uuid: Uuid) -> Option<&Interface> {
        self.interface_labels
            .get(&(uuid, false))
            .and_then(|&l| self.labels[usize::from(l)].interface)
            .map(|i| &self.interfaces[usize::from(i)])
    }

    /// The label for a TCP or UDP port, if the catalog has one. O(1).
    #[inline]
    pub fn lookup_port(&self, transport: Transport, port: u16) -> Option<LabelId> {
        match transport {
            Transport::Tcp => self.tcp[port as usize],
            Transport::Udp => self.udp[port as usize],
            Transport::Ip => None,
        }
    }

    /// The label for an IP protocol number (GRE 47, ESP 50, AH 51). O(1).
    #[inline]
    pub fn lookup_ip_protocol(&self, protocol: u8) -> Option<LabelId> {
        self.ip[protocol as usize]
    }

    /// True when the TCP port lies in a dynamic RPC range.
    #[inline]
    pub fn is_dynamic_port(&self, port: u16) -> bool {
        self.dynamic_port[port as usize]
    }

    /// The label given to confirmed-by-context dynamic RPC flows.
    pub fn rpc_dynamic_label(&self) -> Option<LabelId> {
        self.rpc_dynamic
    }

    /// The catalog's entry for a wire name (a pipe, a share, a verified protocol), looked up by
    /// [`name_key`].
    pub fn name_id(&self, kind: NameKind, text: &str) -> Option<NameId> {
        self.name_index.get(&(kind, name_key(kind, text))).copied()
    }

    pub fn name(&self, id: NameId) -> &Name {
        &self.names[usize::from(id)]
    }

    pub fn label(&self, id: LabelId) -> &Label {
        &self.labels[id as usize]
    }

    pub fn service(&self, id: ServiceId) -> &Service {
        &self.services[id as usize]
    }
}

/// Adds the label of one application protocol on ports learnt from context (dynamic), and returns its
/// id. The label count was checked against [`LabelId`] when the catalog was loaded.
fn push_dynamic(
    labels: &mut Vec<Label>,
    transport: Transport,
    app: String,
    services: Vec<ServiceId>,
) -> LabelId {
    labels.push(make_label(
        transport,
        PortSpec::Dynamic,
        vec![LabelGroup { app, services }],
    ));
    (labels.len() - 1) as LabelId
}

fn make_label(transport: Transport, spec: PortSpec, groups: Vec<LabelGroup>) -> Label {
    let name = groups
        .iter()
        .map(|g| g.app.as_str())
        .collect::<Vec<_>>()
        .join(" | ");
    let mut services: Vec<ServiceId> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for g in &groups {
        for &s in &g.services {
            if seen.insert(s) {
                services.push(s);
            }
        }
    }
    Label {
        name,
        transport,
        spec,
        groups,
        services,
        interface: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::tests::names;

    #[test]
    fn builtin_has_every_article_row_and_the_additions() {
        let c = Catalog::builtin();
        let article: Vec<_> = c
            .rows
            .iter()
            .filter(|r| r.origin == Origin::Article)
            .collect();
        assert_eq!(article.len(), 168);
        // Rows of later editions: in later-edition services, or ports a later edition added to an
        // article service (kpasswd, ADWS, RDP over UDP).
        let later: Vec<String> = c
            .rows
            .iter()
            .filter(|r| r.origin == Origin::LaterEdition)
            .map(|r| match r.spec {
                PortSpec::Port(p) => format!("{} {}/{p}", r.app, r.transport),
                other => format!("{} {other:?}", r.app),
            })
            .collect();
        assert_eq!(
            later,
            [
                "Kerberos password change tcp/464",
                "Kerberos password change udp/464",
                "Active Directory Web Services tcp/9389",
                "Terminal Services udp/3389",
                "NTP udp/123",
                "HTTP tcp/80",
                "HTTPS tcp/443",
                "WS-Management (HTTP) tcp/5985",
                "WS-Management (HTTPS) tcp/5986",
                "DFSR RPC tcp/5722",
            ]
        );
        let sections = c
            .services
            .iter()
            .filter(|s| s.origin == Origin::Article)
            .count();
        assert_eq!(sections, 60);
        // 168 article rows, 10 of later editions, 20 of the services beyond the article.
        assert_eq!(c.rows.len(), 198);
        let beyond: Vec<&str> = c
            .services
            .iter()
            .filter(|s| s.origin == Origin::BeyondArticle)
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(
            beyond,
            [
                "Plug and Play",
                "Remote Registry",
                "Remote Shutdown",
                "Service Control Manager",
                "Task Scheduler",
                "Windows Management Instrumentation",
                "Workstation",
            ]
        );
        // Their rows document ports; they are candidates of none.
        for r in &c.rows {
            let beyond = r.origin == Origin::BeyondArticle;
            assert_eq!(r.candidate, !beyond, "{} {:?}", r.app, r.source);
        }
        assert_eq!(c.dynamic_ranges, vec![(49152, 65535), (1025, 5000)]);
    }

    #[test]
    fn tcp_445_returns_every_service_that_shares_it() {
        let c = Catalog::builtin();
        let id = c.lookup_port(Transport::Tcp, 445).unwrap();
        let label = c.label(id);
        assert_eq!(label.name, "SMB");
        assert!(label.is_shared());
        let n = names(&c, id);
        for expected in [
            "Server",
            "Net Logon",
            "Distributed File System",
            "Fax Service",
            "Print Spooler",
            "License Logging",
            "Remote Procedure Call (RPC) Locator",
        ] {
            assert!(n.contains(&expected), "{expected} missing from {n:?}");
        }
        // Services reached through named pipes but beyond the article are not candidates of the
        // port: only a pipe or an interface bound names them.
        assert_eq!(n.len(), 7, "{n:?}");
        assert_eq!(
            names(&c, c.lookup_port(Transport::Tcp, 135).unwrap()).len(),
            17
        );
    }

    #[test]
    fn port_shared_by_two_application_protocols_keeps_both_groups() {
        let c = Catalog::builtin();
        let label = c.label(c.lookup_port(Transport::Tcp, 2869).unwrap());
        let apps: Vec<_> = label.groups.iter().map(|g| g.app.as_str()).collect();
        assert_eq!(apps, ["SSDP event notification", "UPNP"]);
        assert_eq!(label.name, "SSDP event notification | UPNP");
    }

    #[test]
    fn ip_protocols_and_transport_separation() {
        let c = Catalog::builtin();
        for (n, app) in [
            (47, "GRE (IP protocol 47)"),
            (50, "IPSec ESP (IP protocol 50)"),
            (51, "IPSec AH (IP protocol 51)"),
        ] {
            let l = c.label(c.lookup_ip_protocol(n).unwrap());
            assert_eq!(l.name, app);
            assert_eq!(
                names(&c, c.lookup_ip_protocol(n).unwrap()),
                ["Routing and Remote Access"]
            );
        }
        assert!(c.lookup_ip_protocol(6).is_none());
        assert!(c.lookup_port(Transport::Udp, 445).is_none());
        assert!(c.lookup_port(Transport::Tcp, 137).is_none());
        assert_eq!(
            c.label(c.lookup_port(Transport::Udp, 137).unwrap()).name,
            "NetBIOS Name Resolution"
        );
    }

    #[test]
    fn corrections_are_applied_and_noted() {
        let c = Catalog::builtin();
        let isakmp = c.label(c.lookup_port(Transport::Udp, 500).unwrap());
        assert_eq!(isakmp.name, "IPSec ISAKMP");
        assert!(c.lookup_port(Transport::Tcp, 500).is_none());
        assert!(c.lookup_port(Transport::Tcp, 4500).is_none());
        let rtsp = c.rows.iter().find(|r| r.app == "RTSP").unwrap();
        assert_eq!(
            (rtsp.transport, rtsp.spec),
            (Transport::Tcp, PortSpec::Port(554))
        );
        assert!(rtsp.note.as_ref().unwrap().contains("cut off"));
        let quotd = c
            .rows
            .iter()
            .find(|r| r.transport == Transport::Udp && r.spec == PortSpec::Port(17))
            .unwrap();
        assert_eq!(quotd.app, "Quotd");
        assert!(quotd.note.as_ref().unwrap().contains("Quoted UDP 17"));
        let mom = c
            .services
            .iter()
            .find(|s| s.name == "Microsoft Operations Manager 2000")
            .unwrap();
        assert_eq!(mom.system.as_deref(), Some("OnePoint"));
        assert!(mom.note.as_ref().unwrap().contains("one point"));
        let uddi = c.services.iter().find(|s| s.name == "MSSQL$UDDI").unwrap();
        assert_eq!(uddi.system.as_deref(), Some("MSSQL$UDDI"));
        let w3 = c
            .services
            .iter()
            .find(|s| s.system.as_deref() == Some("W3SVC"))
            .unwrap();
        assert_eq!(w3.origin, Origin::LaterEdition);
        let ntp = c.label(c.lookup_port(Transport::Udp, 123).unwrap());
        assert_eq!(
            names(&c, c.lookup_port(Transport::Udp, 123).unwrap()),
            ["Windows Time"]
        );
        assert_eq!(ntp.name, "NTP");
    }

    #[test]
    fn dynamic_rpc_label_excludes_ftp_passive_ports() {
        let c = Catalog::builtin();
        let id = c.rpc_dynamic_label().unwrap();
        let n = names(&c, id);
        assert!(n.contains(&"Local Security Authority"));
        assert!(n.contains(&"Exchange Server"));
        assert!(n.contains(&"Certificate Services"));
        assert!(!n.contains(&"FTP Publishing Service"));
        assert_eq!(n.len(), 15);
        assert!(c.is_dynamic_port(49152) && c.is_dynamic_port(65535) && c.is_dynamic_port(1025));
        assert!(!c.is_dynamic_port(5001) && !c.is_dynamic_port(1024));
    }

    #[test]
    fn rpc_interfaces_map_to_catalog_services() {
        let c = Catalog::builtin();
        assert!(
            c.interfaces.len() >= 60,
            "{} interfaces",
            c.interfaces.len()
        );
        let netlogon = Uuid::parse("12345678-1234-abcd-ef00-01234567cffb").unwrap();
        let l = c.label(c.interface_label(netlogon, false).unwrap());
        assert_eq!(l.name, "RPC netlogon (MS-NRPC)");
        assert_eq!(
            names(&c, c.interface_label(netlogon, false).unwrap()),
            ["Net Logon"]
        );
        let drsuapi = Uuid::parse("e3514235-4b06-11d1-ab04-00c04fc2dcd2").unwrap();
        assert_eq!(
            names(&c, c.interface_label(drsuapi, false).unwrap()),
            ["Local Security Authority"]
        );
        let even6 = Uuid::parse("f6beaff7-1e19-4fbb-9f8f-b89e2018337c").unwrap();
        assert_eq!(
            names(&c, c.interface_label(even6, true).unwrap()),
            ["Event Log"]
        );
        assert_eq!(
            c.label(c.interface_label(even6, true).unwrap()).transport,
            Transport::Udp
        );
        // The interfaces of services beyond the article name them.
        for (uuid, service) in [
            ("338cd001-2244-31f1-aaaa-900038001003", "Remote Registry"),
            (
                "367abb81-9844-35f1-ad32-98f038001003",
                "Service Control Manager",
            ),
            ("1ff70682-0a51-30e8-076d-740be8cee98b", "Task Scheduler"),
            ("86d35949-83c9-4044-b424-db363231fd0c", "Task Scheduler"),
            ("378e52b0-c0a9-11cf-822d-00aa0051e40f", "Task Scheduler"),
            ("6bffd098-a112-3610-9833-46c3f87e345a", "Workstation"),
            ("8d9f4e40-a03d-11ce-8f69-08003e30051b", "Plug and Play"),
            ("894de0c0-0d55-11d3-a322-00c04fa321a1", "Remote Shutdown"),
            ("d95afe70-a6d5-4259-822e-2c84da1ddb0d", "Remote Shutdown"),
            // IWbemLevel1Login's interface ID, not the WbemLevel1Login class ID 8bc3f05e-….
            (
                "f309ad18-d86a-11d0-a075-00c04fb68820",
                "Windows Management Instrumentation",
            ),
            (
                "9556dc99-828c-11cf-a37e-00aa003240c7",
                "Windows Management Instrumentation",
            ),
        ] {
            let id = c
                .interface_label(Uuid::parse(uuid).unwrap(), false)
                .unwrap();
            assert_eq!(names(&c, id), [service], "{uuid}");
        }
        assert!(c
            .interface(Uuid::parse("8bc3f05e-d86b-11d0-a075-00c04fb68820").unwrap())
            .is_none());
        assert!(
            c.interfaces.iter().all(|i| !i.services.is_empty()),
            "every built-in interface has a service"
        );
        // An interface the catalog does not list still gets the RPC label, with every RPC candidate.
        let unknown = c.interface_label(Uuid([7; 16]), false).unwrap();
        assert_eq!(c.label(unknown).name, RPC_UNKNOWN_INTERFACE_APP);
        assert!(c.interface(Uuid([7; 16])).is_none());
    }

    fn name_services<'a>(c: &'a Catalog, kind: NameKind, text: &str) -> Vec<&'a str> {
        let id = c
            .name_id(kind, text)
            .unwrap_or_else(|| panic!("no {} {text:?}", kind.as_str()));
        c.name(id)
            .services
            .iter()
            .map(|&s| c.service(s).name.as_str())
            .collect()
    }

    #[test]
    fn builtin_names_map_pipes_shares_and_protocols_to_services() {
        let c = Catalog::builtin();
        let count = |kind| c.names.iter().filter(|n| n.kind == kind).count();
        assert_eq!(
            (
                count(NameKind::Pipe),
                count(NameKind::Share),
                count(NameKind::Protocol)
            ),
            (23, 5, 11)
        );
        for n in &c.names {
            assert!(!n.reference.is_empty(), "{:?}", n.source);
            assert!(n
                .services
                .iter()
                .all(|&s| usize::from(s) < c.services.len()));
            assert_eq!(n.source.file, DEFAULT_NAMES_NAME);
            // Keys are what lookups compute.
            assert_eq!(name_key(n.kind, &n.name), n.name);
            assert_eq!(c.name(c.name_id(n.kind, &n.name).unwrap()).name, n.name);
        }
        for text in ["\\PIPE\\LsaRpc", "lsarpc", "\\lsarpc", "LSARPC\0"] {
            assert_eq!(
                name_services(&c, NameKind::Pipe, text),
                ["Local Security Authority"],
                "{text:?}"
            );
        }
        for text in ["\\\\DC1\\SYSVOL", "sysvol", "\\\\dc1.example.com\\SysVol"] {
            assert_eq!(
                name_services(&c, NameKind::Share, text),
                ["Server", "Net Logon"],
                "{text:?}"
            );
        }
        assert_eq!(
            name_services(&c, NameKind::Share, "NETLOGON"),
            ["Server", "Net Logon"]
        );
        for text in ["IPC$", "\\\\fs1\\ADMIN$", "C$", "\\\\fs1\\e$"] {
            assert_eq!(
                name_services(&c, NameKind::Share, text),
                ["Server"],
                "{text:?}"
            );
        }
        for (pipe, service) in [
            ("netlogon", "Net Logon"),
            ("spoolss", "Print Spooler"),
            ("winreg", "Remote Registry"),
            ("svcctl", "Service Control Manager"),
            ("atsvc", "Task Scheduler"),
            ("wkssvc", "Workstation"),
            ("InitShutdown", "Remote Shutdown"),
            ("netdfs", "Distributed File System"),
            ("protected_storage", "Local Security Authority"),
            ("epmapper", "Remote Procedure Call (RPC)"),
        ] {
            assert_eq!(name_services(&c, NameKind::Pipe, pipe), [service], "{pipe}");
        }
        // Pipes several services listen on, or that no catalog service owns, back none.
        for pipe in ["ntsvcs", "trkwks", "efsrpc"] {
            assert!(name_services(&c, NameKind::Pipe, pipe).is_empty(), "{pipe}");
            assert!(c
                .name(c.name_id(NameKind::Pipe, pipe).unwrap())
                .note
                .is_some());
        }
        assert_eq!(name_services(&c, NameKind::Protocol, "smb"), ["Server"]);
        assert_eq!(
            name_services(&c, NameKind::Protocol, "dfs-referral"),
            ["Distributed File System"]
        );
        // A user share, an unknown pipe, a name of another kind: no entry.
        assert!(c.name_id(NameKind::Share, "\\\\fs1\\Public").is_none());
        assert!(c.name_id(NameKind::Pipe, "MsFteWds").is_none());
        assert!(c.name_id(NameKind::Pipe, "sysvol").is_none());
        assert!(c.name_id(NameKind::Share, "lsarpc").is_none());
        assert!(c.name_id(NameKind::Protocol, "ipc$").is_none());
    }

    #[test]
    fn builtin_principals_map_service_classes_to_services() {
        let c = Catalog::builtin();
        assert_eq!(
            c.names
                .iter()
                .filter(|n| n.kind == NameKind::Principal)
                .count(),
            18
        );
        for (spn, services) in [
            ("cifs/fs01.corp.example.com", &["Server"][..]),
            ("CIFS/FS01", &["Server"]),
            (
                "krbtgt/CORP.EXAMPLE.COM",
                &["Kerberos Key Distribution Center"],
            ),
            (
                "ldap/dc01.corp.example.com/corp.example.com",
                &["Local Security Authority"],
            ),
            (
                "GC/dc01.corp.example.com/corp.example.com",
                &["Local Security Authority"],
            ),
            ("MSSQLSvc/sql01.corp.example.com:1433", &["MSSQLSERVER"]),
            (
                "HTTP/www.corp.example.com",
                &["World Wide Web Publishing Service"],
            ),
            ("TERMSRV/ts01", &["Terminal Services"]),
            ("RPCSS/dc01", &["Remote Procedure Call (RPC)"]),
            ("DNS/dc01.corp.example.com", &["DNS Server"]),
            ("exchangeMDB/mail01", &["Exchange Server"]),
            ("exchangeRFR/mail01", &["Exchange Server"]),
            ("exchangeAB/mail01", &["Exchange Server"]),
            ("WSMAN/srv01", &["Windows Remote Management"]),
            ("ProtectedStorage/dc01", &["Local Security Authority"]),
            ("RestrictedKrbHost/srv01", &[]),
            (
                "dfsr-12f9a27c-bf97-4787-9364-d31b6c55eb04/dc01",
                &["DFS Replication"],
            ),
        ] {
            assert_eq!(
                name_services(&c, NameKind::Principal, spn),
                services,
                "{spn}"
            );
        }
        // HOST stands for every catalog service of the forest's default HOST mapping.
        let host = name_services(&c, NameKind::Principal, "HOST/admin-pc");
        assert_eq!(host.len(), 21);
        for s in [
            "Server",
            "Net Logon",
            "Task Scheduler",
            "Windows Time",
            "Print Spooler",
        ] {
            assert!(host.contains(&s), "{s}");
        }
        // A user's name (S4U, user-to-user) or a class no entry names: nothing.
        assert!(c.name_id(NameKind::Principal, "Administrator").is_none());
        assert!(c.name_id(NameKind::Principal, "vnc/desk01").is_none());
        assert_eq!(
            name_services(&c, NameKind::Protocol, "kerberos"),
            ["Kerberos Key Distribution Center"]
        );
    }
}

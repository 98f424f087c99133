//! Role inference for `svcscope hosts`: which roles (domain controller, file server, …) the services
//! a host serves suggest, with what it was seen serving as evidence — the services its payload
//! showed first (a pipe opened, an interface bound), then the protocols on its ports — and the
//! supporting protocols not seen.

use serde::Serialize;

/// A role the served services suggest, with the evidence.
#[derive(Clone, Debug, Serialize)]
pub struct Role {
    pub role: String,
    /// ServedProtocol application protocols that support it.
    pub evidence: Vec<String>,
    /// Protocols of the role not seen served.
    pub missing: Vec<String>,
}

/// (role, protocols that make it (any), protocols that support it) as (transport, port) with names.
struct RoleRule {
    role: &'static str,
    /// Every group must be served (each group: any of its entries).
    required: &'static [&'static [(&'static str, u16)]],
    supporting: &'static [(&'static str, u16)],
    /// Catalog services of the role: evidence that the host serves one is the role's first evidence.
    services: &'static [&'static str],
    /// Evidence of one of `services` makes the role even without its required ports.
    evidence_makes: bool,
}

const ROLES: &[RoleRule] = &[
    RoleRule {
        role: "domain controller",
        required: &[&[("tcp", 88), ("udp", 88)], &[("tcp", 389), ("udp", 389)]],
        supporting: &[
            ("udp", 53),
            ("tcp", 53),
            ("tcp", 445),
            ("tcp", 135),
            ("tcp", 3268),
            ("tcp", 3269),
            ("tcp", 636),
            ("udp", 123),
        ],
        services: &[
            "Net Logon",
            "Local Security Authority",
            "Kerberos Key Distribution Center",
            "File Replication",
            "Distributed File System",
        ],
        evidence_makes: false,
    },
    RoleRule {
        role: "file server",
        required: &[&[("tcp", 445), ("tcp", 139)]],
        supporting: &[("udp", 137), ("udp", 138)],
        services: &["Server", "Distributed File System"],
        evidence_makes: true,
    },
    RoleRule {
        role: "mail server (Exchange, SMTP, POP3, IMAP)",
        required: &[&[
            ("tcp", 25),
            ("tcp", 110),
            ("tcp", 995),
            ("tcp", 143),
            ("tcp", 993),
        ]],
        supporting: &[("tcp", 135), ("tcp", 593), ("tcp", 102)],
        services: &["Exchange Server"],
        evidence_makes: false,
    },
    RoleRule {
        role: "SQL Server",
        required: &[&[("tcp", 1433), ("udp", 1434), ("tcp", 2725)]],
        supporting: &[],
        services: &[],
        evidence_makes: false,
    },
    RoleRule {
        role: "terminal server",
        required: &[&[("tcp", 3389)]],
        supporting: &[],
        services: &["Terminal Services"],
        evidence_makes: false,
    },
    RoleRule {
        role: "VPN gateway",
        required: &[&[
            ("gre", 0),
            ("esp", 0),
            ("ah", 0),
            ("udp", 1701),
            ("tcp", 1723),
            ("udp", 500),
            ("udp", 4500),
        ]],
        supporting: &[],
        services: &[],
        evidence_makes: false,
    },
    RoleRule {
        role: "DHCP server",
        required: &[&[("udp", 67), ("udp", 2535)]],
        supporting: &[],
        services: &["DHCP Server"],
        evidence_makes: false,
    },
    RoleRule {
        role: "WINS server",
        required: &[&[("tcp", 42), ("udp", 42)]],
        supporting: &[("udp", 137)],
        services: &["Windows Internet Name Service (WINS)"],
        evidence_makes: false,
    },
    RoleRule {
        role: "DNS server",
        required: &[&[("udp", 53), ("tcp", 53)]],
        supporting: &[],
        services: &["DNS Server"],
        evidence_makes: false,
    },
    RoleRule {
        role: "RADIUS server (IAS)",
        required: &[&[("udp", 1812), ("udp", 1813), ("udp", 1645), ("udp", 1646)]],
        supporting: &[],
        services: &[],
        evidence_makes: false,
    },
    RoleRule {
        role: "web server",
        required: &[&[("tcp", 80), ("tcp", 443)]],
        supporting: &[],
        services: &[],
        evidence_makes: false,
    },
    RoleRule {
        role: "print server",
        required: &[],
        supporting: &[("tcp", 445)],
        services: &["Print Spooler"],
        evidence_makes: true,
    },
    RoleRule {
        role: "time server (NTP)",
        required: &[&[("udp", 123)]],
        supporting: &[],
        services: &[],
        evidence_makes: false,
    },
];

/// Roles a domain controller covers: on a DC, SMB (SYSVOL, NETLOGON), DNS and NTP are part of the role.
const PART_OF_DC: [&str; 3] = ["file server", "DNS server", "time server (NTP)"];

fn describe(t: &str, p: u16) -> String {
    if p == 0 {
        t.to_string()
    } else {
        format!("{t}/{p}")
    }
}

/// What roles are inferred from: one service a host was seen serving.
#[derive(Clone, Copy, Debug)]
pub struct ServedProtocol<'a> {
    /// The catalog application protocol, `None` for unclassified traffic.
    pub app_protocol: Option<&'a str>,
    /// "tcp", "udp", or an IP protocol name.
    pub transport: &'a str,
    pub port: Option<u16>,
    pub flows: u64,
    pub clients: usize,
}

/// One catalog service the payload showed a host serving.
#[derive(Clone, Debug)]
pub struct ServedService<'a> {
    pub service: &'a str,
    /// The evidence in a few words ("spoolss pipe, rpc-bind spoolss").
    pub evidence: String,
    pub flows: u64,
    pub clients: usize,
}

/// Roles whose required protocols the host serves (or, for some, whose services its payload showed),
/// with the evidence, services seen in the payload first; DNS on a domain controller is part of
/// that role rather than a role of its own. A role with no required ports (print server) needs
/// evidence.
pub fn infer_roles(serves: &[ServedProtocol<'_>], services: &[ServedService<'_>]) -> Vec<Role> {
    let find = |t: &str, p: u16| {
        serves
            .iter()
            .find(|s| s.app_protocol.is_some() && s.transport == t && (p == 0 || s.port == Some(p)))
    };
    let evidence = |s: &ServedProtocol<'_>| {
        format!(
            "{} {} ({} flow{}, {} client{})",
            s.app_protocol.unwrap_or("?"),
            describe(s.transport, s.port.unwrap_or(0)),
            s.flows,
            if s.flows == 1 { "" } else { "s" },
            s.clients,
            if s.clients == 1 { "" } else { "s" },
        )
    };
    let shown: Vec<&ServedService<'_>> = services.iter().collect();
    let mut roles: Vec<Role> = Vec::new();
    for r in ROLES {
        let of_role: Vec<&&ServedService<'_>> = shown
            .iter()
            .filter(|s| r.services.contains(&s.service))
            .collect();
        let by_ports = !r.required.is_empty()
            && r.required
                .iter()
                .all(|group| group.iter().any(|&(t, p)| find(t, p).is_some()));
        let by_evidence = r.evidence_makes && !of_role.is_empty();
        if !by_ports && !by_evidence {
            continue;
        }
        if PART_OF_DC.contains(&r.role) && roles.iter().any(|x| x.role == "domain controller") {
            continue;
        }
        let mut ev: Vec<String> = of_role
            .iter()
            .map(|s| {
                format!(
                    "{} from evidence: {} ({} flow{}, {} client{})",
                    s.service,
                    s.evidence,
                    s.flows,
                    if s.flows == 1 { "" } else { "s" },
                    s.clients,
                    if s.clients == 1 { "" } else { "s" },
                )
            })
            .collect();
        for &(t, p) in r.required.iter().flat_map(|g| g.iter()).chain(r.supporting) {
            if let Some(s) = find(t, p) {
                let e = evidence(s);
                if !ev.contains(&e) {
                    ev.push(e);
                }
            }
        }
        let missing = r
            .supporting
            .iter()
            .filter(|&&(t, p)| find(t, p).is_none())
            .map(|&(t, p)| describe(t, p))
            .collect();
        roles.push(Role {
            role: r.role.to_string(),
            evidence: ev,
            missing,
        });
    }
    roles
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serves(app: &'static str, transport: &'static str, port: u16) -> ServedProtocol<'static> {
        ServedProtocol {
            app_protocol: Some(app),
            transport,
            port: Some(port),
            flows: 2,
            clients: 1,
        }
    }

    #[test]
    fn a_domain_controller_covers_dns_and_lists_what_is_missing() {
        let rows = [
            serves("Kerberos", "tcp", 88),
            serves("LDAP", "udp", 389),
            serves("DNS", "udp", 53),
        ];
        let roles = infer_roles(&rows, &[]);
        assert_eq!(roles.len(), 1, "{roles:?}");
        assert_eq!(roles[0].role, "domain controller");
        assert_eq!(
            roles[0].evidence,
            [
                "Kerberos tcp/88 (2 flows, 1 client)",
                "LDAP udp/389 (2 flows, 1 client)",
                "DNS udp/53 (2 flows, 1 client)"
            ]
        );
        assert!(roles[0].missing.contains(&"tcp/445".to_string()));
        assert!(!roles[0].missing.contains(&"udp/53".to_string()));
        // Without Kerberos the same host is a DNS server, nothing more.
        let roles = infer_roles(&rows[1..], &[]);
        let names: Vec<&str> = roles.iter().map(|r| r.role.as_str()).collect();
        assert_eq!(names, ["DNS server"]);
    }

    #[test]
    fn evidence_leads_a_role_and_makes_a_print_server() {
        let rows = [
            serves("Kerberos", "tcp", 88),
            serves("LDAP", "tcp", 389),
            serves("SMB", "tcp", 445),
        ];
        let netlogon = ServedService {
            service: "Net Logon",
            evidence: "rpc-bind netlogon".into(),
            flows: 3,
            clients: 2,
        };
        let spooler = ServedService {
            service: "Print Spooler",
            evidence: "spoolss pipe".into(),
            flows: 1,
            clients: 1,
        };
        let roles = infer_roles(&rows, &[netlogon.clone(), spooler.clone()]);
        let names: Vec<&str> = roles.iter().map(|r| r.role.as_str()).collect();
        assert_eq!(names, ["domain controller", "print server"], "{roles:?}");
        assert_eq!(
            roles[0].evidence[0],
            "Net Logon from evidence: rpc-bind netlogon (3 flows, 2 clients)"
        );
        assert_eq!(roles[0].evidence[1], "Kerberos tcp/88 (2 flows, 1 client)");
        assert_eq!(
            roles[1].evidence,
            [
                "Print Spooler from evidence: spoolss pipe (1 flow, 1 client)",
                "SMB tcp/445 (2 flows, 1 client)"
            ]
        );
        // Net Logon evidence alone does not make a domain controller; no evidence, no print server.
        let roles = infer_roles(&[], &[netlogon]);
        assert!(roles.is_empty(), "{roles:?}");
        let roles = infer_roles(&rows[2..], &[]);
        let names: Vec<&str> = roles.iter().map(|r| r.role.as_str()).collect();
        assert_eq!(names, ["file server"]);
    }
}

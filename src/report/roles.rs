//! Role inference for `svcscope hosts`: which roles (domain controller, file server, …) the services
//! a host serves suggest, with the served protocols as evidence and the supporting ones not seen.

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
    },
    RoleRule {
        role: "file server",
        required: &[&[("tcp", 445), ("tcp", 139)]],
        supporting: &[("udp", 137), ("udp", 138)],
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
    },
    RoleRule {
        role: "SQL Server",
        required: &[&[("tcp", 1433), ("udp", 1434), ("tcp", 2725)]],
        supporting: &[],
    },
    RoleRule {
        role: "terminal server",
        required: &[&[("tcp", 3389)]],
        supporting: &[],
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
    },
    RoleRule {
        role: "DHCP server",
        required: &[&[("udp", 67), ("udp", 2535)]],
        supporting: &[],
    },
    RoleRule {
        role: "WINS server",
        required: &[&[("tcp", 42), ("udp", 42)]],
        supporting: &[("udp", 137)],
    },
    RoleRule {
        role: "DNS server",
        required: &[&[("udp", 53), ("tcp", 53)]],
        supporting: &[],
    },
    RoleRule {
        role: "RADIUS server (IAS)",
        required: &[&[("udp", 1812), ("udp", 1813), ("udp", 1645), ("udp", 1646)]],
        supporting: &[],
    },
    RoleRule {
        role: "web server",
        required: &[&[("tcp", 80), ("tcp", 443)]],
        supporting: &[],
    },
    RoleRule {
        role: "time server (NTP)",
        required: &[&[("udp", 123)]],
        supporting: &[],
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

/// Roles whose required protocols the host serves, with the evidence; DNS on a domain controller is
/// part of that role rather than a role of its own.
pub fn infer_roles(serves: &[ServedProtocol<'_>]) -> Vec<Role> {
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
    let mut roles: Vec<Role> = Vec::new();
    for r in ROLES {
        if !r
            .required
            .iter()
            .all(|group| group.iter().any(|&(t, p)| find(t, p).is_some()))
        {
            continue;
        }
        if PART_OF_DC.contains(&r.role) && roles.iter().any(|x| x.role == "domain controller") {
            continue;
        }
        let mut ev = Vec::new();
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
        let roles = infer_roles(&rows);
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
        let roles = infer_roles(&rows[1..]);
        let names: Vec<&str> = roles.iter().map(|r| r.role.as_str()).collect();
        assert_eq!(names, ["DNS server"]);
    }
}

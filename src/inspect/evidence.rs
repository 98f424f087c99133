//! Evidence: what the payload of a flow (or of the flows that announced it) showed about the service
//! it belongs to, as small typed records that every output renders the same way.
//!
//! A flow carries a list of evidence items (several interfaces bound over one connection, several
//! pipes opened over one SMB session, …). Each is a kind, a value and the catalog label it implies;
//! the services a flow is credited with come from its evidence where there is any, and from its
//! port's candidates otherwise. [`Provenance`] says how a flow got its label: a port lookup, or the
//! kind of evidence that named it.

use serde::Serialize;

use crate::catalog::{Catalog, LabelId, NameId, ServiceId, Uuid};

/// The kinds of evidence, named as they appear in flow records and reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EvidenceKind {
    /// The endpoint mapper announced this endpoint for an interface (`ept_map` / `ept_lookup`).
    EndpointMapper,
    /// A DCOM activation or OXID-resolution answer (on TCP 135) gave this endpoint to the client
    /// as an object exporter's string binding.
    DcomActivation,
    /// A bind on another connection to the same server endpoint named the interface (the flow
    /// showed none of its own).
    LearntEndpoint,
    /// An `ept_map` request on this endpoint-mapper flow asked for the interface: the client uses
    /// it (whether or not the answer or the later connection was captured).
    EpmRequest,
    /// A DCE/RPC `bind` or `alter_context` on the flow named the interface.
    RpcBind,
    /// DCE/RPC PDU headers: a connectionless header names its interface; connection-oriented
    /// requests without a captured bind show RPC with the interface unknown.
    RpcHeader,
    /// An FTP control connection announced this data connection (PORT, EPRT, PASV, EPSV).
    FtpControl,
    /// The answer of a TFTP server from a new port to a request on UDP 69.
    Tftp,
    /// An SMB negotiate answered: the flow is SMB (value: the dialect, e.g. "3.1.1", "NT LM 0.12").
    Smb,
    /// An SMB tree connect (value: the share name, e.g. "SYSVOL", "IPC$").
    SmbShare,
    /// A named pipe opened on IPC$ (value: the bare pipe name, e.g. "lsarpc").
    SmbPipe,
    /// A DCE/RPC bind or alter_context carried over an SMB named pipe (value: the interface).
    PipeBind,
    /// A DFS referral request (value: the path asked for).
    DfsReferral,
    /// How a client authenticated to the flow's service: an SMB session setup, an LDAP bind, a
    /// DCE/RPC auth verifier, an HTTP `Authorization` header (value: the mechanism and, where it
    /// travels in clear, who: e.g. "NTLMv2 CORP\\alice", "Kerberos", "simple bind in clear
    /// cn=svc,dc=corp").
    Auth,
    /// SMB3 encryption: what follows is not readable (value: what was encrypted, e.g. "session").
    SmbEncrypted,
    /// A Kerberos message: the flow is Kerberos (value: the first message's type, e.g. "AS-REQ").
    Kerberos,
    /// A Kerberos service principal a ticket is asked for (TGS-REQ) or presented for (AP-REQ)
    /// (value: e.g. "cifs/fs01.corp.example.com"; backs the services of its service class).
    KerberosSpn,
    /// The client asked the KDC for a ticket to a service principal on this flow's server before the
    /// flow began (value: the principal, e.g. "MSSQLSvc/sql01.corp.example:1433"; learnt from the
    /// KDC flow, the server's name from DNS answers; backs the one service both its class and the
    /// flow's port name).
    KerberosTicket,
    /// The encryption type of a ticket or a KDC reply (value: e.g. "aes256-cts-hmac-sha1-96",
    /// "rc4-hmac (weak)").
    KerberosEtype,
    /// The encryption type of the ticket-granting ticket a TGS-REQ presented: the krbtgt key's
    /// (value as for [`EvidenceKind::KerberosEtype`]).
    KerberosTgtEtype,
    /// A KRB-ERROR (value: e.g. "KDC_ERR_PREAUTH_REQUIRED").
    KerberosError,
    /// The client principal of an AS-REQ or a KDC reply (value: e.g. "alice@CORP.EXAMPLE.COM").
    KerberosClient,
    /// An LDAP or CLDAP message: the flow is LDAP (value: the first message's operation, e.g.
    /// "bindRequest", "searchRequest").
    Ldap,
    /// How an LDAP bind authenticates (value: e.g. "simple (password in clear)", "simple
    /// anonymous", "SASL GSS-SPNEGO (Kerberos)", "NTLM").
    LdapBind,
    /// An LDAP StartTLS request: what follows is TLS.
    LdapStarttls,
    /// An LDAP ping (a root-DSE search for `Netlogon`): "request", or the domain controller's
    /// answer (value: e.g. "PDC GC KDC … site Default-First-Site-Name dc01.corp.example domain
    /// corp.example").
    LdapPing,
    /// A TLS ClientHello's server name (SNI) (value: the host name as sent; backs no service).
    TlsSni,
    /// A TLS ClientHello's ALPN protocols (value: e.g. "h2,http/1.1"; backs no service).
    TlsAlpn,
    /// The subject common name of the certificate a TLS 1.2 (or earlier) server sent in clear
    /// (value: e.g. "www.corp.example"; backs no service).
    TlsCert,
    /// An X.224 Connection Request with an RDP Negotiation Request: RDP 5.2 or later, Terminal
    /// Services (value: "request", and the protocols asked for).
    RdpNegotiation,
    /// The SQL Server instance a TDS PRELOGIN names (value: e.g. "MSSQLServer", "UDDI"; backs the
    /// services of its `tds-instance:NAME` catalog entry).
    TdsInstance,
    /// An instance a SQL Browser answer lists (value: e.g. "UDDI tcp/2382"; backs the services of
    /// the instance's `tds-instance:NAME` entry).
    SqlBrowser,
    /// A DNS answer with the AA bit: the server holds the zone (value: the name asked for).
    DnsAuthoritative,
    /// An HTTP answer's `Server` header (value: e.g. "Microsoft-IIS/10.0"; backs the services of
    /// its product's `http-server:PRODUCT` entry).
    HttpServer,
    /// SharePoint: its answer header or a request for its paths (value: the header's value or the
    /// path asked for).
    HttpSharepoint,
}

impl EvidenceKind {
    /// Learnt from another flow (an announcement), not from this flow's own payload, or naming a
    /// service the flow leads to rather than the one it carries (a Kerberos ticket asked for from
    /// the KDC is for a service on another server): what a flow shows itself outranks it.
    pub fn is_indirect(self) -> bool {
        matches!(
            self,
            EvidenceKind::EndpointMapper
                | EvidenceKind::LearntEndpoint
                | EvidenceKind::DcomActivation
                | EvidenceKind::FtpControl
                | EvidenceKind::Tftp
                | EvidenceKind::KerberosSpn
                | EvidenceKind::KerberosTicket
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EvidenceKind::EndpointMapper => "endpoint-mapper",
            EvidenceKind::EpmRequest => "epm-request",
            EvidenceKind::LearntEndpoint => "learnt-endpoint",
            EvidenceKind::DcomActivation => "dcom-activation",
            EvidenceKind::RpcBind => "rpc-bind",
            EvidenceKind::RpcHeader => "rpc-header",
            EvidenceKind::FtpControl => "ftp-control",
            EvidenceKind::Tftp => "tftp",
            EvidenceKind::Smb => "smb",
            EvidenceKind::SmbShare => "smb-share",
            EvidenceKind::SmbPipe => "smb-pipe",
            EvidenceKind::PipeBind => "pipe-bind",
            EvidenceKind::DfsReferral => "dfs-referral",
            EvidenceKind::Auth => "auth",
            EvidenceKind::SmbEncrypted => "smb-encrypted",
            EvidenceKind::Kerberos => "kerberos",
            EvidenceKind::KerberosSpn => "kerberos-spn",
            EvidenceKind::KerberosTicket => "kerberos-ticket",
            EvidenceKind::KerberosEtype => "kerberos-etype",
            EvidenceKind::KerberosTgtEtype => "kerberos-tgt-etype",
            EvidenceKind::KerberosError => "kerberos-error",
            EvidenceKind::KerberosClient => "kerberos-client",
            EvidenceKind::Ldap => "ldap",
            EvidenceKind::LdapBind => "ldap-bind",
            EvidenceKind::LdapStarttls => "ldap-starttls",
            EvidenceKind::LdapPing => "ldap-ping",
            EvidenceKind::TlsSni => "tls-sni",
            EvidenceKind::TlsAlpn => "tls-alpn",
            EvidenceKind::TlsCert => "tls-cert",
            EvidenceKind::RdpNegotiation => "rdp-negotiation",
            EvidenceKind::TdsInstance => "tds-instance",
            EvidenceKind::SqlBrowser => "sql-browser",
            EvidenceKind::DnsAuthoritative => "dns-authoritative",
            EvidenceKind::HttpServer => "http-server",
            EvidenceKind::HttpSharepoint => "http-sharepoint",
        }
    }
}

/// How a client authenticated, as the authentication inventory counts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mechanism {
    Kerberos,
    /// NTLMv2 (an NT response longer than 24 bytes).
    Ntlmv2,
    /// NTLMv1 or NTLM2 session response (a 24-byte NT response): weak.
    Ntlmv1,
    /// NTLM whose response was not read (a lone NEGOTIATE, a response of another length).
    Ntlm,
    /// An NTLM anonymous logon (empty responses).
    NtlmAnonymous,
    /// The Netlogon secure channel's own authentication (DCE/RPC auth type 68).
    NetlogonSecureChannel,
    /// Schannel (TLS) as a DCE/RPC authentication service (auth type 14).
    Schannel,
    /// An LDAP simple bind with a password, or HTTP Basic: the password travels in clear.
    ClearPassword,
    /// An LDAP simple bind without a password.
    Anonymous,
    /// Another mechanism (an unknown DCE/RPC auth type, a SASL mechanism not read).
    Other,
}

impl Mechanism {
    pub const ALL: [Mechanism; 10] = [
        Mechanism::Kerberos,
        Mechanism::Ntlmv2,
        Mechanism::Ntlmv1,
        Mechanism::Ntlm,
        Mechanism::NtlmAnonymous,
        Mechanism::NetlogonSecureChannel,
        Mechanism::Schannel,
        Mechanism::ClearPassword,
        Mechanism::Anonymous,
        Mechanism::Other,
    ];

    /// The key reports use.
    pub fn key(self) -> &'static str {
        match self {
            Mechanism::Kerberos => "kerberos",
            Mechanism::Ntlmv2 => "ntlmv2",
            Mechanism::Ntlmv1 => "ntlmv1",
            Mechanism::Ntlm => "ntlm",
            Mechanism::NtlmAnonymous => "ntlm-anonymous",
            Mechanism::NetlogonSecureChannel => "netlogon-secure-channel",
            Mechanism::Schannel => "schannel",
            Mechanism::ClearPassword => "clear-password",
            Mechanism::Anonymous => "anonymous",
            Mechanism::Other => "other",
        }
    }

    /// As the evidence value and the table show it.
    pub fn title(self) -> &'static str {
        match self {
            Mechanism::Kerberos => "Kerberos",
            Mechanism::Ntlmv2 => "NTLMv2",
            Mechanism::Ntlmv1 => "NTLMv1",
            Mechanism::Ntlm => "NTLM",
            Mechanism::NtlmAnonymous => "NTLM anonymous",
            Mechanism::NetlogonSecureChannel => "Netlogon secure channel",
            Mechanism::Schannel => "Schannel",
            Mechanism::ClearPassword => "clear password",
            Mechanism::Anonymous => "anonymous",
            Mechanism::Other => "other",
        }
    }

    /// What administrators are told to find and remove: NTLMv1, and passwords in clear.
    pub fn is_weak(self) -> bool {
        matches!(self, Mechanism::Ntlmv1 | Mechanism::ClearPassword)
    }

    pub fn from_key(key: &str) -> Option<Mechanism> {
        Mechanism::ALL.into_iter().find(|m| m.key() == key)
    }
}

/// What an evidence item says.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Value {
    /// Nothing beyond its kind (an FTP data connection, RPC with the interface unknown).
    None,
    /// A DCE/RPC interface.
    Interface(Uuid),
    /// A name from the wire (a pipe, a share, a service principal), bounded by the parser.
    Text(Box<str>),
    /// An authentication: the mechanism, and who (`DOMAIN\user`, a bind DN) where it travels in
    /// clear, bounded by the parser.
    Auth {
        mechanism: Mechanism,
        who: Option<Box<str>>,
    },
}

impl Value {
    pub fn interface(&self) -> Option<Uuid> {
        match self {
            Value::Interface(u) => Some(*u),
            _ => None,
        }
    }

    /// The value as flow records and reports show it, `None` for [`Value::None`].
    pub fn text(&self) -> Option<String> {
        match self {
            Value::None => None,
            Value::Interface(u) => Some(u.to_string()),
            Value::Text(t) => Some(t.to_string()),
            Value::Auth { mechanism, who } => Some(match who {
                Some(w) => format!("{} {w}", mechanism.title()),
                None => mechanism.title().to_string(),
            }),
        }
    }

    /// The mechanism of an authentication.
    pub fn mechanism(&self) -> Option<Mechanism> {
        match self {
            Value::Auth { mechanism, .. } => Some(*mechanism),
            _ => None,
        }
    }
}

/// One piece of evidence about a flow.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Evidence {
    pub kind: EvidenceKind,
    pub value: Value,
    /// The catalog label the evidence implies (an interface's application protocol, FTP data, …),
    /// whose services it backs; `None` when the catalog has nothing for it.
    pub label: Option<LabelId>,
    /// The catalog name the evidence matched (a pipe, a share, a verified protocol), whose services
    /// it backs instead of the label's; `None` when the catalog has nothing for it.
    pub name: Option<NameId>,
}

impl Evidence {
    /// Evidence of `kind` naming `value`, backing the services of `label`.
    pub fn labelled(kind: EvidenceKind, value: Value, label: Option<LabelId>) -> Evidence {
        Evidence {
            kind,
            value,
            label,
            name: None,
        }
    }

    /// The services this evidence shows are used: its catalog name's, else its label's when that
    /// names them — a DCE/RPC interface's services, or a label with one service. A shared label
    /// that names no interface (`RPC (interface unknown)`) says which protocol, not which of its
    /// candidates: the evidence backs none of them.
    pub fn services<'c>(&self, catalog: &'c Catalog) -> &'c [ServiceId] {
        if let (EvidenceKind::KerberosTicket, Some(n), Some(l)) = (self.kind, self.name, self.label)
        {
            // A ticket's class names what the client went to the server for, the flow's port which
            // of its services that flow carries: the one service both name.
            return super::learn::common_services(catalog, n, l)
                .next()
                .map_or(&[], std::slice::from_ref);
        }
        match (self.name, self.label) {
            (Some(n), _) => &catalog.name(n).services,
            (None, Some(l)) => {
                let label = catalog.label(l);
                if label.interface.is_some() || !label.is_shared() {
                    &label.services
                } else {
                    &[]
                }
            }
            (None, None) => &[],
        }
    }
}

/// How a flow got its label (recorded in flow records).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Provenance {
    /// The server's (transport, port) is a catalog row.
    Port,
    /// The IP protocol number is a catalog row (GRE, ESP, AH).
    IpProtocol,
    /// A dynamic RPC port after the client spoke to the server's endpoint mapper.
    DynamicRange,
    /// Evidence of this kind named the flow's label.
    Evidence(EvidenceKind),
    /// No catalog row applies.
    Unknown,
}

impl Provenance {
    pub fn as_str(self) -> &'static str {
        match self {
            Provenance::Port => "port",
            Provenance::IpProtocol => "ip-protocol",
            Provenance::DynamicRange => "dynamic-range",
            Provenance::Evidence(kind) => kind.as_str(),
            Provenance::Unknown => "unknown",
        }
    }

    /// Learnt from the payload or from an announcement, not looked up by port.
    pub fn is_evidence(self) -> bool {
        matches!(self, Provenance::Evidence(_))
    }
}

impl Serialize for Provenance {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// How a flow's services are known, strongest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Basis {
    /// Evidence on the flow (or from the flow that announced it) names the services.
    Evidence,
    /// The port or IP protocol has one candidate service, and nothing in the payload said more.
    Port,
    /// The port is shared and nothing said which of its candidates was used: not determined.
    Candidates,
    /// No catalog row applies.
    Unclassified,
}

impl Basis {
    pub fn as_str(self) -> &'static str {
        match self {
            Basis::Evidence => "evidence",
            Basis::Port => "port",
            Basis::Candidates => "candidates",
            Basis::Unclassified => "unclassified",
        }
    }
}

/// The services a flow is credited with, and on what basis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attribution {
    pub basis: Basis,
    /// With [`Basis::Evidence`]: every service some evidence item backs, in the order found; else
    /// the label's candidates, in catalog order (empty when the catalog names none).
    pub services: Vec<ServiceId>,
}

/// The attribution of a flow with this evidence, label and provenance: the evidence-backed services
/// where any evidence backs one (its own payload's where that backs any, else what other flows
/// announced of it: a bind outranks the endpoint mapper's answer), else the label's candidates (one candidate: by port; several: not
/// determined). Evidence that backs no service (encryption, an authentication) leaves the port's
/// candidates standing: it is never a guess.
pub fn attribute(
    catalog: &Catalog,
    evidence: Option<&EvidenceList>,
    label: Option<LabelId>,
    provenance: Provenance,
) -> Attribution {
    let mut services: Vec<ServiceId> = Vec::new();
    // The flow's own evidence first; what other flows announced only where it has none.
    for indirect in [false, true] {
        for e in evidence.into_iter().flat_map(EvidenceList::iter) {
            if e.kind.is_indirect() != indirect {
                continue;
            }
            for &s in e.services(catalog) {
                if !services.contains(&s) {
                    services.push(s);
                }
            }
        }
        if !services.is_empty() {
            break;
        }
    }
    if !services.is_empty() {
        return Attribution {
            basis: Basis::Evidence,
            services,
        };
    }
    let Some(label) = label else {
        return Attribution {
            basis: Basis::Unclassified,
            services,
        };
    };
    let services = catalog.label(label).services.clone();
    // Evidence that named a shared label without naming an interface (RPC, interface unknown)
    // leaves its candidates undetermined.
    let basis = if services.len() > 1 && catalog.label(label).interface.is_none() {
        Basis::Candidates
    } else if provenance.is_evidence() && !services.is_empty() {
        Basis::Evidence
    } else if services.len() > 1 {
        Basis::Candidates
    } else {
        Basis::Port
    };
    Attribution { basis, services }
}

/// At most this many evidence items are kept per flow; later ones are counted, not kept.
pub const MAX_EVIDENCE: usize = 32;

/// A flow's evidence list: distinct items in the order found, at most [`MAX_EVIDENCE`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EvidenceList {
    items: Vec<Evidence>,
}

impl EvidenceList {
    /// Adds an item unless it is already there; false when the list is full.
    pub fn add(&mut self, e: Evidence) -> bool {
        if self.items.contains(&e) {
            return true;
        }
        if self.items.len() >= MAX_EVIDENCE {
            return false;
        }
        self.items.push(e);
        true
    }

    pub fn iter(&self) -> impl Iterator<Item = &Evidence> {
        self.items.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_keeps_distinct_items_up_to_its_cap() {
        let mut list = EvidenceList::default();
        let item = |n: u8| {
            Evidence::labelled(EvidenceKind::RpcBind, Value::Interface(Uuid([n; 16])), None)
        };
        assert!(list.add(item(1)));
        assert!(list.add(item(1)));
        assert_eq!(list.len(), 1);
        for n in 2..=MAX_EVIDENCE as u8 {
            assert!(list.add(item(n)));
        }
        assert!(!list.add(item(200)));
        // An item already there is not refused by a full list.
        assert!(list.add(item(3)));
        assert_eq!(list.len(), MAX_EVIDENCE);
    }

    /// Regression: a bind or header of an interface the catalog does not list labels the flow
    /// `RPC (interface unknown)`, whose 15 candidates were all credited as evidence-backed.
    #[test]
    fn an_unknown_interface_determines_no_service() {
        let c = Catalog::builtin();
        let unknown = Uuid([7; 16]);
        let label = c.interface_label(unknown, false);
        assert!(c.label(label.unwrap()).is_shared());
        let mut list = EvidenceList::default();
        list.add(Evidence::labelled(
            EvidenceKind::RpcBind,
            Value::Interface(unknown),
            label,
        ));
        list.add(Evidence::labelled(
            EvidenceKind::RpcHeader,
            Value::None,
            None,
        ));
        for provenance in [
            Provenance::Evidence(EvidenceKind::RpcBind),
            Provenance::Evidence(EvidenceKind::RpcHeader),
        ] {
            let a = attribute(&c, Some(&list), label, provenance);
            assert_eq!(a.basis, Basis::Candidates, "{provenance:?}");
            assert_eq!(a.services, c.label(label.unwrap()).services);
        }
    }

    #[test]
    fn a_listed_interface_or_a_single_service_label_is_evidence() {
        let c = Catalog::builtin();
        let netlogon = Uuid::parse("12345678-1234-abcd-ef00-01234567cffb").unwrap();
        let label = c.interface_label(netlogon, false);
        let net_logon = c
            .services
            .iter()
            .position(|s| s.name == "Net Logon")
            .unwrap() as ServiceId;
        let mut list = EvidenceList::default();
        list.add(Evidence::labelled(
            EvidenceKind::RpcBind,
            Value::Interface(netlogon),
            label,
        ));
        let smb = c.lookup_port(crate::catalog::Transport::Tcp, 445);
        let a = attribute(&c, Some(&list), smb, Provenance::Port);
        assert_eq!((a.basis, a.services), (Basis::Evidence, vec![net_logon]));
        // The endpoint mapper's announcement with no item left: its label's one service.
        let a = attribute(
            &c,
            None,
            label,
            Provenance::Evidence(EvidenceKind::EndpointMapper),
        );
        assert_eq!((a.basis, a.services), (Basis::Evidence, vec![net_logon]));
        // No evidence on a shared port: not determined.
        let a = attribute(&c, None, smb, Provenance::Port);
        assert_eq!((a.basis, a.services.len()), (Basis::Candidates, 7));
    }

    #[test]
    fn a_flows_own_evidence_outranks_what_others_announced_and_nothing_is_guessed() {
        let c = Catalog::builtin();
        let iface = |s: &str| Uuid::parse(s).unwrap();
        let netlogon = iface("12345678-1234-abcd-ef00-01234567cffb");
        let drsuapi = iface("e3514235-4b06-11d1-ab04-00c04fc2dcd2");
        let item = |kind, u: Uuid| {
            Evidence::labelled(kind, Value::Interface(u), c.interface_label(u, false))
        };
        let names = |a: &Attribution| -> Vec<&str> {
            a.services
                .iter()
                .map(|&s| c.service(s).name.as_str())
                .collect()
        };
        // Announced drsuapi, bound netlogon: the bind wins.
        let mut list = EvidenceList::default();
        list.add(item(EvidenceKind::EndpointMapper, drsuapi));
        list.add(item(EvidenceKind::RpcBind, netlogon));
        let a = attribute(&c, Some(&list), None, Provenance::Unknown);
        assert_eq!((a.basis, names(&a)), (Basis::Evidence, vec!["Net Logon"]));
        // Only the announcement: it stands.
        let mut list = EvidenceList::default();
        list.add(item(EvidenceKind::EndpointMapper, drsuapi));
        let a = attribute(&c, Some(&list), None, Provenance::Unknown);
        assert_eq!(names(&a), ["Local Security Authority"]);
        // Evidence that backs nothing (encryption) leaves the port's candidates, not determined.
        let smb = c.lookup_port(crate::catalog::Transport::Tcp, 445);
        let mut list = EvidenceList::default();
        list.add(Evidence::labelled(
            EvidenceKind::SmbEncrypted,
            Value::Text("session".into()),
            None,
        ));
        let a = attribute(&c, Some(&list), smb, Provenance::Port);
        assert_eq!(a.basis, Basis::Candidates);
        assert!(a.services.len() > 1);
        // One candidate by port; none at all.
        let kdc = c.lookup_port(crate::catalog::Transport::Tcp, 88);
        assert_eq!(
            attribute(&c, None, kdc, Provenance::Port).basis,
            Basis::Port
        );
        assert_eq!(
            attribute(&c, None, None, Provenance::Unknown).basis,
            Basis::Unclassified
        );
    }

    #[test]
    fn provenance_names_are_the_flow_record_vocabulary() {
        assert_eq!(Provenance::Port.as_str(), "port");
        assert_eq!(
            Provenance::Evidence(EvidenceKind::RpcBind).as_str(),
            "rpc-bind"
        );
        assert_eq!(
            serde_json::to_string(&Provenance::Evidence(EvidenceKind::EndpointMapper)).unwrap(),
            "\"endpoint-mapper\""
        );
    }
}

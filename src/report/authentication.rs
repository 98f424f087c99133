//! The report's authentication inventory: per service and server, the mechanisms clients used and
//! the Kerberos encryption types of their tickets, weak ones flagged (NTLMv1, passwords in clear,
//! RC4 and DES).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::aggregate::auth::{AuthInventory, Facet, Subject};
use crate::catalog::Catalog;
use crate::decode::Addr;
use crate::inspect::names::NameIndex;

/// Most (service, server) rows listed; the rest are counted in `rows_not_shown`.
pub const MAX_ROWS: usize = 500;

#[derive(Clone, Debug, Serialize, Default)]
pub struct Authentication {
    /// Per mechanism, each flow once: most flows first.
    pub mechanisms: Vec<FacetRow>,
    /// Per Kerberos encryption type (tickets presented, KDC replies), each flow once.
    pub kerberos_etypes: Vec<FacetRow>,
    /// Flows that used a weak mechanism or a weak Kerberos encryption type.
    pub weak: Vec<WeakRow>,
    /// Per service (or undetermined application protocol) and server: weak ones first, then most
    /// flows.
    pub by_service: Vec<ServiceAuthRow>,
    pub rows_not_shown: usize,
    /// Flows whose authentication did not fit in the inventory's table (see the README's bounds).
    pub flows_not_counted: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct FacetRow {
    /// A mechanism key (`kerberos`, `ntlmv2`, `ntlmv1`, …) or an encryption type's name.
    pub name: String,
    pub weak: bool,
    pub flows: u64,
    pub clients: usize,
    /// Absent in `by_service` rows (one server each).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub servers: Option<usize>,
}

#[derive(Clone, Debug, Serialize)]
pub struct WeakRow {
    /// The service, or `"not determined (APP)"`.
    pub service: String,
    pub server: Addr,
    pub name: String,
    pub flows: u64,
    pub clients: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct ServiceAuthRow {
    /// The catalog service, or `null` when the flows' service was not determined.
    pub service: Option<String>,
    /// The application protocol when the service was not determined (`"SMB"`), else `null`.
    pub app_protocol: Option<String>,
    pub server: Addr,
    pub mechanisms: Vec<FacetRow>,
    pub kerberos_etypes: Vec<FacetRow>,
    pub weak: bool,
}

fn subject_names(catalog: &Catalog, s: Subject) -> (Option<String>, Option<String>) {
    match s {
        Subject::Service(id) => (Some(catalog.service(id).name.clone()), None),
        Subject::Undetermined(l) => (None, Some(catalog.label(l).name.clone())),
        Subject::Unclassified => (None, Some("unclassified".into())),
    }
}

fn facet_name(f: &Facet) -> String {
    match f {
        Facet::Mechanism(m) => m.key().to_string(),
        Facet::Etype(e) => e.to_string(),
    }
}

fn sort(rows: &mut [FacetRow]) {
    rows.sort_by(|a, b| b.flows.cmp(&a.flows).then_with(|| a.name.cmp(&b.name)));
}

impl Authentication {
    pub fn build(catalog: &Catalog, inv: &AuthInventory) -> Authentication {
        let mut mechanisms = Vec::new();
        let mut kerberos_etypes = Vec::new();
        for (facet, cell) in &inv.totals {
            let row = FacetRow {
                name: facet_name(facet),
                weak: facet.is_weak(),
                flows: cell.flows,
                clients: cell.clients.len(),
                servers: Some(cell.servers.len()),
            };
            match facet {
                Facet::Mechanism(_) => mechanisms.push(row),
                Facet::Etype(_) => kerberos_etypes.push(row),
            }
        }
        sort(&mut mechanisms);
        sort(&mut kerberos_etypes);
        let mut grouped: BTreeMap<(Subject, Addr), ServiceAuthRow> = BTreeMap::new();
        let mut weak = Vec::new();
        for ((subject, server, facet), cell) in &inv.cells {
            let (service, app_protocol) = subject_names(catalog, *subject);
            let row = grouped
                .entry((*subject, *server))
                .or_insert_with(|| ServiceAuthRow {
                    service: service.clone(),
                    app_protocol: app_protocol.clone(),
                    server: *server,
                    mechanisms: Vec::new(),
                    kerberos_etypes: Vec::new(),
                    weak: false,
                });
            let fr = FacetRow {
                name: facet_name(facet),
                weak: facet.is_weak(),
                flows: cell.flows,
                clients: cell.clients.len(),
                servers: None,
            };
            if fr.weak {
                row.weak = true;
                weak.push(WeakRow {
                    service: service.clone().unwrap_or_else(|| {
                        format!(
                            "not determined ({})",
                            app_protocol.clone().unwrap_or_default()
                        )
                    }),
                    server: *server,
                    name: fr.name.clone(),
                    flows: fr.flows,
                    clients: fr.clients,
                });
            }
            match facet {
                Facet::Mechanism(_) => row.mechanisms.push(fr),
                Facet::Etype(_) => row.kerberos_etypes.push(fr),
            }
        }
        let mut by_service: Vec<ServiceAuthRow> = grouped.into_values().collect();
        let flows = |r: &ServiceAuthRow| -> u64 {
            r.mechanisms
                .iter()
                .chain(&r.kerberos_etypes)
                .map(|m| m.flows)
                .max()
                .unwrap_or(0)
        };
        for r in &mut by_service {
            sort(&mut r.mechanisms);
            sort(&mut r.kerberos_etypes);
        }
        by_service.sort_by(|a, b| {
            b.weak
                .cmp(&a.weak)
                .then_with(|| flows(b).cmp(&flows(a)))
                .then_with(|| a.service.cmp(&b.service))
                .then_with(|| a.app_protocol.cmp(&b.app_protocol))
                .then_with(|| a.server.cmp(&b.server))
        });
        let rows_not_shown = by_service.len().saturating_sub(MAX_ROWS);
        by_service.truncate(MAX_ROWS);
        weak.sort_by(|a, b| {
            b.flows
                .cmp(&a.flows)
                .then_with(|| a.service.cmp(&b.service))
                .then_with(|| a.server.cmp(&b.server))
                .then_with(|| a.name.cmp(&b.name))
        });
        weak.truncate(MAX_ROWS);
        Authentication {
            mechanisms,
            kerberos_etypes,
            weak,
            by_service,
            rows_not_shown,
            flows_not_counted: inv.flows_not_counted,
        }
    }
}

/// Most service principals listed; the rest are counted in `principals_not_shown`.
pub const MAX_PRINCIPALS_SHOWN: usize = 1000;

/// The Kerberos service principals clients asked tickets for (TGS-REQ) or presented (AP-REQ).
#[derive(Clone, Debug, Serialize, Default)]
pub struct Kerberos {
    /// Most clients first.
    pub principals: Vec<PrincipalRow>,
    pub principals_not_shown: usize,
    /// Principals the inventory had no room for.
    pub principals_not_counted: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct PrincipalRow {
    /// As the wire spells it: `cifs/fs01.corp.example`, `MSSQLSvc/sql01.corp.example:1433`.
    pub principal: String,
    /// The service class (the first component): `cifs`, `MSSQLSvc`, `krbtgt`.
    pub class: String,
    /// Whether the catalog maps the class (`catalog/names.toml`); `false`: an unknown class.
    pub known_class: bool,
    /// The catalog services the class maps to.
    pub services: Vec<String>,
    pub requested_flows: u64,
    pub presented_flows: u64,
    pub clients: usize,
    /// Servers a ticket for it was presented to.
    pub servers: Vec<Addr>,
    /// The addresses its host resolves to by the capture's DNS answers (or the host written as an
    /// address): the servers the clients asked to use, whether or not their flows were captured.
    pub resolved: Vec<Addr>,
    /// The encryption types of its tickets seen (`"rc4-hmac (weak)"`…).
    pub etypes: Vec<String>,
    /// Whether any of them is weak (RC4, DES).
    pub weak: bool,
}

impl Kerberos {
    pub fn build(catalog: &Catalog, inv: &AuthInventory, names: &NameIndex) -> Kerberos {
        let mut principals: Vec<PrincipalRow> = inv
            .principals
            .iter()
            .map(|(spn, p)| {
                let services = p
                    .name
                    .map(|n| {
                        catalog
                            .name(n)
                            .services
                            .iter()
                            .map(|&s| catalog.service(s).name.clone())
                            .collect()
                    })
                    .unwrap_or_default();
                let mut servers: Vec<Addr> = p.servers.iter().copied().collect();
                servers.sort();
                servers.truncate(100);
                let mut resolved = crate::inspect::learn::spn_host(spn)
                    .map(|(host, _)| names.addrs(&host))
                    .unwrap_or_default();
                resolved.truncate(100);
                PrincipalRow {
                    principal: spn.to_string(),
                    class: spn.split('/').next().unwrap_or_default().to_string(),
                    known_class: p.name.is_some(),
                    services,
                    requested_flows: p.requested_flows,
                    presented_flows: p.presented_flows,
                    clients: p.clients.len(),
                    servers,
                    resolved,
                    etypes: p.etypes.iter().map(|e| e.to_string()).collect(),
                    weak: p
                        .etypes
                        .iter()
                        .any(|e| crate::wire::kerberos::etype_text_is_weak(e)),
                }
            })
            .collect();
        principals.sort_by(|a, b| {
            b.clients
                .cmp(&a.clients)
                .then_with(|| {
                    (b.requested_flows + b.presented_flows)
                        .cmp(&(a.requested_flows + a.presented_flows))
                })
                .then_with(|| a.principal.cmp(&b.principal))
        });
        let principals_not_shown = principals.len().saturating_sub(MAX_PRINCIPALS_SHOWN);
        principals.truncate(MAX_PRINCIPALS_SHOWN);
        Kerberos {
            principals,
            principals_not_shown,
            principals_not_counted: inv.principals_not_counted,
        }
    }
}

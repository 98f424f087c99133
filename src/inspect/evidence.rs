//! Evidence: what the payload of a flow (or of the flows that announced it) showed about the service
//! it belongs to, as small typed records that every output renders the same way.
//!
//! A flow carries a list of evidence items (several interfaces bound over one connection, several
//! pipes opened over one SMB session, …). Each is a kind, a value and the catalog label it implies;
//! the services a flow is credited with come from its evidence where there is any, and from its
//! port's candidates otherwise. [`Provenance`] says how a flow got its label: a port lookup, or the
//! kind of evidence that named it.

use serde::Serialize;

use crate::catalog::{LabelId, Uuid};

/// The kinds of evidence, named as they appear in flow records and reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EvidenceKind {
    /// The endpoint mapper announced this endpoint for an interface (`ept_map` / `ept_lookup`).
    EndpointMapper,
    /// A DCE/RPC `bind` or `alter_context` on the flow named the interface.
    RpcBind,
    /// DCE/RPC PDU headers: a connectionless header names its interface; connection-oriented
    /// requests without a captured bind show RPC with the interface unknown.
    RpcHeader,
    /// An FTP control connection announced this data connection (PORT, EPRT, PASV, EPSV).
    FtpControl,
    /// The answer of a TFTP server from a new port to a request on UDP 69.
    Tftp,
}

impl EvidenceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EvidenceKind::EndpointMapper => "endpoint-mapper",
            EvidenceKind::RpcBind => "rpc-bind",
            EvidenceKind::RpcHeader => "rpc-header",
            EvidenceKind::FtpControl => "ftp-control",
            EvidenceKind::Tftp => "tftp",
        }
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

/// At most this many evidence items are kept per flow; later ones are counted, not kept.
pub const MAX_EVIDENCE: usize = 16;

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
        let item = |n: u8| Evidence {
            kind: EvidenceKind::RpcBind,
            value: Value::Interface(Uuid([n; 16])),
            label: None,
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

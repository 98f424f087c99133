//! TFTP (UDP 69): a request announces the client's endpoint, since the server answers it from a new
//! port; that answer's flow is TFTP (RFC 1350).

use super::{
    Budget, Counter, EvidenceKind, Expected, Inspector, Offer, Out, Registration, Segment, Step,
};
use crate::decode::proto;

/// The TFTP server port.
pub const PORT: u16 = 69;

/// Transfers recognised: answers from a new port to an announced request.
pub static TRANSFERS: Counter = Counter {
    key: "tftp_transfers",
    text: "TFTP transfers",
};

pub const REQUEST: Registration = Registration {
    name: "tftp",
    wants: |o: &Offer| o.protocol == proto::UDP && o.server_port == PORT && o.label.is_some(),
    budget: Budget {
        bytes: u64::MAX,
        segments: 1,
    },
    start: || Box::new(Request),
    counters: &[&TRANSFERS],
};

struct Request;

impl Inspector for Request {
    fn segment(&mut self, seg: &Segment<'_>, out: &mut Out<'_>) -> Step {
        if let (true, Some(label)) = (seg.from_client, seg.label) {
            out.announce(
                (seg.client.0, seg.client.1, proto::UDP),
                Expected {
                    label,
                    kind: EvidenceKind::Tftp,
                    interface: None,
                    client: None,
                    ts: seg.ts,
                },
            );
        }
        Step::Done
    }
}

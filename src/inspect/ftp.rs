//! FTP control connections (TCP 21): PORT and EPRT from the client, PASV (227) and EPSV (229)
//! replies from the server announce the data connection, labelled FTP data under the FTP
//! Publishing Service (parsing in `wire::ftp`).

use super::{
    Budget, Counter, EvidenceKind, Expected, Inspector, Offer, Out, Registration, Segment, Step,
};
use crate::decode::proto;
use crate::wire::ftp::data_endpoint;

/// The FTP control port.
pub const CONTROL_PORT: u16 = 21;
/// Payload read from a control connection at most.
pub const MAX_BYTES: u64 = 256 * 1024;
/// The longest control line buffered.
const MAX_LINE: usize = 1024;

pub static DATA_ANNOUNCED: Counter = Counter {
    key: "ftp_data_announced",
    text: "FTP data announcements",
};

pub const CONTROL: Registration = Registration {
    name: "ftp",
    wants: |o: &Offer| o.protocol == proto::TCP && o.server_port == CONTROL_PORT,
    budget: Budget {
        bytes: MAX_BYTES,
        segments: u32::MAX,
    },
    start: || Box::<Control>::default(),
    counters: &[&DATA_ANNOUNCED],
};

/// The line being read in each direction.
#[derive(Default)]
struct Control {
    lines: [Vec<u8>; 2],
}

impl Inspector for Control {
    fn segment(&mut self, seg: &Segment<'_>, out: &mut Out<'_>) -> Step {
        let line_buf = &mut self.lines[usize::from(!seg.from_client)];
        for &b in seg.payload {
            if b != b'\n' {
                if line_buf.len() < MAX_LINE {
                    line_buf.push(b);
                }
                continue;
            }
            let line = String::from_utf8_lossy(line_buf).trim().to_string();
            line_buf.clear();
            let Some((addr, port)) =
                data_endpoint(&line, seg.from_client, seg.server.0, seg.client.0)
            else {
                continue;
            };
            if let Some(label) = out.catalog.ftp_data_label() {
                out.count(&DATA_ANNOUNCED);
                out.announce(
                    (addr, port, proto::TCP),
                    Expected {
                        label,
                        kind: EvidenceKind::FtpControl,
                        interface: None,
                        client: None,
                        ts: seg.ts,
                    },
                );
            }
        }
        Step::More
    }

    fn held(&self) -> usize {
        self.lines.iter().map(Vec::len).sum()
    }
}

//! Classic pcap: the file header and records read in chunks straight into the batch buffer.

use std::io::{self, BufRead, BufReader, Read};

use super::*;

impl FileSource {
    pub(super) fn pcap_header(
        &mut self,
        big_endian: bool,
        nanos: bool,
    ) -> Result<(), CaptureError> {
        let mut h = [0u8; 20];
        self.read_exact(&mut h, &|| "the pcap file header".to_string())?;
        let snaplen = u32_at(&h, 12, big_endian);
        let network = u32_at(&h, 16, big_endian);
        let dlt = (network & 0x03ff_ffff) as i32;
        let mut iface = Interface::new(dlt, snaplen);
        if nanos {
            iface.mul = 1;
        }
        if !iface.link.is_supported() {
            return Err(self.fail(unsupported(dlt)));
        }
        self.interfaces.push(iface);
        self.note_link(iface.link);
        Ok(())
    }
}

impl FileSource {
    /// Classic pcap: reads the file in chunks of about [`CHUNK`] bytes straight into the batch buffer
    /// (the kernel's copy is the only one) and takes the records where they lie, record headers and
    /// all. The record cut by the chunk's end moves to the start of the next batch. Memory grows with
    /// the bytes actually read, never with a length field's claim.
    pub(super) fn fill_pcap(
        &mut self,
        batch: &mut Batch,
        big_endian: bool,
        nanos: bool,
    ) -> Result<bool, CaptureError> {
        let iface = self.interfaces[0];
        batch.link = Some(iface.link);
        batch.data.append(&mut self.partial);
        self.filter_for(iface.dlt)?;
        let filter = self.filters.by_link.get(&iface.dlt);
        let mut at = 0;
        let (mut records, mut filtered) = (0u64, 0u64);
        let stop = loop {
            // Every whole record in the buffer; `need`: bytes missing for the next one.
            let need = loop {
                let rest = batch.data.len() - at;
                if rest < 16 {
                    break 16 - rest;
                }
                let h = &batch.data[at..at + 16];
                let caplen = u32_at(h, 8, big_endian);
                if caplen > MAX_FRAME {
                    break 0;
                }
                let end = at + 16 + caplen as usize;
                if end > batch.data.len() {
                    break end - batch.data.len();
                }
                let ts = pcap_ts(h, big_endian, nanos);
                let wire_len = u32_at(h, 12, big_endian).max(caplen);
                if filter.is_none_or(|f| f.filter(&batch.data[at + 16..end])) {
                    batch.push_at(ts, wire_len, (at + 16) as u32, caplen);
                } else {
                    filtered += 1;
                }
                records += 1;
                at = end;
            };
            if need == 0 {
                break Stop::Length;
            }
            if at > 0 && batch.data.len() >= CHUNK {
                break Stop::Full;
            }
            let want = CHUNK.saturating_sub(batch.data.len()).max(need);
            match read_chunk(&mut self.reader, &mut batch.data, want) {
                Ok(0) if batch.data.len() == at => break Stop::End,
                Ok(0) => break Stop::Cut,
                Ok(got) => self.counters.file_bytes += got as u64,
                Err(e) => break Stop::Read(e),
            }
        };
        self.counters.packets += records;
        self.counters.filtered += filtered;
        self.records += records;
        if self.partial.capacity() > CHUNK {
            // Do not keep a buffer the size of one huge record for the rest of the file.
            self.partial = Vec::new();
        }
        self.partial.extend_from_slice(&batch.data[at..]);
        batch.data.truncate(at);
        let record = self.records + 1;
        match stop {
            Stop::Full => Ok(true),
            Stop::End => Ok(false),
            Stop::Read(e) => Err(self.fail(format!("read error: {e}"))),
            Stop::Length => {
                let caplen = u32_at(&self.partial, 8, big_endian);
                self.check_caplen(record, caplen).map(|_| false)
            }
            Stop::Cut if self.partial.len() < 16 => Err(self.fail(format!(
                "truncated capture: record {record}'s header is cut short ({} of 16 bytes){}",
                self.partial.len(),
                self.kept()
            ))),
            Stop::Cut => Err(self.fail(format!(
                "truncated capture: record {record} is cut short ({} of {} bytes){}",
                self.partial.len() - 16,
                u32_at(&self.partial, 8, big_endian),
                self.kept()
            ))),
        }
    }
}

/// Appends up to `want` bytes of the input to `buf` (0 only at its end): what the read buffer still
/// holds, else read from the input straight into `buf`. Going round the read buffer would copy the
/// bytes a second time, in pieces of its size.
fn read_chunk<R: Read>(
    reader: &mut BufReader<R>,
    buf: &mut Vec<u8>,
    want: usize,
) -> io::Result<usize> {
    let held = reader.buffer();
    if !held.is_empty() {
        let n = held.len().min(want);
        buf.extend_from_slice(&held[..n]);
        reader.consume(n);
        return Ok(n);
    }
    Read::take(reader.get_mut(), want as u64).read_to_end(buf)
}

/// Why the classic-pcap path handed its batch over.
enum Stop {
    /// The chunk is full.
    Full,
    /// The file ended after a whole record.
    End,
    /// A record claims more than [`MAX_FRAME`].
    Length,
    /// The file ends inside a record.
    Cut,
    Read(io::Error),
}

/// The timestamp of a pcap record header (seconds, then micro- or nanoseconds), in nanoseconds.
pub(super) fn pcap_ts(h: &[u8], big_endian: bool, nanos: bool) -> Ts {
    let secs = i64::from(u32_at(h, 0, big_endian));
    let frac = u64::from(u32_at(h, 4, big_endian));
    let frac_ns = if nanos { frac } else { frac * 1000 };
    secs.saturating_mul(1_000_000_000)
        .saturating_add(frac_ns as i64)
}

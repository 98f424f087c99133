//! Capture files: svcscope's own pcap and pcapng record reader.
//!
//! libpcap's offline reader reads 4 KiB at a time and refuses pcapng files whose interfaces have
//! different link types; this reader handles both formats in either byte order with any timestamp
//! resolution, and reports every fault as one line naming the file, the record and what is wrong.
//! Classic pcap files are read in 1 MiB chunks straight into the batch buffer, whose frames stay where
//! they lie (the kernel's copy is the only one); pcapng blocks are read through a 64 KiB buffer and
//! each frame copied once into the batch. Validity rule: every length read
//! from the file is checked against the block or record that holds it and against [`MAX_FRAME`] before
//! anything is allocated or read.
//!
//! This file holds what both formats share: opening a file and telling the formats apart, the source
//! with its counters and filters, bounded reads and skips, record-length checks and fault messages.
//! `pcap.rs` reads classic pcap, `pcapng.rs` reads pcapng.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use super::{
    compile_file_filter, compile_filter, Batch, CaptureError, PacketSource, SourceCounters,
};
use crate::decode::LinkType;
use crate::time::Ts;

mod pcap;
mod pcapng;

use pcapng::{Interface, Undecodable};

/// The largest frame accepted in a capture file; a record claiming more is corrupt.
pub const MAX_FRAME: u32 = 16 << 20;
/// The largest pcapng block accepted.
const MAX_BLOCK: u32 = 64 << 20;
/// The buffer of the pcapng path and of file headers. The classic-pcap path reads past it.
const READ_BUFFER: usize = 64 << 10;
/// Bytes read into one batch by the classic-pcap path.
const CHUNK: usize = 1 << 20;

enum Format {
    Pcap { big_endian: bool, nanos: bool },
    Pcapng { big_endian: bool },
}

/// The input name that stands for standard input.
pub const STDIN: &str = "-";

/// Blocks read, at most, to find the first packet of a pcapng file when ordering inputs.
const PROBE_BLOCKS: usize = 1024;

/// The timestamp of a capture file's first packet, reading only up to it: the key by which several
/// inputs are put in order, as mergecap does. `None` when the file cannot be read, holds no packet
/// (in its first [`PROBE_BLOCKS`] blocks, for pcapng), or is not a regular file (a pipe can be read
/// only once). Every fault is left for [`FileSource::open`] to report when the file is read.
pub fn first_packet_time(path: &Path) -> Option<Ts> {
    if path == Path::new(STDIN) || !std::fs::metadata(path).ok()?.is_file() {
        return None;
    }
    let mut source = FileSource::open(path, None).ok()?;
    match source.format {
        Format::Pcap { big_endian, nanos } => {
            let mut h = [0u8; 16];
            if read_up_to(&mut source.reader, &mut h).ok()? < h.len() {
                return None;
            }
            Some(pcap::pcap_ts(&h, big_endian, nanos))
        }
        Format::Pcapng { .. } => source.first_pcapng_ts(PROBE_BLOCKS),
    }
}

/// A frame read but not yet placed because its link type differs from the batch's.
struct Carry {
    iface: usize,
    ts: Ts,
    wire_len: u32,
    data: Vec<u8>,
}

/// Compiled filters by link type, handed from one file to the next so that a filter is compiled
/// once per link type for the whole run, not once per file (a large expression takes libpcap a
/// while to compile).
#[derive(Default)]
pub struct Filters {
    by_link: HashMap<i32, ::pcap::BpfProgram>,
    /// Compilations so far (for tests).
    pub compiled: u32,
}

/// A capture file.
pub struct FileSource {
    name: String,
    /// The file, or standard input (`-`): any reader, read through the bounded reads below.
    reader: BufReader<Box<dyn Read + Send>>,
    format: Format,
    interfaces: Vec<Interface>,
    filter: Option<String>,
    filters: Filters,
    counters: SourceCounters,
    records: u64,
    carry: Option<Carry>,
    /// Bytes to skip after the frame being read (pcapng padding and options).
    scratch_skip: usize,
    /// Classic pcap: the start of a record cut by the end of the last chunk.
    partial: Vec<u8>,
    seen_links: Vec<String>,
    /// Packets read on an interface whose link type svcscope does not decode: the file fails with
    /// them once it is read to the end.
    undecodable: Option<Undecodable>,
}

impl FileSource {
    /// Opens a capture file, or standard input when `path` is [`STDIN`] (`-`, as for `tcpdump -r -`).
    pub fn open(path: &Path, filter: Option<&str>) -> Result<FileSource, CaptureError> {
        FileSource::open_with(path, filter, Filters::default())
    }

    /// Opens a capture file with the filters an earlier file compiled (see [`FileSource::take_filters`]).
    pub fn open_with(
        path: &Path,
        filter: Option<&str>,
        filters: Filters,
    ) -> Result<FileSource, CaptureError> {
        if path == Path::new(STDIN) {
            return FileSource::read_from(STDIN, Box::new(io::stdin()), filter, filters);
        }
        let name = path.display().to_string();
        let fail = |message: String| CaptureError {
            input: name.clone(),
            message,
        };
        let meta = std::fs::metadata(path).map_err(|e| fail(io_message(&e)))?;
        if meta.is_dir() {
            return Err(fail("is a directory, not a capture file".into()));
        }
        // A pipe or FIFO (`analyze <(zcat x.pcap.gz)`) has no length: read it like any file.
        if meta.is_file() && meta.len() == 0 {
            return Err(fail("empty file, not a capture".into()));
        }
        let file = File::open(path).map_err(|e| fail(io_message(&e)))?;
        FileSource::read_from(&name, Box::new(file), filter, filters)
    }

    /// The compiled filters, for the next file.
    pub fn take_filters(&mut self) -> Filters {
        std::mem::take(&mut self.filters)
    }

    /// Reads a capture (pcap or pcapng) from any reader — a file, standard input, a test's bytes —
    /// named `name` in fault messages. Every read is bounded as for a file.
    pub fn from_reader(
        name: &str,
        input: Box<dyn Read + Send>,
        filter: Option<&str>,
    ) -> Result<FileSource, CaptureError> {
        FileSource::read_from(name, input, filter, Filters::default())
    }

    fn read_from(
        name: &str,
        input: Box<dyn Read + Send>,
        filter: Option<&str>,
        filters: Filters,
    ) -> Result<FileSource, CaptureError> {
        let name = name.to_string();
        let fail = |message: String| CaptureError {
            input: name.clone(),
            message,
        };
        let mut reader = BufReader::with_capacity(READ_BUFFER, input);
        let mut magic = [0u8; 4];
        let got = read_up_to(&mut reader, &mut magic).map_err(|e| fail(io_message(&e)))?;
        if got == 0 {
            return Err(fail("empty file, not a capture".into()));
        }
        if got < 4 {
            return Err(fail(format!(
                "not a pcap or pcapng capture (only {got} bytes)"
            )));
        }
        let mut source = FileSource {
            name: name.clone(),
            reader,
            format: Format::Pcapng { big_endian: false },
            interfaces: Vec::new(),
            filter: filter.map(String::from),
            filters,
            counters: SourceCounters {
                file_bytes: 4,
                ..Default::default()
            },
            records: 0,
            carry: None,
            scratch_skip: 0,
            partial: Vec::new(),
            seen_links: Vec::new(),
            undecodable: None,
        };
        match magic {
            [0xd4, 0xc3, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0xc3, 0xd4]
            | [0x4d, 0x3c, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0x3c, 0x4d] => {
                let big_endian = magic[0] == 0xa1;
                let nanos = magic == [0x4d, 0x3c, 0xb2, 0xa1] || magic == [0xa1, 0xb2, 0x3c, 0x4d];
                source.format = Format::Pcap { big_endian, nanos };
                source.pcap_header(big_endian, nanos)?;
            }
            [0x0a, 0x0d, 0x0d, 0x0a] => source.pcapng_section_header()?,
            _ => {
                return Err(fail(format!(
                    "not a pcap or pcapng capture (starts with {:02x} {:02x} {:02x} {:02x})",
                    magic[0], magic[1], magic[2], magic[3]
                )))
            }
        }
        if let Some(expr) = filter {
            // Check the expression against the file's first link type now, so a bad one fails early.
            if let Some(i) = source.interfaces.first().copied() {
                source.filter_for(i.dlt)?;
            } else {
                compile_filter(::pcap::Linktype(1), expr).map_err(fail)?;
            }
        }
        Ok(source)
    }

    fn fail(&self, message: String) -> CaptureError {
        CaptureError {
            input: self.name.clone(),
            message,
        }
    }

    /// The end of a fault message: the packets read before it still count, if there are any.
    fn kept(&self) -> &'static str {
        if self.counters.packets > 0 {
            "; the packets before it are reported"
        } else {
            ""
        }
    }

    /// Where a block is: "after record N", or "before the first record".
    fn after(&self) -> String {
        match self.records {
            0 => "before the first record".to_string(),
            n => format!("after record {n}"),
        }
    }

    /// Reads exactly `buf.len()` bytes or explains what was cut short.
    fn read_exact(
        &mut self,
        buf: &mut [u8],
        what: &dyn Fn() -> String,
    ) -> Result<(), CaptureError> {
        let got =
            read_up_to(&mut self.reader, buf).map_err(|e| self.fail(format!("read error: {e}")))?;
        self.counters.file_bytes += got as u64;
        if got < buf.len() {
            return Err(self.fail(format!(
                "truncated capture: {} is cut short ({got} of {} bytes){}",
                what(),
                buf.len(),
                self.kept()
            )));
        }
        Ok(())
    }

    /// Appends exactly `n` bytes to `buf` or explains what was cut short. Memory grows with the bytes
    /// actually read, never with a length field's claim: a record claiming megabytes in a small file
    /// allocates no more than the file holds.
    fn read_vec(
        &mut self,
        buf: &mut Vec<u8>,
        n: usize,
        what: &dyn Fn() -> String,
    ) -> Result<(), CaptureError> {
        if let Some(bytes) = self.reader.buffer().get(..n) {
            // The common case: the bytes are in the read buffer.
            buf.extend_from_slice(bytes);
            self.reader.consume(n);
            self.counters.file_bytes += n as u64;
            return Ok(());
        }
        let got = (&mut self.reader)
            .take(n as u64)
            .read_to_end(buf)
            .map_err(|e| self.fail(format!("read error: {e}")))?;
        self.counters.file_bytes += got as u64;
        if got < n {
            return Err(self.fail(format!(
                "truncated capture: {} is cut short ({got} of {n} bytes){}",
                what(),
                self.kept()
            )));
        }
        Ok(())
    }

    fn note_link(&mut self, link: LinkType) {
        let n = link.name();
        if !self.seen_links.contains(&n) {
            self.seen_links.push(n);
        }
    }

    fn filter_for(&mut self, dlt: i32) -> Result<Option<&::pcap::BpfProgram>, CaptureError> {
        let Some(expr) = &self.filter else {
            return Ok(None);
        };
        if !self.filters.by_link.contains_key(&dlt) {
            let prog = compile_file_filter(dlt, expr).map_err(|m| self.fail(m))?;
            self.filters.by_link.insert(dlt, prog);
            self.filters.compiled += 1;
        }
        Ok(self.filters.by_link.get(&dlt))
    }

    /// Reads up to `buf.len()` bytes, counting them for progress; returns how many were read.
    fn read_counted(&mut self, buf: &mut [u8]) -> Result<usize, CaptureError> {
        let got =
            read_up_to(&mut self.reader, buf).map_err(|e| self.fail(format!("read error: {e}")))?;
        self.counters.file_bytes += got as u64;
        Ok(got)
    }

    fn check_caplen(&self, record: u64, caplen: u32) -> Result<(), CaptureError> {
        if caplen > MAX_FRAME {
            return Err(self.fail(format!(
                "corrupt capture: record {record} claims {caplen} captured bytes (at most {MAX_FRAME}){}",
                self.kept()
            )));
        }
        Ok(())
    }

    fn skip(&mut self, n: usize) -> Result<(), CaptureError> {
        if self.reader.buffer().len() >= n {
            self.reader.consume(n);
            self.counters.file_bytes += n as u64;
            return Ok(());
        }
        let got = io::copy(&mut (&mut self.reader).take(n as u64), &mut io::sink())
            .map_err(|e| self.fail(format!("read error: {e}")))?;
        self.counters.file_bytes += got;
        if got < n as u64 {
            return Err(self.fail(format!(
                "truncated capture: the block {} is cut short{}",
                self.after(),
                self.kept()
            )));
        }
        Ok(())
    }
}

fn u32_at(b: &[u8], at: usize, big_endian: bool) -> u32 {
    let x = [b[at], b[at + 1], b[at + 2], b[at + 3]];
    if big_endian {
        u32::from_be_bytes(x)
    } else {
        u32::from_le_bytes(x)
    }
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn io_message(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such file".into(),
        io::ErrorKind::PermissionDenied => "permission denied (cannot read the file)".into(),
        io::ErrorKind::IsADirectory => "is a directory, not a capture file".into(),
        _ => format!("cannot read: {e}"),
    }
}

/// A link type by libpcap's name and number, or its number alone.
fn link_name(dlt: i32) -> String {
    match ::pcap::Linktype(dlt).get_name() {
        Ok(name) => format!("{name} ({dlt})"),
        Err(_) => dlt.to_string(),
    }
}

fn unsupported(dlt: i32) -> String {
    format!(
        "unsupported link type {}; svcscope decodes {}",
        link_name(dlt),
        super::SUPPORTED
    )
}

impl PacketSource for FileSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn fill(&mut self, batch: &mut Batch) -> Result<bool, CaptureError> {
        if let Format::Pcap { big_endian, nanos } = self.format {
            return self.fill_pcap(batch, big_endian, nanos);
        }
        match self.fill_pcapng(batch) {
            // Packets on an interface of a link type svcscope does not decode: the rest of the file
            // was read, and the file fails with what was lost.
            Ok(false) => match self.undecodable.take() {
                Some(u) => {
                    let others = self.counters.packets > u.packets;
                    Err(self.fail(u.message("", others)))
                }
                None => Ok(false),
            },
            Ok(true) => Ok(true),
            Err(mut e) => {
                if let Some(u) = self.undecodable.take() {
                    e.message = format!("{}; also {}", e.message, u.message(" before it", false));
                }
                Err(e)
            }
        }
    }

    fn counters(&self) -> SourceCounters {
        self.counters.clone()
    }

    fn link_types(&self) -> Vec<String> {
        self.seen_links.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A filter is compiled once per link type for a whole run of files, not once per file.
    #[test]
    fn filters_are_compiled_once_per_link_type_across_files() {
        let mut filters = Filters::default();
        for path in [
            "fixtures/multi-a.pcap",
            "fixtures/multi-b.pcap",
            "fixtures/vlan.pcap",
            "fixtures/null.pcap",
            "fixtures/multi-a.pcap",
        ] {
            let mut source =
                FileSource::open_with(Path::new(path), Some("tcp or udp"), filters).unwrap();
            let mut batch = Batch::default();
            while source.fill(&mut batch).unwrap() {
                batch.clear();
            }
            filters = source.take_filters();
        }
        // Ethernet once (three files share it), BSD loopback once.
        assert_eq!(filters.compiled, 2);
    }

    fn temp_capture(name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let path =
            std::env::temp_dir().join(format!("svcscope-file-{}-{name}", std::process::id()));
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// Reads a whole file; returns the frames read, the largest batch buffer and the error.
    fn read_all(path: &Path) -> (usize, usize, Option<String>) {
        let mut source = FileSource::open(path, None).unwrap();
        let mut batch = Batch::default();
        let (mut frames, mut capacity) = (0, 0);
        loop {
            batch.clear();
            batch.link = None;
            let r = source.fill(&mut batch);
            frames += batch.packets.len();
            capacity = capacity.max(batch.data.capacity());
            match r {
                Ok(true) => {}
                Ok(false) => return (frames, capacity, None),
                Err(e) => return (frames, capacity, Some(e.message)),
            }
        }
    }

    /// Regression (fuzz target capture_file): a record claiming almost MAX_FRAME bytes in a small
    /// file made the reader allocate all of them before reading.
    #[test]
    fn lying_record_length_allocates_only_what_the_file_holds() {
        let mut f = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
        f.extend_from_slice(&[0; 8]);
        f.extend_from_slice(&0xffffu32.to_le_bytes());
        f.extend_from_slice(&1u32.to_le_bytes());
        let mut record = |caplen: u32, frame: &[u8]| {
            f.extend_from_slice(&[0; 8]);
            f.extend_from_slice(&caplen.to_le_bytes());
            f.extend_from_slice(&caplen.to_le_bytes());
            f.extend_from_slice(frame);
        };
        record(60, &[0xaa; 60]);
        record(MAX_FRAME, &[0xbb; 100]);
        let path = temp_capture("lying.pcap", &f);
        let (frames, capacity, err) = read_all(&path);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(frames, 1, "the packet before the fault is kept");
        assert!(
            capacity < 64 * 1024,
            "batch buffer grew to {capacity} bytes"
        );
        assert_eq!(
            err.unwrap(),
            "truncated capture: record 2 is cut short (100 of 16777216 bytes); the packets before it are reported"
        );
    }

    /// Any reader (standard input, a pipe) is read like a file, with the same bounds: a record
    /// claiming almost MAX_FRAME bytes allocates only what the input holds.
    #[test]
    fn a_reader_is_read_like_a_file() {
        let mut f = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
        f.extend_from_slice(&[0; 8]);
        f.extend_from_slice(&0xffffu32.to_le_bytes());
        f.extend_from_slice(&1u32.to_le_bytes());
        for caplen in [60, MAX_FRAME] {
            f.extend_from_slice(&[0; 8]);
            f.extend_from_slice(&caplen.to_le_bytes());
            f.extend_from_slice(&caplen.to_le_bytes());
            f.extend_from_slice(&[0xaa; 60]);
        }
        let input = Box::new(io::Cursor::new(f));
        let mut source = FileSource::from_reader("-", input, None).unwrap();
        let mut batch = Batch::default();
        let err = source.fill(&mut batch).unwrap_err();
        assert_eq!(batch.packets.len(), 1);
        assert!(
            batch.data.capacity() < 2 * CHUNK,
            "{}",
            batch.data.capacity()
        );
        assert_eq!(
            (err.input.as_str(), err.message.as_str()),
            (
                "-",
                "truncated capture: record 2 is cut short (60 of 16777216 bytes); the packets before it are reported"
            )
        );
    }

    /// A little-endian pcapng file: one section, interfaces of (link type, options), then enhanced
    /// packet blocks of (interface, timestamp units, frame).
    fn pcapng(interfaces: &[(u16, &[u8])], packets: &[(u32, u64, &[u8])]) -> Vec<u8> {
        let mut f = Vec::new();
        let mut block = |kind: u32, body: &[u8]| {
            let total = 12 + ((body.len() + 3) & !3) as u32;
            f.extend_from_slice(&kind.to_le_bytes());
            f.extend_from_slice(&total.to_le_bytes());
            f.extend_from_slice(body);
            f.resize(f.len() + ((4 - body.len() % 4) % 4), 0);
            f.extend_from_slice(&total.to_le_bytes());
        };
        block(
            0x0a0d_0d0a,
            &[
                0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            ],
        );
        for (dlt, options) in interfaces {
            let mut body = dlt.to_le_bytes().to_vec();
            body.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
            body.extend_from_slice(options);
            block(1, &body);
        }
        for (iface, units, frame) in packets {
            let mut body = iface.to_le_bytes().to_vec();
            body.extend_from_slice(&((units >> 32) as u32).to_le_bytes());
            body.extend_from_slice(&(*units as u32).to_le_bytes());
            body.extend_from_slice(&(frame.len() as u32).to_le_bytes());
            body.extend_from_slice(&(frame.len() as u32).to_le_bytes());
            body.extend_from_slice(frame);
            block(6, &body);
        }
        f
    }

    /// Regression: a 64-bit timestamp past year 2262 (nanosecond resolution) wrapped to a time
    /// before 1970 — and a flow spanning both overflowed its duration.
    #[test]
    fn far_future_timestamps_saturate() {
        let ns_resolution: &[u8] = &[9, 0, 1, 0, 9, 0, 0, 0, 0, 0, 0, 0];
        let f = pcapng(
            &[(1, ns_resolution)],
            &[
                (0, u64::MAX, &[0; 20]),
                (0, 1 << 63, &[0; 20]),
                (0, 5, &[0; 20]),
            ],
        );
        let path = temp_capture("far-future.pcapng", &f);
        let mut source = FileSource::open(&path, None).unwrap();
        let mut batch = Batch::default();
        assert!(!source.fill(&mut batch).unwrap());
        std::fs::remove_file(&path).unwrap();
        let ts: Vec<Ts> = batch.packets.iter().map(|p| p.ts).collect();
        assert_eq!(ts, [i64::MAX, i64::MAX, 5]);

        // A negative if_tsoffset stops at 1970, so no two capture times are further apart than a Ts
        // can count (a flow spanning i64::MIN..i64::MAX overflowed its duration).
        let offset: &[u8] = &[14, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0, 0, 0, 0];
        let f = pcapng(&[(1, offset)], &[(0, 1_000_000, &[0; 20])]);
        let path = temp_capture("negative-offset.pcapng", &f);
        let mut source = FileSource::open(&path, None).unwrap();
        let mut batch = Batch::default();
        assert!(!source.fill(&mut batch).unwrap());
        std::fs::remove_file(&path).unwrap();
        assert_eq!(batch.packets[0].ts, 0);
    }

    /// Faults before any packet do not promise "the packets before it"; link types libpcap has no
    /// name for are not called "DLT 147 (147)".
    #[test]
    fn fault_messages_before_the_first_packet() {
        let open_err = |name: &str, bytes: &[u8]| {
            let path = temp_capture(name, bytes);
            let r = FileSource::open(&path, None).err().map(|e| e.message);
            std::fs::remove_file(&path).unwrap();
            r
        };
        let header = [0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            open_err("short-header.pcap", &header).unwrap(),
            "truncated capture: the pcap file header is cut short (10 of 20 bytes)"
        );
        let mut dlt147 = header.to_vec();
        dlt147.extend_from_slice(&[0, 0, 0xff, 0xff, 0, 0, 147, 0, 0, 0]);
        assert_eq!(
            open_err("dlt147.pcap", &dlt147).unwrap(),
            format!(
                "unsupported link type 147; svcscope decodes {}",
                super::super::SUPPORTED
            )
        );
        let mut record1 = dlt147.clone();
        record1[20] = 1;
        record1.extend_from_slice(&[0; 8]);
        record1.extend_from_slice(&[0xff, 0xff, 0xff, 0xff]);
        record1.extend_from_slice(&[0xff, 0xff, 0xff, 0xff]);
        let path = temp_capture("record1.pcap", &record1);
        let (frames, _, err) = read_all(&path);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(frames, 0);
        assert_eq!(
            err.unwrap(),
            "corrupt capture: record 1 claims 4294967295 captured bytes (at most 16777216)"
        );
        // A second section whose byte-order magic is neither order.
        let mut f = pcapng(&[(1, &[])], &[(0, 0, &[0; 20])]);
        let second = pcapng(&[], &[]);
        f.extend_from_slice(&second[..8]);
        f.extend_from_slice(&[1, 2, 3, 4]);
        f.extend_from_slice(&second[12..]);
        let path = temp_capture("bad-bom.pcapng", &f);
        let (frames, _, err) = read_all(&path);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(frames, 1);
        assert_eq!(
            err.unwrap(),
            "corrupt pcapng section header after record 1 (bad byte-order magic); the packets before it are reported"
        );
        let mut idb = pcapng(&[(1, &[])], &[]);
        idb.truncate(idb.len() - 3);
        let path = temp_capture("cut-idb.pcapng", &idb);
        let (_, _, err) = read_all(&path);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            err.unwrap(),
            "truncated capture: the block before the first record is cut short"
        );
    }

    /// Regression: a pcapng section header or interface description claiming a 60 MiB block in a
    /// small file is a truncation, without a 60 MiB buffer.
    #[test]
    fn lying_pcapng_block_lengths_are_truncations() {
        let big = 60u32 << 20;
        let mut shb = vec![0x0a, 0x0d, 0x0d, 0x0a];
        shb.extend_from_slice(&big.to_le_bytes());
        shb.extend_from_slice(&[0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0]);
        shb.extend_from_slice(&[0xff; 8]);
        let path = temp_capture("lying-shb.pcapng", &shb);
        let err = FileSource::open(&path, None).err().unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            err.message,
            format!(
                "truncated capture: the pcapng section header is cut short (12 of {} bytes)",
                big - 12
            )
        );

        let mut f = vec![0x0a, 0x0d, 0x0d, 0x0a];
        f.extend_from_slice(&28u32.to_le_bytes());
        f.extend_from_slice(&[0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0]);
        f.extend_from_slice(&[0xff; 8]);
        f.extend_from_slice(&28u32.to_le_bytes());
        f.extend_from_slice(&1u32.to_le_bytes());
        f.extend_from_slice(&big.to_le_bytes());
        f.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0]);
        let path = temp_capture("lying-idb.pcapng", &f);
        let (frames, _, err) = read_all(&path);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(frames, 0);
        assert_eq!(
            err.unwrap(),
            format!(
                "truncated capture: an interface description block is cut short (8 of {} bytes)",
                big - 12
            )
        );
    }
}

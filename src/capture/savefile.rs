//! Savefiles (`capture --write`): svcscope's own pcap writer, with tcpdump-style rotation.
//!
//! libpcap's dump functions cannot report a failed write (a full disk left a file cut mid-record and
//! svcscope none the wiser), so svcscope writes classic pcap itself: every write, flush, `fsync` and
//! close is checked. Records are buffered whole and written in 64 KiB pieces; when a write fails, the
//! file is cut back to the last whole record the disk took (a regular file: `set_len`, which needs no
//! space), so what is on disk always reads back, and the packets not saved are counted. After a failure
//! nothing more is written to any file; the capture and the classification go on.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::time::Ts;

/// Bytes of the pcap file header and of a record header.
const FILE_HEADER: u64 = 24;
const RECORD_HEADER: u64 = 16;
/// Buffered bytes written at once.
const FLUSH_AT: usize = 64 << 10;

/// What every file of one capture has in its header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SaveFormat {
    /// The LINKTYPE number the file records (see `capture::dlt_to_linktype`).
    pub dlt: i32,
    pub snaplen: u32,
    /// Nanosecond timestamps (else microseconds).
    pub nanos: bool,
}

/// One pcap file being written.
pub struct Savefile {
    path: PathBuf,
    file: File,
    /// Whole records not written yet (the file header at first).
    buf: Vec<u8>,
    /// Where each buffered record ends in `buf`.
    ends: Vec<usize>,
    /// Bytes the file holds (written and accepted by the kernel).
    on_disk: u64,
    /// Records in `on_disk`.
    saved: u64,
    nanos: bool,
}

/// A failed savefile: the error, in words, and how many buffered records it lost.
#[derive(Debug)]
pub struct SaveError {
    pub error: io::Error,
    /// Records that had been handed to the file but are not in it.
    pub lost: u64,
}

impl Savefile {
    /// Creates `path` and writes the pcap file header through to the file (so a file that cannot be
    /// written at all fails here, before the capture starts).
    pub fn create(path: &Path, format: SaveFormat) -> io::Result<Savefile> {
        let file = File::create(path)?;
        let magic: u32 = if format.nanos {
            0xa1b2_3c4d
        } else {
            0xa1b2_c3d4
        };
        let mut buf = Vec::with_capacity(FLUSH_AT + 2048);
        buf.extend_from_slice(&magic.to_le_bytes());
        buf.extend_from_slice(&2u16.to_le_bytes());
        buf.extend_from_slice(&4u16.to_le_bytes());
        buf.extend_from_slice(&0i32.to_le_bytes());
        buf.extend_from_slice(&0u32.to_le_bytes());
        buf.extend_from_slice(&format.snaplen.to_le_bytes());
        buf.extend_from_slice(&(format.dlt as u32).to_le_bytes());
        let mut f = Savefile {
            path: path.to_path_buf(),
            file,
            buf,
            ends: Vec::new(),
            on_disk: 0,
            saved: 0,
            nanos: format.nanos,
        };
        f.flush().map_err(|e| e.error)?;
        Ok(f)
    }

    /// The file's size once everything buffered is written.
    pub fn len(&self) -> u64 {
        self.on_disk + self.buf.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record (`ts` in nanoseconds since 1970).
    pub fn write(&mut self, ts: Ts, wire_len: u32, frame: &[u8]) -> Result<(), SaveError> {
        let ts = ts.max(0);
        let secs = (ts / 1_000_000_000) as u32;
        let ns = (ts % 1_000_000_000) as u32;
        let frac = if self.nanos { ns } else { ns / 1000 };
        let caplen = frame.len() as u32;
        for x in [secs, frac, caplen, wire_len.max(caplen)] {
            self.buf.extend_from_slice(&x.to_le_bytes());
        }
        self.buf.extend_from_slice(frame);
        self.ends.push(self.buf.len());
        if self.buf.len() >= FLUSH_AT {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes the buffered records. On a failed write, the file is cut back to the last whole
    /// record it took; the error says how many records were lost.
    fn flush(&mut self) -> Result<(), SaveError> {
        let mut done = 0;
        let failure = loop {
            if done == self.buf.len() {
                break None;
            }
            match self.file.write(&self.buf[done..]) {
                Ok(0) => break Some(io::Error::from(io::ErrorKind::WriteZero)),
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Some(e),
            }
        };
        let Some(error) = failure else {
            self.on_disk += done as u64;
            self.saved += self.ends.len() as u64;
            self.buf.clear();
            self.ends.clear();
            return Ok(());
        };
        let (whole, keep) = cut_back(self.on_disk, &self.ends, done);
        let lost = (self.ends.len() - whole) as u64;
        self.saved += whole as u64;
        self.on_disk += done as u64;
        self.buf.clear();
        self.ends.clear();
        if keep < self.on_disk && self.is_regular() {
            if let Err(e) = self.file.set_len(keep) {
                return Err(SaveError {
                    error: io::Error::new(
                        e.kind(),
                        format!("{error}; then cutting the last record off failed: {e}"),
                    ),
                    lost,
                });
            }
            self.on_disk = keep;
        }
        Err(SaveError { error, lost })
    }

    fn is_regular(&self) -> bool {
        // /dev/null and other devices cannot be synced or cut back.
        self.file.metadata().is_ok_and(|m| m.is_file())
    }

    /// Records in the file (written through to it).
    pub fn saved(&self) -> u64 {
        self.saved
    }

    /// Writes what is buffered, syncs a regular file to the disk and closes it, checking each.
    /// Returns the records the file holds.
    pub fn finish(mut self) -> Result<u64, (SaveError, u64)> {
        if let Err(e) = self.flush() {
            return Err((e, self.saved));
        }
        let fail = |error: io::Error| SaveError { error, lost: 0 };
        if self.is_regular() {
            if let Err(e) = self.file.sync_all() {
                return Err((fail(e), self.saved));
            }
        }
        let saved = self.saved;
        nix::unistd::close(self.file).map_err(|e| (fail(io::Error::from(e)), saved))?;
        Ok(saved)
    }
}

/// After a write that took `done` bytes of a buffer whose records end at `ends` (the file held
/// `on_disk` bytes before): the whole records written, and the file size that keeps only them.
fn cut_back(on_disk: u64, ends: &[usize], done: usize) -> (usize, u64) {
    let whole = ends.partition_point(|&end| end <= done);
    let keep = match whole {
        0 => on_disk,
        n => on_disk + ends[n - 1] as u64,
    };
    (whole, keep)
}

/// Saving captured packets (`--write`), with tcpdump-style rotation: the first file is the name given,
/// the next ones the name followed by 1, 2, 3…
#[derive(Clone, Debug)]
pub struct WriteOptions {
    pub path: PathBuf,
    /// Start a new file before this many bytes would be exceeded.
    pub rotate_size: Option<u64>,
    /// Start a new file after this long.
    pub rotate_time: Option<Duration>,
}

/// What `--write` achieved: the files, the packets in them and those lost.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SaveReport {
    /// Files created, in order (each holds whole records).
    pub files: Vec<PathBuf>,
    /// Packets in the files.
    pub saved: u64,
    /// Packets captured but not in any file (after a failure nothing more is written).
    pub not_saved: u64,
    /// The first failure: the file and what went wrong.
    pub error: Option<String>,
}

/// The savefiles of one capture: the current file, rotation, and what was lost.
pub struct Recorder {
    opts: WriteOptions,
    format: SaveFormat,
    /// `None` once writing failed: nothing more is written, and the packets are counted.
    current: Option<Savefile>,
    opened: Instant,
    report: SaveReport,
}

impl Recorder {
    /// Creates the first file (before privileges are dropped).
    pub fn create(opts: WriteOptions, format: SaveFormat) -> io::Result<Recorder> {
        let first = Savefile::create(&opts.path, format)?;
        Ok(Recorder {
            report: SaveReport {
                files: vec![opts.path.clone()],
                ..SaveReport::default()
            },
            opts,
            format,
            current: Some(first),
            opened: Instant::now(),
        })
    }

    /// Saves one packet, starting the next file first when rotation is due.
    pub fn write(&mut self, ts: Ts, wire_len: u32, frame: &[u8]) {
        let Some(file) = &self.current else {
            self.report.not_saved += 1;
            return;
        };
        let size = RECORD_HEADER + frame.len() as u64;
        let by_size = self
            .opts
            .rotate_size
            .is_some_and(|max| file.len() + size > max && file.len() > FILE_HEADER);
        let by_time = self
            .opts
            .rotate_time
            .is_some_and(|t| self.opened.elapsed() >= t);
        if by_size || by_time {
            self.rotate();
        }
        let Some(file) = &mut self.current else {
            self.report.not_saved += 1;
            return;
        };
        if let Err(e) = file.write(ts, wire_len, frame) {
            self.failed(e, "writing failed");
        }
    }

    fn rotate(&mut self) {
        let Some(old) = self.current.take() else {
            return;
        };
        let old_path = old.path().to_path_buf();
        match old.finish() {
            Ok(saved) => self.report.saved += saved,
            Err((e, saved)) => {
                self.report.saved += saved;
                self.report.not_saved += e.lost;
                self.report.error = Some(format!(
                    "{}: writing failed: {}",
                    old_path.display(),
                    e.error
                ));
                return;
            }
        }
        let mut name = self.opts.path.clone().into_os_string();
        name.push(self.report.files.len().to_string());
        let path = PathBuf::from(name);
        match Savefile::create(&path, self.format) {
            Ok(next) => {
                self.report.files.push(path);
                self.current = Some(next);
                self.opened = Instant::now();
            }
            Err(e) => {
                // A file that was created but could not take its header holds nothing: remove it.
                if path.exists() {
                    let _ = std::fs::remove_file(&path);
                }
                self.report.error = Some(format!(
                    "{}: cannot write the next capture file: {e} (after dropping privileges, its \
                     directory must be writable by the user svcscope runs as)",
                    path.display()
                ));
            }
        }
    }

    fn failed(&mut self, e: SaveError, what: &str) {
        let Some(file) = self.current.take() else {
            return;
        };
        self.report.saved += file.saved();
        self.report.not_saved += e.lost;
        self.report.error = Some(format!("{}: {what}: {}", file.path().display(), e.error));
        // Close it; what it holds is whole records, and the first error is the one reported.
        let _ = file.finish();
    }

    /// Finishes the current file (flush, sync, close) and returns what was saved and lost.
    pub fn finish(mut self) -> SaveReport {
        if let Some(file) = self.current.take() {
            let path = file.path().to_path_buf();
            match file.finish() {
                Ok(saved) => self.report.saved += saved,
                Err((e, saved)) => {
                    self.report.saved += saved;
                    self.report.not_saved += e.lost;
                    self.report.error =
                        Some(format!("{}: writing failed: {}", path.display(), e.error));
                }
            }
        }
        self.report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("svcscope-save-{}-{name}", std::process::id()))
    }

    const FORMAT: SaveFormat = SaveFormat {
        dlt: 1,
        snaplen: 262_144,
        nanos: true,
    };

    /// The records of a classic little-endian pcap file: (seconds, fraction, frame length).
    fn records(bytes: &[u8]) -> Vec<(u32, u32, usize)> {
        let u = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
        assert_eq!(u(0), 0xa1b2_3c4d, "nanosecond magic");
        assert_eq!(u(16), 262_144, "snaplen");
        assert_eq!(u(20), 1, "link type");
        let mut at = 24;
        let mut out = Vec::new();
        while at < bytes.len() {
            assert!(at + 16 <= bytes.len(), "a cut record header at {at}");
            let caplen = u(at + 8) as usize;
            assert!(at + 16 + caplen <= bytes.len(), "a cut record at {at}");
            out.push((u(at), u(at + 4), caplen));
            at += 16 + caplen;
        }
        out
    }

    #[test]
    fn writes_a_pcap_file_with_nanosecond_timestamps() {
        let path = temp("plain.pcap");
        let mut f = Savefile::create(&path, FORMAT).unwrap();
        f.write(1_709_542_800_123_456_789, 60, &[1; 60]).unwrap();
        f.write(1_709_542_801_000_000_001, 1500, &[2; 100]).unwrap();
        assert_eq!(f.finish().unwrap(), 2);
        let bytes = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            records(&bytes),
            [(1_709_542_800, 123_456_789, 60), (1_709_542_801, 1, 100)]
        );
    }

    /// Regression: a savefile on a full disk ended in a cut record and nobody was told. /dev/full
    /// fails every write: the file cannot even take its header, which is an error at once.
    #[test]
    fn dev_full_fails_at_create() {
        if !Path::new("/dev/full").exists() {
            eprintln!("skipped: no /dev/full");
            return;
        }
        let e = Savefile::create(Path::new("/dev/full"), FORMAT)
            .err()
            .expect("writing to /dev/full fails");
        assert_eq!(e.raw_os_error(), Some(nix::libc::ENOSPC), "{e}");
    }

    /// A write cut short (a full disk takes part of the buffer, then fails) keeps the whole records
    /// the file took and cuts the file back to their end; the records after are lost.
    #[test]
    fn a_cut_write_keeps_whole_records() {
        // Records of 46 bytes ending at 46, 92, 138 in the buffer; the file already held 1,000.
        let ends = [46, 92, 138];
        assert_eq!(
            cut_back(1000, &ends, 100),
            (2, 1092),
            "cut inside the third record"
        );
        assert_eq!(
            cut_back(1000, &ends, 92),
            (2, 1092),
            "cut right after the second"
        );
        assert_eq!(cut_back(1000, &ends, 10), (0, 1000), "cut inside the first");
        assert_eq!(cut_back(1000, &ends, 0), (0, 1000), "nothing taken");
        // The file header alone (no records yet): a cut header is cut to nothing.
        assert_eq!(cut_back(0, &[], 10), (0, 0));
    }

    /// The real thing on a file: a descriptor that refuses writes fails the flush, and what the
    /// file held stays, whole.
    #[test]
    fn a_failed_flush_is_reported_with_the_records_lost() {
        let path = temp("readonly.pcap");
        let mut f = Savefile::create(&path, FORMAT).unwrap();
        f.write(1, 60, &[1; 60]).unwrap();
        f.flush().unwrap();
        f.write(2, 60, &[2; 60]).unwrap();
        f.write(3, 60, &[3; 60]).unwrap();
        // The same file, opened read-only in its place: the next write fails (EBADF).
        f.file = File::open(&path).unwrap();
        let e = f
            .flush()
            .expect_err("a write to a read-only descriptor fails");
        assert_eq!(e.lost, 2);
        assert_eq!(f.saved(), 1);
        drop(f);
        let bytes = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(records(&bytes), [(0, 1, 60)]);
    }
}

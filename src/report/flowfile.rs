//! Where flow records go (`--flows FILE`): a plain, gzip or zstd file by the name's extension,
//! rotated by size or time as `--write` rotates savefiles (`FILE`, `FILE1`, `FILE2`, …), or standard
//! output.
//!
//! The [`RecordOutput`] is handed blocks of whole records (lines) by the JSON Lines sink
//! (`flows.rs`), so a rotation never splits a record. Every write, flush, sync and close is checked.
//! A compressed file is a complete gzip member or zstd frame once it is closed: when rotating, and
//! when the run ends. After a write fails, nothing more is written; a plain regular file is cut back
//! to the last whole block it took (`set_len`, which needs no space), so it still holds only whole
//! lines. A compressed stream cannot be cut back: it ends where the disk stopped taking it, and
//! decompressing it gives the records up to about that point and then an error.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Where the JSON Lines sink writes blocks of whole records.
pub trait RecordOutput: Send {
    /// Writes one block of whole records.
    fn write_block(&mut self, block: &[u8]) -> io::Result<()>;
    /// Pushes what is buffered out to the file (a compressed stream: the data so far, as a whole
    /// block a reader can decompress).
    fn flush(&mut self) -> io::Result<()>;
    /// Ends the output: finishes a compressed stream, syncs a file to disk and closes it.
    fn close(&mut self) -> io::Result<()>;
}

/// Any writer as a [`RecordOutput`] (standard output, a test's destination): closing flushes it.
pub struct Unrotated<W: Write + Send>(pub W);

impl<W: Write + Send> RecordOutput for Unrotated<W> {
    fn write_block(&mut self, block: &[u8]) -> io::Result<()> {
        self.0.write_all(block)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
    fn close(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// How a flow-record file is compressed, from its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    /// `.gz`
    Gzip,
    /// `.zst`
    Zstd,
}

impl Compression {
    /// By the name's last extension: `.gz` gzip, `.zst` zstd, anything else none.
    pub fn of(path: &Path) -> Compression {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("gz") => Compression::Gzip,
            Some(e) if e.eq_ignore_ascii_case("zst") => Compression::Zstd,
            _ => Compression::None,
        }
    }
}

/// zstd's default level: fast, and about 10× on flow records.
const ZSTD_LEVEL: i32 = 3;

/// `--flows FILE` with its rotation options.
#[derive(Clone, Debug)]
pub struct FlowFileOptions {
    pub path: PathBuf,
    /// Start the next file before one grows past this many bytes (a compressed file: once it has
    /// reached them, checked before each block of records).
    pub rotate_size: Option<u64>,
    /// Start the next file once one has been open this long (checked as records are written).
    pub rotate_time: Option<Duration>,
}

/// The name of the `n`th file of a rotation (0 is the name given): `FILE`, `FILE1`, `FILE2`, …, as
/// `--write` names savefiles.
pub fn rotated_name(path: &Path, n: usize) -> PathBuf {
    if n == 0 {
        return path.to_path_buf();
    }
    let mut name = path.as_os_str().to_os_string();
    name.push(n.to_string());
    PathBuf::from(name)
}

/// A file that counts the bytes it took (for rotation by size under a compressor).
struct Counted {
    file: File,
    written: u64,
}

impl Write for Counted {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// The file being written.
enum Encoder {
    Plain(Counted),
    Gzip(flate2::write::GzEncoder<Counted>),
    Zstd(zstd::stream::write::Encoder<'static, Counted>),
}

impl Encoder {
    fn open(path: &Path, compression: Compression) -> io::Result<Encoder> {
        let file = Counted {
            file: File::create(path)?,
            written: 0,
        };
        Ok(match compression {
            Compression::None => Encoder::Plain(file),
            Compression::Gzip => Encoder::Gzip(flate2::write::GzEncoder::new(
                file,
                flate2::Compression::default(),
            )),
            Compression::Zstd => {
                let mut z = zstd::stream::write::Encoder::new(file, ZSTD_LEVEL)?;
                z.include_checksum(true)?;
                Encoder::Zstd(z)
            }
        })
    }

    fn file(&self) -> &Counted {
        match self {
            Encoder::Plain(f) => f,
            Encoder::Gzip(g) => g.get_ref(),
            Encoder::Zstd(z) => z.get_ref(),
        }
    }

    fn writer(&mut self) -> &mut dyn Write {
        match self {
            Encoder::Plain(f) => f,
            Encoder::Gzip(g) => g,
            Encoder::Zstd(z) => z,
        }
    }

    /// Ends the stream (gzip trailer, zstd frame end), syncs and closes the file.
    fn finish(self) -> io::Result<()> {
        let counted = match self {
            Encoder::Plain(f) => f,
            Encoder::Gzip(g) => g.finish()?,
            Encoder::Zstd(z) => z.finish()?,
        };
        let mut file = counted.file;
        file.flush()?;
        if file.metadata().is_ok_and(|m| m.is_file()) {
            file.sync_all()?;
        }
        nix::unistd::close(file).map_err(io::Error::from)
    }
}

/// Flow-record files: compression by extension, rotation, every write checked.
pub struct FlowFiles {
    opts: FlowFileOptions,
    compression: Compression,
    current: Option<Encoder>,
    opened: Instant,
    files: Vec<PathBuf>,
    /// Set after the first failure: nothing more is written.
    failed: bool,
}

impl FlowFiles {
    /// Creates the first file (so a name that cannot be written fails before anything runs).
    pub fn create(opts: FlowFileOptions) -> io::Result<FlowFiles> {
        let compression = Compression::of(&opts.path);
        let first = Encoder::open(&opts.path, compression)?;
        Ok(FlowFiles {
            files: vec![opts.path.clone()],
            opts,
            compression,
            current: Some(first),
            opened: Instant::now(),
            failed: false,
        })
    }

    /// The files created so far, in order.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    fn path(&self) -> &Path {
        self.files.last().map_or(&self.opts.path, |p| p)
    }

    /// The error of the current file, naming it.
    fn error(&mut self, e: io::Error) -> io::Error {
        self.failed = true;
        io::Error::new(e.kind(), format!("{}: {e}", self.path().display()))
    }

    fn rotate(&mut self) -> io::Result<()> {
        if let Some(old) = self.current.take() {
            if let Err(e) = old.finish() {
                return Err(self.error(e));
            }
        }
        let path = rotated_name(&self.opts.path, self.files.len());
        self.files.push(path.clone());
        match Encoder::open(&path, self.compression) {
            Ok(next) => {
                self.current = Some(next);
                self.opened = Instant::now();
                Ok(())
            }
            Err(e) => Err(self.error(e)),
        }
    }
}

impl FlowFiles {
    /// Starts the next file when rotation is due, and returns the lines of `rest` that go into
    /// the current file now: with rotation by size, those that fit in a plain file (at least one
    /// line, whatever its length, into a file of its own); else all of them. (A compressed file is
    /// flushed after each block when it rotates by size, and rotates once it has reached the size:
    /// it may pass the size by one block's compressed bytes.)
    fn next_piece<'b>(&mut self, rest: &'b [u8]) -> io::Result<&'b [u8]> {
        let plain = self.compression == Compression::None;
        let on_disk = self.current.as_ref().map_or(0, |c| c.file().written);
        let first_line = memchr::memchr(b'\n', rest).map_or(rest.len(), |i| i + 1) as u64;
        let by_size = self.opts.rotate_size.is_some_and(|max| {
            on_disk > 0 && (on_disk >= max || (plain && on_disk + first_line > max))
        });
        let by_time = self
            .opts
            .rotate_time
            .is_some_and(|t| self.opened.elapsed() >= t);
        if self.current.is_none() {
            return Err(io::Error::other("the flow-record file is closed"));
        }
        if by_size || by_time {
            self.rotate()?;
        }
        let Some(max) = self.opts.rotate_size.filter(|_| plain) else {
            return Ok(rest);
        };
        let on_disk = self.current.as_ref().map_or(0, |c| c.file().written);
        let room = usize::try_from(max.saturating_sub(on_disk)).unwrap_or(usize::MAX);
        if rest.len() <= room {
            return Ok(rest);
        }
        Ok(match memchr::memrchr(b'\n', &rest[..room]) {
            Some(end) => &rest[..=end],
            None => &rest[..first_line as usize],
        })
    }
}

impl RecordOutput for FlowFiles {
    fn write_block(&mut self, block: &[u8]) -> io::Result<()> {
        if self.failed {
            return Err(io::Error::other("an earlier write failed"));
        }
        let mut rest = block;
        while !rest.is_empty() {
            let piece = self.next_piece(rest)?;
            let current = self.current.as_mut().expect("a file after rotating");
            let before = current.file().written;
            if let Err(e) = current.writer().write_all(piece) {
                if let Encoder::Plain(f) = current {
                    // Keep only whole lines: cut off what the disk took of this piece.
                    if f.file.metadata().is_ok_and(|m| m.is_file()) {
                        let _ = f.file.set_len(before);
                    }
                }
                return Err(self.error(e));
            }
            if self.compression != Compression::None && self.opts.rotate_size.is_some() {
                // Out to the file, so that its size is known before the next block.
                if let Err(e) = current.writer().flush() {
                    return Err(self.error(e));
                }
            }
            rest = &rest[piece.len()..];
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.failed {
            return Ok(());
        }
        let result = match &mut self.current {
            Some(Encoder::Plain(f)) => f.flush(),
            Some(Encoder::Gzip(g)) => g.flush(),
            Some(Encoder::Zstd(z)) => z.flush(),
            None => Ok(()),
        };
        result.map_err(|e| self.error(e))
    }

    fn close(&mut self) -> io::Result<()> {
        match self.current.take() {
            // After a failure the file is closed without a word: the first error is the one told.
            Some(f) if self.failed => {
                let _ = f.finish();
                Ok(())
            }
            Some(f) => f.finish().map_err(|e| self.error(e)),
            None => Ok(()),
        }
    }
}

impl Drop for FlowFiles {
    /// A run that ended without closing (a thread that could not start) still ends its stream.
    fn drop(&mut self) {
        if let Some(f) = self.current.take() {
            let _ = f.finish();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn temp_dir(name: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("svcscope-flowfile-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn lines(from: usize, n: usize) -> Vec<u8> {
        (from..from + n)
            .map(|i| format!("{{\"n\":{i},\"pad\":\"{}\"}}\n", "x".repeat(i % 50)))
            .collect::<String>()
            .into_bytes()
    }

    /// A file's content, decompressed as its rotation's first name says (`FILE.gz1` is gzip).
    fn decompress(path: &Path) -> Vec<u8> {
        let bytes = std::fs::read(path).unwrap();
        let mut out = Vec::new();
        let name = path
            .to_str()
            .unwrap()
            .trim_end_matches(|c: char| c.is_ascii_digit());
        match Compression::of(Path::new(name)) {
            Compression::None => out = bytes,
            Compression::Gzip => {
                flate2::read::GzDecoder::new(&bytes[..])
                    .read_to_end(&mut out)
                    .unwrap();
            }
            Compression::Zstd => out = zstd::decode_all(&bytes[..]).unwrap(),
        }
        out
    }

    #[test]
    fn compression_follows_the_extension() {
        assert_eq!(Compression::of(Path::new("f.jsonl")), Compression::None);
        assert_eq!(Compression::of(Path::new("f.jsonl.gz")), Compression::Gzip);
        assert_eq!(Compression::of(Path::new("f.jsonl.ZST")), Compression::Zstd);
        assert_eq!(Compression::of(Path::new("zst")), Compression::None);
    }

    #[test]
    fn rotated_names_follow_the_savefile_scheme() {
        let p = Path::new("/d/flows.jsonl.zst");
        assert_eq!(rotated_name(p, 0), p);
        assert_eq!(rotated_name(p, 1), Path::new("/d/flows.jsonl.zst1"));
        assert_eq!(rotated_name(p, 12), Path::new("/d/flows.jsonl.zst12"));
    }

    /// Every compression, rotated by size: each file is a complete stream of whole lines, and
    /// together they hold every line once, in order.
    #[test]
    fn rotated_files_are_whole_streams_holding_every_line() {
        for (ext, max) in [
            ("jsonl", 40_000u64),
            ("jsonl.gz", 4_000),
            ("jsonl.zst", 1_000),
        ] {
            let dir = temp_dir(ext);
            let path = dir.join(format!("flows.{ext}"));
            let mut out = FlowFiles::create(FlowFileOptions {
                path: path.clone(),
                rotate_size: Some(max),
                rotate_time: None,
            })
            .unwrap();
            let mut all = Vec::new();
            for block in 0..40 {
                let b = lines(block * 100, 100);
                all.extend_from_slice(&b);
                out.write_block(&b).unwrap();
                // What the JSON Lines sink does when a fork finishes: compressed data goes out.
                out.flush().unwrap();
            }
            out.close().unwrap();
            let files = out.files().to_vec();
            assert!(files.len() > 2, "{ext}: {} files", files.len());
            let mut joined = Vec::new();
            for f in &files {
                let text = decompress(f);
                assert_eq!(
                    text.last(),
                    Some(&b'\n'),
                    "{}: ends inside a line",
                    f.display()
                );
                joined.extend_from_slice(&text);
                if ext == "jsonl" {
                    assert!(
                        text.len() as u64 <= max,
                        "{}: {} bytes",
                        f.display(),
                        text.len()
                    );
                }
            }
            assert_eq!(joined, all, "{ext}");
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }

    #[test]
    fn rotation_by_time_starts_a_new_file() {
        let dir = temp_dir("time");
        let path = dir.join("flows.jsonl.gz");
        let mut out = FlowFiles::create(FlowFileOptions {
            path: path.clone(),
            rotate_size: None,
            rotate_time: Some(Duration::from_millis(1)),
        })
        .unwrap();
        out.write_block(&lines(0, 3)).unwrap();
        std::thread::sleep(Duration::from_millis(5));
        out.write_block(&lines(3, 3)).unwrap();
        out.close().unwrap();
        assert_eq!(out.files(), [path.clone(), rotated_name(&path, 1)]);
        assert_eq!(decompress(&path), lines(0, 3));
        assert_eq!(decompress(&rotated_name(&path, 1)), lines(3, 3));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Regression guard: a zstd file not finished at exit has no frame end and fails to decode.
    #[test]
    fn a_closed_zstd_file_ends_its_frame() {
        let dir = temp_dir("frame");
        let path = dir.join("flows.jsonl.zst");
        let mut out = FlowFiles::create(FlowFileOptions {
            path: path.clone(),
            rotate_size: None,
            rotate_time: None,
        })
        .unwrap();
        out.write_block(&lines(0, 1000)).unwrap();
        out.flush().unwrap();
        // Flushed but not closed: the data is there, the frame is not finished.
        let partial = std::fs::read(&path).unwrap();
        assert!(
            zstd::decode_all(&partial[..]).is_err(),
            "an unfinished frame decoded"
        );
        out.close().unwrap();
        assert_eq!(decompress(&path), lines(0, 1000));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A full disk: the write fails with the file's name, and nothing more is written.
    #[test]
    fn dev_full_fails_with_the_file_name_and_stops() {
        if !Path::new("/dev/full").exists() {
            eprintln!("skipped: no /dev/full");
            return;
        }
        let mut out = FlowFiles::create(FlowFileOptions {
            path: PathBuf::from("/dev/full"),
            rotate_size: None,
            rotate_time: None,
        })
        .unwrap();
        let e = out.write_block(&lines(0, 10)).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::StorageFull, "{e}");
        assert!(e.to_string().starts_with("/dev/full: "), "{e}");
        assert!(out.write_block(&lines(10, 1)).is_err());
        assert!(out.close().is_ok(), "the first error is the one told");
    }
}

//! `capture_file`: the input is a capture file. Reading it to the end or to an error must not panic,
//! every batch must hold only frames it can slice, and the reader must never allocate more than the
//! input could justify (a lying length field must not make it reserve megabytes for a small file).
//!
//! Classic pcap fills decode as they take records (`batch.parsed`, one per packet, equal to a fresh
//! decode of the frame); other fills decode all their frames or none (`Batch::decode()` then does).
//! A classic pcap input is also read a second time with a filler record inserted after the file
//! header, so that the 1 MiB chunk boundary falls inside the input's records (a record cut by the
//! chunk end moves to the next batch): the frames and the outcome must be those of the first read.
#![no_main]

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use libfuzzer_sys::fuzz_target;
use svcscope::capture::{Batch, FileSource, PacketSource};
use svcscope::decode::decode;

static RUN: AtomicU64 = AtomicU64::new(0);

/// Slack for fixed-size buffers (the 1 MiB read buffer is not in the batch).
const SLACK: usize = 64 * 1024;
/// Bytes the classic-pcap path reads into one batch (`capture::file::CHUNK`).
const CHUNK: usize = 1 << 20;

/// One frame read: (ts, caplen, wire_len, bytes).
type Frame = (i64, u32, u32, Vec<u8>);

fn is_classic(data: &[u8]) -> Option<bool> {
    match data.get(..4)? {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => Some(false),
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => Some(true),
        _ => None,
    }
}

/// Reads a capture file to its end or first error with the target's assertions; the frames and
/// whether it ended in an error (`None`: not opened).
fn read_all(data: &[u8], slot: u64) -> Option<(Vec<Frame>, bool)> {
    let classic = is_classic(data).is_some();
    let path =
        std::env::temp_dir().join(format!("svcscope-fuzz-{}-{}.cap", std::process::id(), slot));
    {
        let mut f = std::fs::File::create(&path).expect("temp file");
        f.write_all(data).expect("temp file");
    }
    let Ok(mut source) = FileSource::open(&path, None) else {
        let _ = std::fs::remove_file(&path);
        return None;
    };
    let mut batch = Batch::default();
    let mut frames = 0u64;
    let mut out = Vec::new();
    let failed;
    loop {
        batch.clear();
        batch.link = None;
        let result = source.fill(&mut batch);
        // Every byte of every frame came from the file.
        assert!(
            batch.data.len() <= data.len(),
            "batch holds more than the file"
        );
        assert!(
            batch.data.capacity() <= 2 * data.len() + SLACK,
            "batch buffer of {} bytes for a {}-byte file",
            batch.data.capacity(),
            data.len()
        );
        if !batch.packets.is_empty() {
            assert!(batch.link.is_some(), "a batch with packets has a link type");
        }
        // Classic pcap fills decode every frame they take; other fills decode all or none (then
        // `Batch::decode()` does).
        if classic {
            assert_eq!(
                batch.parsed.len(),
                batch.packets.len(),
                "classic pcap fill: parsed vs packets"
            );
        }
        assert!(batch.parsed.len() == batch.packets.len() || batch.parsed.is_empty());
        for (p, frame) in batch.frames() {
            assert_eq!(frame.len(), p.caplen as usize);
            assert!(p.wire_len >= p.caplen);
            frames += 1;
            out.push((p.ts, p.caplen, p.wire_len, frame.to_vec()));
        }
        batch.decode();
        assert_eq!(
            batch.parsed.len(),
            batch.packets.len(),
            "after Batch::decode"
        );
        // What was decoded in place is what a fresh decode of the frame gives.
        let link = batch
            .link
            .unwrap_or(svcscope::decode::LinkType::Unsupported(-1));
        for ((_, frame), parsed) in batch.frames().zip(&batch.parsed) {
            let fresh = format!("{:?}", decode(link, frame));
            let kept = format!("{:?}", parsed.attach(frame));
            assert_eq!(kept, fresh, "parsed frame differs from a fresh decode");
        }
        match result {
            Ok(true) => continue,
            Ok(false) => {
                failed = false;
                break;
            }
            Err(e) => {
                assert!(!e.message.is_empty());
                assert!(!e.message.contains('\n'), "one-line messages: {e}");
                failed = true;
                break;
            }
        }
    }
    let c = source.counters();
    assert!(c.file_bytes <= data.len() as u64);
    assert!(frames <= c.packets);
    let _ = source.link_types();
    let _ = std::fs::remove_file(&path);
    Some((out, failed))
}

fuzz_target!(|data: &[u8]| {
    let n = RUN.fetch_add(1, Ordering::Relaxed);
    let first = read_all(data, n % 2);
    // Classic pcap again, behind a filler record that puts the chunk boundary `cut` bytes into the
    // input's records.
    let (Some(big_endian), Some((frames, failed))) = (is_classic(data), first) else {
        return;
    };
    if data.len() < 24 {
        return;
    }
    let records = data.len() - 24;
    let mut h = std::hash::DefaultHasher::new();
    data.hash(&mut h);
    let cut = (h.finish() % (records as u64 + 1)) as usize;
    let filler = CHUNK - 16 - cut;
    let u32b = |v: u32| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let mut padded = Vec::with_capacity(data.len() + 16 + filler);
    padded.extend_from_slice(&data[..24]);
    padded.extend_from_slice(&u32b(0));
    padded.extend_from_slice(&u32b(0));
    padded.extend_from_slice(&u32b(filler as u32));
    padded.extend_from_slice(&u32b(filler as u32));
    padded.resize(padded.len() + filler, 0);
    padded.extend_from_slice(&data[24..]);
    let (padded_frames, padded_failed) =
        read_all(&padded, 2 + n % 2).expect("the file opened once");
    assert!(!padded_frames.is_empty(), "the filler record was read");
    assert_eq!(padded_frames[0].1 as usize, filler);
    assert_eq!(
        padded_frames.len() - 1,
        frames.len(),
        "frames with the chunk boundary {cut} bytes into the records"
    );
    for (i, (a, b)) in frames.iter().zip(&padded_frames[1..]).enumerate() {
        assert!(
            a == b,
            "frame {i} differs with the chunk boundary {cut} bytes into the records"
        );
    }
    assert_eq!(
        failed, padded_failed,
        "error with the chunk boundary {cut} bytes in"
    );
});

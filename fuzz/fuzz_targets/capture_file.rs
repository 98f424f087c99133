//! `capture_file`: the input is a capture file. Reading it to the end or to an error must not panic,
//! every batch must hold only frames it can slice, and the reader must never allocate more than the
//! input could justify (a lying length field must not make it reserve megabytes for a small file).
#![no_main]

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use libfuzzer_sys::fuzz_target;
use svcscope::capture::{Batch, FileSource, PacketSource};

static RUN: AtomicU64 = AtomicU64::new(0);

/// Slack for fixed-size buffers (the 1 MiB read buffer is not in the batch).
const SLACK: usize = 64 * 1024;

fuzz_target!(|data: &[u8]| {
    let n = RUN.fetch_add(1, Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!(
        "svcscope-fuzz-{}-{}.cap",
        std::process::id(),
        n % 2
    ));
    {
        let mut f = std::fs::File::create(&path).expect("temp file");
        f.write_all(data).expect("temp file");
    }
    let Ok(mut source) = FileSource::open(&path, None) else {
        let _ = std::fs::remove_file(&path);
        return;
    };
    let mut batch = Batch::default();
    let mut frames = 0u64;
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
        for (p, frame) in batch.frames() {
            assert_eq!(frame.len(), p.caplen as usize);
            assert!(p.wire_len >= p.caplen);
            frames += 1;
        }
        match result {
            Ok(true) => continue,
            Ok(false) => break,
            Err(e) => {
                assert!(!e.message.is_empty());
                assert!(!e.message.contains('\n'), "one-line messages: {e}");
                break;
            }
        }
    }
    let c = source.counters();
    assert!(c.file_bytes <= data.len() as u64);
    assert!(frames <= c.packets);
    let _ = source.link_types();
    let _ = std::fs::remove_file(&path);
});

//! Flow logs for SQL engines, through the real binary: the sensor name, compressed and rotated flow
//! records, a full disk, and (when Python can install DuckDB) the fleet recipe of the README: two
//! sensors' flow records queried together give the per-service numbers of one analysis of both
//! captures.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::Value;
use svcscope_testkit::Run;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn svcscope(args: &[&str]) -> Run {
    Run::of(&mut svcscope_testkit::command(
        env!("CARGO_BIN_EXE_svcscope"),
        &root(),
        args,
    ))
}

/// A directory of its own for each test, removed when it ends.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let d =
            std::env::temp_dir().join(format!("svcscope-flowlogs-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        TempDir(d)
    }
    fn path(&self, name: &str) -> String {
        self.0.join(name).to_str().unwrap().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A file's text, decompressed by the extension of its rotation's first name.
fn read_text(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    let name = path
        .to_str()
        .unwrap()
        .trim_end_matches(|c: char| c.is_ascii_digit());
    let mut out = String::new();
    if name.ends_with(".gz") {
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut out)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    } else if name.ends_with(".zst") {
        out = String::from_utf8(
            zstd::decode_all(&bytes[..]).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
        )
        .unwrap();
    } else {
        out = String::from_utf8(bytes).unwrap();
    }
    out
}

fn sorted_lines(text: &str) -> Vec<String> {
    let mut v: Vec<String> = text.lines().map(str::to_string).collect();
    v.sort();
    v
}

const FIXTURE: &str = "fixtures/domain.pcapng";

#[test]
fn reports_and_flow_records_carry_the_sensor() {
    let dir = TempDir::new("sensor");
    let flows = dir.path("f.jsonl");
    let run = svcscope(&[
        "analyze", "-q", "--format", "json", "--sensor", "branch-7", "--flows", &flows, FIXTURE,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["sensor"], "branch-7");
    let text = read_text(Path::new(&flows));
    assert!(text.lines().count() > 100);
    for line in text.lines() {
        let r: Value = serde_json::from_str(line).unwrap();
        assert_eq!(r["sensor"], "branch-7", "{line}");
        let icmp = matches!(r["ip_protocol"].as_u64(), Some(1 | 58));
        assert_eq!(r["community_id"].is_null(), icmp, "{line}");
    }
    let hosts = svcscope(&[
        "hosts", "-q", "--format", "json", "--sensor", "branch-7", FIXTURE,
    ]);
    let hosts: Value = serde_json::from_str(&hosts.stdout).unwrap();
    assert_eq!(hosts["sensor"], "branch-7");
    // The default is the host name.
    let run = svcscope(&["analyze", "-q", "--format", "json", FIXTURE]);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    if !host.is_empty() {
        assert_eq!(report["sensor"], host.trim_end());
    }
}

#[test]
fn a_bad_sensor_name_is_refused() {
    for (name, why) in [
        ("", "--sensor: the name is empty"),
        ("a\tb", "--sensor: the name has a control character"),
    ] {
        let run = svcscope(&["analyze", "-q", "--sensor", name, FIXTURE]);
        assert_eq!(run.code, 2);
        assert_eq!(run.stderr, format!("svcscope: {why}\n"));
        assert!(run.stdout.is_empty());
    }
}

/// `.gz` and `.zst` hold the same records as the plain file, as complete streams, with and
/// without rotation; rotated files together hold every record once.
#[test]
fn compressed_and_rotated_flow_records_hold_the_plain_records() {
    let dir = TempDir::new("compressed");
    let plain = dir.path("plain.jsonl");
    let run = svcscope(&["analyze", "-q", "--sensor", "s", "--flows", &plain, FIXTURE]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let want = sorted_lines(&read_text(Path::new(&plain)));
    for (name, rotate) in [
        ("f.jsonl.gz", None),
        ("f.jsonl.zst", None),
        ("r.jsonl", Some("20k")),
        ("r.jsonl.gz", Some("2k")),
        ("r.jsonl.zst", Some("2k")),
    ] {
        let path = dir.path(name);
        let mut args = vec!["analyze", "-q", "--sensor", "s", "--flows", &path];
        if let Some(size) = rotate {
            args.extend(["--flows-rotate-size", size]);
        }
        args.push(FIXTURE);
        let run = svcscope(&args);
        assert_eq!(run.code, 0, "{name}: {}", run.stderr);
        let mut files = vec![PathBuf::from(&path)];
        for n in 1.. {
            let next = PathBuf::from(format!("{path}{n}"));
            if !next.exists() {
                break;
            }
            files.push(next);
        }
        if rotate.is_some() {
            assert!(files.len() > 2, "{name}: {} files", files.len());
        } else {
            assert_eq!(files.len(), 1, "{name}");
        }
        let mut all = String::new();
        for f in &files {
            let text = read_text(f);
            assert!(
                text.ends_with('\n'),
                "{}: ends inside a record",
                f.display()
            );
            if name == "r.jsonl" {
                let size = std::fs::metadata(f).unwrap().len();
                assert!(size <= 20 << 10, "{}: {size} bytes", f.display());
            }
            all.push_str(&text);
        }
        assert_eq!(sorted_lines(&all), want, "{name}");
    }
}

/// A full disk (/dev/full takes nothing): one line on standard error naming the file, the
/// records not written counted, exit status 1, and the report still whole on standard output.
#[test]
fn a_full_disk_for_flow_records_is_one_line_and_keeps_the_report() {
    if !Path::new("/dev/full").exists() {
        eprintln!("skipped: no /dev/full");
        return;
    }
    let good = svcscope(&[
        "analyze", "-q", "--format", "json", "--sensor", "s", FIXTURE,
    ]);
    let flows: u64 = {
        let r: Value = serde_json::from_str(&good.stdout).unwrap();
        r["totals"]["flows"].as_u64().unwrap()
    };
    let run = svcscope(&[
        "analyze",
        "-q",
        "--format",
        "json",
        "--sensor",
        "s",
        "--flows",
        "/dev/full",
        FIXTURE,
    ]);
    assert_eq!(run.code, 1);
    assert_eq!(run.stdout, good.stdout, "the report is the same");
    assert_eq!(
        run.stderr,
        format!(
            "svcscope: writing flow records failed: /dev/full: No space left on device (os error \
             28); {flows} flow records not written\n"
        )
    );
}

#[test]
fn rotation_by_nothing_is_refused() {
    for (option, value) in [("--flows-rotate-size", "0"), ("--flows-rotate-time", "0s")] {
        let run = svcscope(&[
            "analyze",
            "-q",
            "--flows",
            "/dev/null",
            option,
            value,
            FIXTURE,
        ]);
        assert_eq!(run.code, 2, "{option}");
        assert_eq!(
            run.stderr,
            "svcscope: --flows-rotate-size and --flows-rotate-time must be more than 0\n"
        );
    }
}

#[test]
fn standard_output_cannot_be_rotated() {
    let run = svcscope(&[
        "analyze",
        "-q",
        "--flows",
        "-",
        "--flows-rotate-size",
        "1M",
        FIXTURE,
    ]);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr,
        "svcscope: --flows -: standard output cannot be rotated\n"
    );
}

/// A disk that fills part way (a 64 KiB tmpfs in a private mount namespace; root only): the plain
/// file holds whole records only, and those in it plus those counted as not written are every flow.
#[test]
fn a_disk_that_fills_part_way_keeps_whole_records_and_counts_the_rest() {
    if !nix_is_root() || !Path::new("/usr/bin/unshare").exists() {
        eprintln!("skipped: needs root and unshare");
        return;
    }
    let dir = TempDir::new("tmpfs");
    let (mnt, keep) = (dir.0.join("mnt"), dir.0.join("keep"));
    std::fs::create_dir(&mnt).unwrap();
    std::fs::create_dir(&keep).unwrap();
    let script = format!(
        "mount -t tmpfs -o size=64k svcscope-test {m} && \"$@\"; status=$?; cp {m}/* {k}/; exit $status",
        m = mnt.display(),
        k = keep.display()
    );
    let flows = mnt.join("f.jsonl");
    let run = Run::of(
        std::process::Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c", &script, "sh"])
            .arg(env!("CARGO_BIN_EXE_svcscope"))
            .args([
                "analyze", "-q", "--format", "json", "--sensor", "s", "--flows",
            ])
            .arg(&flows)
            .arg(root().join(FIXTURE))
            .env_remove("RUST_BACKTRACE"),
    );
    if run.stderr.contains("mount") || run.stderr.contains("unshare") {
        eprintln!("skipped: no private tmpfs here: {}", run.stderr);
        return;
    }
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).expect("the report is whole");
    let total = report["totals"]["flows"].as_u64().unwrap();
    let prefix = format!(
        "svcscope: writing flow records failed: {}: No space left on device (os error 28); ",
        flows.display()
    );
    assert!(run.stderr.starts_with(&prefix), "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    let lost: u64 = run.stderr[prefix.len()..]
        .strip_suffix(" flow records not written\n")
        .unwrap_or_else(|| panic!("{}", run.stderr))
        .parse()
        .unwrap();
    let text = std::fs::read_to_string(keep.join("f.jsonl")).unwrap();
    assert!(text.is_empty() || text.ends_with('\n'), "a cut record");
    for line in text.lines() {
        serde_json::from_str::<Value>(line).expect("a whole record");
    }
    let kept = text.lines().count() as u64;
    assert!(kept > 0 && lost > 0, "kept {kept}, lost {lost}");
    assert_eq!(kept + lost, total);
}

fn nix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find(|l| l.starts_with("Uid:"))
            .is_some_and(|l| l.split_whitespace().nth(1) == Some("0"))
    })
}

/// The README's DuckDB statement (the block that starts with this line).
const RECIPE_START: &str =
    "-- Flows, packets and bytes per service, over every sensor's flow records.";

fn readme_recipe() -> String {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme.find(RECIPE_START).expect("the recipe in the README");
    let len = readme[start..].find("```").expect("the end of its block");
    readme[start..start + len].to_string()
}

/// A Python with the `duckdb` package, in a virtual environment cached under target/ (made once:
/// `python3 -m venv`, then pip from PyPI); `None` when there is no python3 at all.
fn duckdb_python() -> Option<PathBuf> {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("duckdb-venv");
    let python = venv.join("bin/python");
    let works = |p: &Path| {
        std::process::Command::new(p)
            .args(["-c", "import duckdb"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if works(&python) {
        return Some(python);
    }
    if std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_err()
    {
        return None;
    }
    // Built beside, then renamed into place: a run that stops half way leaves no broken cache.
    let building = venv.with_file_name(format!("duckdb-venv.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&building);
    let step = |cmd: &mut std::process::Command| {
        let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
        assert!(
            out.status.success(),
            "{cmd:?} failed (scripts/deps test installs python3-venv):\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    step(
        std::process::Command::new("python3")
            .args(["-m", "venv"])
            .arg(&building),
    );
    step(std::process::Command::new(building.join("bin/pip")).args([
        "install",
        "-q",
        "--disable-pip-version-check",
        "duckdb>=1.1,<3",
    ]));
    let _ = std::fs::remove_dir_all(&venv);
    std::fs::rename(&building, &venv).unwrap();
    assert!(works(&python), "duckdb does not import after installing it");
    Some(python)
}

/// The fleet recipe: two captures analysed as two sensors (zstd and gzip flow records), the
/// README's DuckDB statement over both files gives, per service, the flows, packets and bytes of
/// one `svcscope analyze` of both captures together.
#[test]
fn duckdb_over_two_sensors_gives_the_report_of_both_captures() {
    let Some(python) = duckdb_python() else {
        eprintln!("skipped: no python3 (scripts/deps test)");
        return;
    };
    let dir = TempDir::new("duckdb");
    std::fs::create_dir(dir.0.join("flows")).unwrap();
    let sensors = [
        (
            "dc-site",
            "fixtures/domain.pcapng",
            "flows/dc-site.jsonl.zst",
        ),
        ("branch", "fixtures/rpc.pcap", "flows/branch.jsonl.gz"),
    ];
    for (sensor, capture, flows) in sensors {
        let run = svcscope(&[
            "analyze",
            "-q",
            "--sensor",
            sensor,
            "--flows",
            &dir.path(flows),
            capture,
        ]);
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    let both = svcscope(&[
        "analyze",
        "-q",
        "--format",
        "json",
        sensors[0].1,
        sensors[1].1,
    ]);
    assert_eq!(both.code, 0, "{}", both.stderr);
    let report: Value = serde_json::from_str(&both.stdout).unwrap();
    let mut want: Vec<String> = report["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let n = |k: &str| s[k].as_u64().unwrap();
            format!(
                "{} flows {} packets {}/{} bytes {}/{}",
                s["service"].as_str().unwrap(),
                n("flows"),
                n("packets_c2s"),
                n("packets_s2c"),
                n("bytes_c2s"),
                n("bytes_s2c")
            )
        })
        .collect();
    want.sort();
    assert!(want.len() >= 8, "{want:?}");
    let script = "import duckdb, json, sys\nrows = duckdb.sql(sys.argv[1]).fetchall()\n\
                  print(json.dumps([[str(c) for c in r] for r in rows]))\n";
    let out = std::process::Command::new(&python)
        .args(["-c", script, &readme_recipe()])
        .current_dir(&dir.0)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "duckdb: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<Vec<String>> = serde_json::from_slice(&out.stdout).unwrap();
    let mut got: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{} flows {} packets {}/{} bytes {}/{}",
                r[0], r[1], r[2], r[3], r[4], r[5]
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got, want,
        "DuckDB over the two sensors vs one analysis of both"
    );
    // Services both sensors saw are counted from both.
    let sensors_of = |service: &str| -> Option<&str> {
        rows.iter().find(|r| r[0] == service).map(|r| r[6].as_str())
    };
    assert_eq!(sensors_of("Net Logon"), Some("2"));
    assert_eq!(sensors_of("Server"), Some("1"));
}

//! Comparing svcscope's flow records with tshark's per-conversation truth files
//! (`../shared/captures/windows/truth-rpc/<capture>.tsv`, columns in its `COLUMNS.md`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The folder of real Windows captures next to the repository at `root`.
pub fn windows_dir(root: &Path) -> PathBuf {
    root.join("../shared/captures/windows")
}

/// The truth files of `dir/truth-rpc`, sorted, as (capture file name, truth path).
pub fn truth_files(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("truth-rpc"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "tsv"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| (p.file_stem().unwrap().to_string_lossy().to_string(), p))
        .collect()
}

/// One truth row: column name → value.
pub type Row = BTreeMap<String, String>;

/// The rows of a truth file.
pub fn rows(path: &Path) -> Vec<Row> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let cols: Vec<String> = lines
        .next()
        .unwrap()
        .split('\t')
        .map(str::to_string)
        .collect();
    lines
        .map(|l| {
            cols.iter()
                .cloned()
                .zip(l.split('\t').map(str::to_string))
                .collect()
        })
        .collect()
}

/// A multi-valued cell: `-` (or empty) is none, values are `|`-separated.
pub fn cell(v: &str) -> Vec<&str> {
    if v == "-" || v.is_empty() {
        Vec::new()
    } else {
        v.split('|').collect()
    }
}

/// A conversation regardless of direction: (protocol, lower endpoint, higher endpoint).
pub type Pair = (String, String, String);

pub fn pair(proto: &str, a: &str, b: &str) -> Pair {
    if a <= b {
        (proto.into(), a.into(), b.into())
    } else {
        (proto.into(), b.into(), a.into())
    }
}

/// `addr:port` as tshark writes it (`[v6]:port`), or the address alone.
pub fn endpoint(addr: &str, port: Option<u64>) -> String {
    match port {
        Some(p) if addr.contains(':') => format!("[{addr}]:{p}"),
        Some(p) => format!("{addr}:{p}"),
        None => addr.to_string(),
    }
}

/// Runs `exe analyze -q --format json --flows OUT capture` and returns the flow records by
/// conversation (several records when svcscope split a conversation).
pub fn flow_records(
    exe: &str,
    capture: &Path,
    out: &Path,
) -> BTreeMap<Pair, Vec<serde_json::Value>> {
    let status = std::process::Command::new(exe)
        .args(["analyze", "-q", "--format", "json", "--flows"])
        .arg(out)
        .arg(capture)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.code().is_some(), "{}: killed", capture.display());
    let mut map: BTreeMap<Pair, Vec<serde_json::Value>> = BTreeMap::new();
    for line in std::fs::read_to_string(out).unwrap().lines() {
        let r: serde_json::Value = serde_json::from_str(line).unwrap();
        let port = |k: &str| r[k].as_u64();
        let key = pair(
            r["transport"].as_str().unwrap(),
            &endpoint(r["client_addr"].as_str().unwrap(), port("client_port")),
            &endpoint(r["server_addr"].as_str().unwrap(), port("server_port")),
        );
        map.entry(key).or_default().push(r);
    }
    map
}

/// The (kind, value, services) of every evidence item of some flow records.
pub fn evidence(records: &[serde_json::Value]) -> Vec<(String, String, &serde_json::Value)> {
    records
        .iter()
        .flat_map(|r| r["evidence"].as_array().unwrap())
        .map(|item| {
            (
                item["kind"].as_str().unwrap().to_string(),
                item["value"].as_str().unwrap_or("").to_string(),
                &item["services"],
            )
        })
        .collect()
}

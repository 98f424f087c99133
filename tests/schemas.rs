//! The JSON Schemas in schemas/ (draft 2020-12) against the real output of every fixture: the
//! report, its flow records and the hosts document of each capture in fixtures/, and documents
//! that break the vocabulary, which they must reject. Interval lines are checked by the live test
//! that prints them (tests/live.rs).

use std::path::PathBuf;

use serde_json::Value;
use svcscope_testkit::Run;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn schema(name: &str) -> jsonschema::Validator {
    let path = root().join("schemas").join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        v["$schema"], "https://json-schema.org/draft/2020-12/schema",
        "{name}"
    );
    jsonschema::draft202012::new(&v).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn check(validator: &jsonschema::Validator, doc: &Value, what: &str) {
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .take(10)
        .collect();
    assert!(errors.is_empty(), "{what}:\n{}", errors.join("\n"));
}

fn svcscope(args: &[&str]) -> Run {
    Run::of(&mut svcscope_testkit::command(
        env!("CARGO_BIN_EXE_svcscope"),
        &root(),
        args,
    ))
}

fn fixtures() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root().join("fixtures"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".pcap") || n.ends_with(".pcapng"))
        .collect();
    names.sort();
    assert!(names.len() >= 20, "{names:?}");
    names
}

#[test]
fn every_fixtures_report_flow_records_and_hosts_match_their_schemas() {
    let (report, flows, hosts) = (
        schema("report.json"),
        schema("flow-record.json"),
        schema("hosts.json"),
    );
    let dir = std::env::temp_dir().join(format!("svcscope-schemas-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for name in fixtures() {
        let path = format!("fixtures/{name}");
        let records = dir.join(format!("{name}.jsonl"));
        let run = svcscope(&[
            "analyze",
            "-q",
            "--format",
            "json",
            "--flows",
            records.to_str().unwrap(),
            &path,
        ]);
        // Some fixtures are broken on purpose (exit 1): their report is still a report.
        assert!(run.code <= 1, "{name}: {}", run.stderr);
        let doc: Value = serde_json::from_str(&run.stdout).unwrap();
        check(&report, &doc, &format!("{name} report"));
        let text = std::fs::read_to_string(&records).unwrap();
        assert!(!text.is_empty(), "{name}: no flow records");
        for (i, line) in text.lines().enumerate() {
            let doc: Value = serde_json::from_str(line).unwrap();
            check(&flows, &doc, &format!("{name} flow record {i}"));
        }
        let run = svcscope(&["hosts", "-q", "--role", "--format", "json", &path]);
        let doc: Value = serde_json::from_str(&run.stdout).unwrap();
        check(&hosts, &doc, &format!("{name} hosts"));
    }
    // The optional parts: a selection, a sort and a cut.
    let run = svcscope(&[
        "analyze",
        "-q",
        "--format",
        "json",
        "--service",
        "Net Logon",
        "--net",
        "192.0.2.0/24",
        "--sort",
        "clients",
        "--top",
        "2",
        "fixtures/domain.pcapng",
    ]);
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(doc["selection"].is_object());
    check(&report, &doc, "selected report");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The schemas pin the vocabulary: the old transport "ip", a port as text, an unknown server rule
/// and a missing field are rejected.
#[test]
fn schemas_reject_documents_off_the_vocabulary() {
    let records =
        std::env::temp_dir().join(format!("svcscope-schemas-{}.jsonl", std::process::id()));
    let run = svcscope(&[
        "analyze",
        "-q",
        "--format",
        "json",
        "--flows",
        records.to_str().unwrap(),
        "fixtures/domain.pcapng",
    ]);
    let text = std::fs::read_to_string(&records).unwrap();
    let _ = std::fs::remove_file(&records);
    let records: Vec<&str> = text.lines().collect();
    let mut report: Value = serde_json::from_str(&run.stdout).unwrap();
    let v = schema("report.json");
    assert!(v.is_valid(&report));
    let gre = report["app_protocols"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|r| r["transport"] == "gre")
        .expect("a GRE row");
    gre["transport"] = "ip".into();
    assert!(
        !v.is_valid(&report),
        "transport \"ip\" is the catalog's word"
    );
    let mut record: Value = serde_json::from_str(records[0]).unwrap();
    let f = schema("flow-record.json");
    assert!(f.is_valid(&record));
    let port = record["server_port"].clone();
    record["server_port"] = "tcp/1723".into();
    assert!(!f.is_valid(&record));
    record["server_port"] = port;
    record["server_rule"] = "guess".into();
    assert!(!f.is_valid(&record));
    record["server_rule"] = "syn".into();
    record.as_object_mut().unwrap().remove("one_direction");
    assert!(!f.is_valid(&record));
}

//! Terminal tables fitted to the width: `COLUMNS=80` gives lines of at most 80 columns that still
//! name every service with its traffic and basis; `--wide` and a pipe without `COLUMNS` give the
//! full table. The 80-column report of the bundled capture is a golden file
//! (`SVCSCOPE_BLESS=1 cargo test --test terminal_width` rewrites it).

use std::path::PathBuf;

use svcscope_testkit::Run;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs svcscope with `COLUMNS` set (or, with None, removed as the testkit does).
fn svcscope(columns: Option<&str>, args: &[&str]) -> String {
    let mut cmd = svcscope_testkit::command(env!("CARGO_BIN_EXE_svcscope"), &root(), args);
    if let Some(c) = columns {
        cmd.env("COLUMNS", c);
    }
    let run = Run::of(&mut cmd);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.stdout.replacen(
        &format!("svcscope {}", env!("CARGO_PKG_VERSION")),
        "svcscope",
        1,
    )
}

fn width(text: &str) -> usize {
    text.lines().map(|l| l.chars().count()).max().unwrap_or(0)
}

#[test]
fn eighty_columns_fit_and_keep_every_service() {
    let narrow = svcscope(Some("80"), &["analyze", "fixtures/domain.pcapng"]);
    assert!(width(&narrow) <= 80, "{narrow}");
    let services = narrow
        .split("Services (from evidence")
        .nth(1)
        .and_then(|s| s.split("\n\n").next())
        .unwrap();
    for needle in [
        "SERVICE",
        "BASIS",
        "Server ",
        "Local Security Authority",
        "Net Logon",
        "Print Spooler",
        "evidence 63/65",
        "by port",
    ] {
        assert!(services.contains(needle), "{needle} in\n{services}");
    }
    let path = root().join("tests/golden/domain.pcapng.table-80.txt");
    if std::env::var_os("SVCSCOPE_BLESS").is_some() {
        std::fs::write(&path, &narrow).unwrap();
    } else {
        let expected = std::fs::read_to_string(&path).expect("golden: SVCSCOPE_BLESS=1 writes it");
        assert!(
            expected == narrow,
            "differs from {}:\n{narrow}",
            path.display()
        );
    }
    let hosts = svcscope(Some("80"), &["hosts", "--role", "fixtures/domain.pcapng"]);
    assert!(width(&hosts) <= 80, "{hosts}");
}

#[test]
fn wide_and_pipes_keep_the_full_table() {
    let full = svcscope(None, &["analyze", "fixtures/domain.pcapng"]);
    assert!(
        width(&full) > 150,
        "the domain report is wider than 150 columns"
    );
    let wide = svcscope(Some("80"), &["--wide", "analyze", "fixtures/domain.pcapng"]);
    assert_eq!(wide, full);
    // A width too small to fit anything is ignored rather than cutting everything.
    let tiny = svcscope(Some("10"), &["analyze", "fixtures/domain.pcapng"]);
    assert_eq!(tiny, full);
}

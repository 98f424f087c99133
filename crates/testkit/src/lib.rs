//! Helpers shared by svcscope's integration tests.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

pub mod pcap;

/// Path to the `svcscope-gen` binary, built once per test binary.
///
/// The generator is a separate workspace package (it must not depend on the svcscope library), so
/// Cargo gives the root package's tests no `CARGO_BIN_EXE_svcscope-gen`. This builds it with the
/// Cargo running the tests, into the same target directory and profile as the running test binary
/// (`target/<profile>/deps/<test>` → `target/<profile>/svcscope-gen`), so `cargo test -p svcscope`
/// and `cargo test --workspace` both work and never run a stale generator.
pub fn generator() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().expect("test binary path");
        let profile_dir = exe
            .parent()
            .and_then(|deps| deps.parent())
            .expect("test binary under target/<profile>/deps")
            .to_path_buf();
        let target_dir = profile_dir.parent().expect("target directory");
        let profile = profile_dir.file_name().and_then(|n| n.to_str()).unwrap();
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args([
            "build",
            "--quiet",
            "--locked",
            "-p",
            "svcscope-gen",
            "--bin",
        ])
        .arg("svcscope-gen")
        .arg("--manifest-path")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir);
        if profile != "debug" {
            cmd.args(["--profile", profile]);
        }
        let out = cmd.output().expect("running cargo build -p svcscope-gen");
        assert!(
            out.status.success(),
            "building svcscope-gen failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let bin = profile_dir.join(format!("svcscope-gen{}", std::env::consts::EXE_SUFFIX));
        assert!(bin.is_file(), "{} was not built", bin.display());
        bin
    })
    .clone()
}

/// Runs a built binary (`env!("CARGO_BIN_EXE_svcscope")` in the calling test) in `dir`: (exit
/// status, standard output, standard error); a panic message on standard error fails the test.
pub fn run(exe: &str, dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(exe)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("running {exe}: {e}"));
    let stderr = String::from_utf8(out.stderr).expect("standard error is UTF-8");
    assert!(!stderr.contains("panicked"), "{stderr}");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).expect("standard output is UTF-8"),
        stderr,
    )
}

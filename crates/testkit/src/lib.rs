//! Helpers shared by svcscope's integration tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

pub mod pcap;
pub mod truth;

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

/// Runs `svcscope-gen` with `args` (the output file among them); a failure panics with what the
/// generator printed.
pub fn generate(args: &[&str]) {
    let out = Command::new(generator())
        .args(args)
        .output()
        .expect("running svcscope-gen");
    assert!(
        out.status.success(),
        "svcscope-gen failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What a run of a binary printed and how it ended.
#[derive(Debug)]
pub struct Run {
    /// The exit status, or -1 when a signal ended the process.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Runs `cmd` to its end. Both outputs must be UTF-8, and a panic message on standard error
    /// fails the test.
    pub fn of(cmd: &mut Command) -> Run {
        let out = cmd
            .output()
            .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
        Run::from_output(out)
    }

    /// The run of a process that has ended (for a caller that handles a failure to start it), with
    /// the checks of [`Run::of`].
    pub fn from_output(out: Output) -> Run {
        let stderr = String::from_utf8(out.stderr).expect("standard error is UTF-8");
        assert!(
            !stderr.contains("panicked"),
            "the binary panicked:\n{stderr}"
        );
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8(out.stdout).expect("standard output is UTF-8"),
            stderr,
        }
    }
}

/// A built binary (`env!("CARGO_BIN_EXE_svcscope")` in the calling test) with `args`, to run in
/// `dir`, without `RUST_BACKTRACE` (so that its messages are the ones a user sees).
pub fn command(exe: &str, dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(exe);
    // No COLUMNS: tables keep their full width (output is not a terminal), so goldens do not
    // depend on the shell the tests run in; a test of fitted tables sets it.
    cmd.args(args)
        .current_dir(dir)
        .env_remove("RUST_BACKTRACE")
        .env_remove("COLUMNS");
    cmd
}

/// Runs a built binary in `dir` (see [`command`]): (exit status, standard output, standard error),
/// checked as by [`Run::of`].
pub fn run(exe: &str, dir: &Path, args: &[&str]) -> (i32, String, String) {
    let r = Run::of(&mut command(exe, dir, args));
    (r.code, r.stdout, r.stderr)
}

//! Shell completions and man pages, generated from the argument definitions: every shell's script
//! and every page come out, name every subcommand and a recent option, and the bash and zsh scripts
//! parse.

use std::path::PathBuf;
use std::process::Command;

use svcscope_testkit::Run;

const SUBCOMMANDS: [&str; 8] = [
    "catalog",
    "analyze",
    "capture",
    "interfaces",
    "hosts",
    "rules",
    "completions",
    "man",
];

fn svcscope(args: &[&str]) -> Run {
    Run::of(&mut svcscope_testkit::command(
        env!("CARGO_BIN_EXE_svcscope"),
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")),
        args,
    ))
}

#[test]
fn completions_are_generated_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let run = svcscope(&["completions", shell]);
        assert_eq!(run.code, 0, "{shell}: {}", run.stderr);
        for sub in SUBCOMMANDS {
            assert!(run.stdout.contains(sub), "{shell}: no {sub}");
        }
        assert!(run.stdout.contains("write-service"), "{shell}");
        // A shell that is installed must read its script without a syntax error.
        if matches!(shell, "bash" | "zsh")
            && Command::new(shell).arg("-c").arg(":").output().is_ok()
        {
            let file = std::env::temp_dir().join(format!(
                "svcscope-completion-{}.{shell}",
                std::process::id()
            ));
            std::fs::write(&file, &run.stdout).unwrap();
            let check = Command::new(shell).arg("-n").arg(&file).output().unwrap();
            let _ = std::fs::remove_file(&file);
            assert!(
                check.status.success(),
                "{shell} -n: {}",
                String::from_utf8_lossy(&check.stderr)
            );
        }
    }
    let bad = svcscope(&["completions", "tcsh"]);
    assert_eq!(bad.code, 2);
}

#[test]
fn man_pages_are_generated_for_svcscope_and_each_subcommand() {
    let main = svcscope(&["man"]);
    assert_eq!(main.code, 0, "{}", main.stderr);
    assert!(main.stdout.contains(".TH svcscope 1"), "{}", main.stdout);
    for sub in SUBCOMMANDS {
        assert!(
            main.stdout.contains(&format!("svcscope\\-{sub}")) || main.stdout.contains(sub),
            "{sub}"
        );
        let page = svcscope(&["man", sub]);
        assert_eq!(page.code, 0, "{sub}: {}", page.stderr);
        assert!(
            page.stdout.contains(&format!(".TH svcscope-{sub} 1")),
            "{sub}:\n{}",
            page.stdout
        );
        assert!(page.stdout.contains(".SH SYNOPSIS"), "{sub}");
    }
    assert!(svcscope(&["man", "analyze"])
        .stdout
        .contains("\\-\\-write\\-service"));
    let bad = svcscope(&["man", "nope"]);
    assert_eq!(
        (bad.code, bad.stderr.as_str()),
        (2, "svcscope: man nope: no such subcommand\n")
    );
}

//! The `svcscope` binary: parse arguments, run, print errors as one line.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = svcscope::cli::Cli::parse();
    match svcscope::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            // One line: the error and its causes, control characters from names and paths escaped.
            let chain: Vec<String> = e.chain().map(|c| c.to_string()).collect();
            eprintln!(
                "svcscope: {}",
                svcscope::report::escape::terminal(&chain.join(": "))
            );
            ExitCode::from(svcscope::cli::exit_code(&e))
        }
    }
}

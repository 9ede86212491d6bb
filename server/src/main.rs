//! The `metaoffice` binary: parses flags, sets up logging, runs a command.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "metaoffice",
    version,
    about = "MetaOffice server: a 2D virtual office for Microsoft Teams"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run a movement scenario and print its trace (one JSON line per tick).
    Simulate {
        /// The scenario file.
        scenario: PathBuf,
    },
}

fn init_logging() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    match cli.command {
        Some(Command::Simulate { scenario }) => {
            let run = metaoffice_server::simulate::read_scenario(&scenario).and_then(|s| {
                metaoffice_server::simulate::run_scenario(
                    &scenario,
                    &s,
                    &mut std::io::stdout().lock(),
                )
            });
            match run {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("metaoffice simulate: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        None => ExitCode::SUCCESS,
    }
}

//! The `metaoffice` binary: parses flags, sets up logging, runs a command.
//! A bare `metaoffice` means `metaoffice serve`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use metaoffice_server::Config;

// The office allocates frames on its thread and writer tasks free them on
// others; mimalloc keeps that cheap and free of long consolidation pauses.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "metaoffice",
    version,
    about = "MetaOffice server: a 2D virtual office for Microsoft Teams"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve(ServeArgs),
    /// Run a movement scenario and print its trace (one JSON line per tick).
    Simulate {
        /// The scenario file.
        scenario: PathBuf,
    },
    /// Check Tiled maps: a summary of each, or every problem. Exit status 0
    /// only if every map is valid.
    CheckMap {
        /// One JSON object per map per line (JSON Lines).
        #[arg(long)]
        json: bool,
        /// The one tile property that blocks (default: `ge_collide` or `collides`).
        #[arg(long, value_name = "NAME")]
        collision_property: Option<String>,
        /// Map files, or folders of map files.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
}

#[derive(Args, Clone, Default)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "METAOFFICE_LISTEN")]
    listen: Option<SocketAddr>,
    /// Configuration file (TOML); `metaoffice.toml` is read if present.
    #[arg(long, env = "METAOFFICE_CONFIG")]
    config: Option<PathBuf>,
    /// Folder for the server's data (SQLite).
    #[arg(long, env = "METAOFFICE_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Folder of Tiled maps, one office each.
    #[arg(long, env = "METAOFFICE_MAPS")]
    maps: Option<PathBuf>,
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

fn load_config(args: &ServeArgs) -> anyhow::Result<Config> {
    let default_file = PathBuf::from("metaoffice.toml");
    let file = args
        .config
        .clone()
        .or_else(|| default_file.is_file().then_some(default_file));
    let mut config = Config::load(file.as_deref())?;
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(dir) = &args.data_dir {
        config.data_dir = dir.clone();
    }
    if let Some(dir) = &args.maps {
        config.maps = dir.clone();
    }
    config.validate()?;
    Ok(config)
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = load_config(&args)?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let shutdown = async {
        stop_signal().await;
        tracing::info!("shutting down");
    };
    metaoffice_server::run(listener, config, shutdown).await?;
    Ok(())
}

/// Completes on Ctrl-C, or on SIGTERM (what service managers and container
/// runtimes send to stop a server), so either stops it gracefully: clients
/// are told, positions saved, the database closed.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM: only Ctrl-C stops the server gracefully")
            }
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

fn simulate(scenario: PathBuf) -> anyhow::Result<()> {
    use metaoffice_server::simulate::{read_scenario, run_scenario};
    let parsed = read_scenario(&scenario)?;
    run_scenario(&scenario, &parsed, &mut std::io::stdout().lock())?;
    Ok(())
}

/// Runs check-map; `Ok(false)` when a map was refused.
fn check_map(
    paths: &[PathBuf],
    json: bool,
    collision_property: Option<&str>,
) -> anyhow::Result<bool> {
    let ok = metaoffice_server::map::check::run_check(
        paths,
        json,
        collision_property,
        &mut std::io::stdout().lock(),
    )?;
    Ok(ok)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    // Thousands of sockets: raise the open-files soft limit to the hard limit.
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let result = match cli.command {
        Some(Command::Simulate { scenario }) => simulate(scenario),
        Some(Command::CheckMap {
            json,
            collision_property,
            paths,
        }) => match check_map(&paths, json, collision_property.as_deref()) {
            Ok(true) => Ok(()),
            Ok(false) => return ExitCode::FAILURE,
            Err(e) => Err(e),
        },
        Some(Command::Serve(args)) => run_async(serve(args)),
        None => run_async(serve(cli.serve)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("metaoffice: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run_async(future: impl std::future::Future<Output = anyhow::Result<()>>) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(future)
}

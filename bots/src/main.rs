//! `metaoffice-bots`: simulated users over the real protocol, with a report
//! of latency, bandwidth and errors.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use metaoffice_bots::run::{Mix, Progress, Settings, run};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Clone, Copy, ValueEnum)]
enum Behavior {
    /// Hold random directions, pause, turn.
    Wander,
    /// Walk between places on real paths, stay a while.
    Commute,
    /// Walk to a gathering spot and stand there (makes conversations).
    Idle,
    /// 40 % wander, 30 % commute, 30 % idle.
    Mixed,
    /// Connected, standing still, never sending a move.
    Still,
}

#[derive(Parser)]
#[command(
    name = "metaoffice-bots",
    about = "Simulated MetaOffice users over the real protocol"
)]
struct Args {
    /// The server's WebSocket URL.
    #[arg(long, default_value = "ws://127.0.0.1:8080/ws")]
    url: String,
    /// Office to join; repeat or separate with commas to spread bots over several.
    #[arg(long, default_value = "demo", value_delimiter = ',')]
    office: Vec<String>,
    /// Well-behaved bots.
    #[arg(long, default_value_t = 10)]
    count: usize,
    /// Seconds over which the bots connect.
    #[arg(long, default_value_t = 2.0)]
    ramp: f64,
    /// Seconds measured after the ramp.
    #[arg(long, default_value_t = 30.0)]
    duration: f64,
    /// What the bots do.
    #[arg(long, value_enum, default_value_t = Behavior::Mixed)]
    behavior: Behavior,
    /// Extra bots sending malformed and abusive traffic meanwhile.
    #[arg(long, default_value_t = 0)]
    chaos: usize,
    /// Random seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Write the report as JSON here.
    #[arg(long)]
    report_json: Option<PathBuf>,
}

fn main() -> anyhow::Result<std::process::ExitCode> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    // Thousands of sockets: raise the open-files soft limit to the hard limit.
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let settings = Settings {
        url: args.url.clone(),
        offices: args.office.clone(),
        count: args.count,
        chaos: args.chaos,
        ramp: Duration::from_secs_f64(args.ramp.max(0.0)),
        duration: Duration::from_secs_f64(args.duration.max(0.0)),
        mix: match args.behavior {
            Behavior::Wander => Mix::Wander,
            Behavior::Commute => Mix::Commute,
            Behavior::Idle => Mix::Idle,
            Behavior::Mixed => Mix::Mixed,
            Behavior::Still => Mix::Still,
        },
        seed: args.seed,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let progress = Arc::new(Progress::default());
    let report = runtime.block_on(async {
        let ticker = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new_spinner();
            let progress = progress.clone();
            let total = args.ramp + args.duration;
            tokio::spawn(async move {
                let started = tokio::time::Instant::now();
                loop {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    bar.set_message(format!(
                        "{:>5.1}/{total:.0} s  connected {}  frames {}  trouble {}",
                        started.elapsed().as_secs_f64(),
                        progress.connected.load(Ordering::Relaxed),
                        progress.frames.load(Ordering::Relaxed),
                        progress.trouble.load(Ordering::Relaxed)
                    ));
                    bar.tick();
                }
            })
        });
        let report = run(settings, progress.clone()).await;
        if let Some(ticker) = ticker {
            ticker.abort();
        }
        report
    });
    println!("{}", report.summary());
    if let Some(path) = &args.report_json {
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)?;
    }
    Ok(if report.has_failures() {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    })
}

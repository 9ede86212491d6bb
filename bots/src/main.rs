//! `metaoffice-bots`: simulated users over the real protocol. This first
//! version wanders (holds random directions) or idles and prints what it
//! received; the load-test report grows with the load issue.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use clap::{Parser, ValueEnum};
use metaoffice_bots::{Client, Incoming};
use metaoffice_protocol::{Direction, ServerMessage};
use rand::Rng;

#[derive(Clone, Copy, ValueEnum)]
enum Behavior {
    /// Hold random directions, pause, turn.
    Wander,
    /// Stand still.
    Idle,
}

#[derive(Parser)]
#[command(name = "metaoffice-bots", about = "Simulated MetaOffice users")]
struct Args {
    /// The server's WebSocket URL.
    #[arg(long, default_value = "ws://127.0.0.1:8080/ws")]
    url: String,
    /// The office to join.
    #[arg(long, default_value = "demo")]
    office: String,
    /// How many bots.
    #[arg(long, default_value_t = 10)]
    count: usize,
    /// Seconds to run.
    #[arg(long, default_value_t = 30)]
    duration: u64,
    /// What the bots do.
    #[arg(long, value_enum, default_value_t = Behavior::Wander)]
    behavior: Behavior,
}

#[derive(Default)]
struct Totals {
    joined: AtomicU64,
    failed: AtomicU64,
    frames: AtomicU64,
    errors: AtomicU64,
}

async fn bot(args: Arc<Args>, index: usize, totals: Arc<Totals>) {
    let name = format!("bot-{index}");
    let Ok((mut client, _welcome)) = Client::join(&args.url, &args.office, &name).await else {
        totals.failed.fetch_add(1, Ordering::Relaxed);
        return;
    };
    totals.joined.fetch_add(1, Ordering::Relaxed);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(args.duration);
    let mut next_change = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => break,
            _ = tokio::time::sleep_until(next_change), if matches!(args.behavior, Behavior::Wander) => {
                let (dir, pause) = {
                    let mut rng = rand::rng();
                    (Direction::ALL[rng.random_range(0..4)], rng.random_range(300..2000))
                };
                let sent = if rand::rng().random_bool(0.7) { client.hold(dir).await } else { client.release().await };
                if sent.is_err() { break; }
                next_change = tokio::time::Instant::now() + Duration::from_millis(pause);
            }
            incoming = client.recv() => match incoming {
                Ok(Incoming::Message(message)) => {
                    totals.frames.fetch_add(1, Ordering::Relaxed);
                    if let ServerMessage::Error(e) = message {
                        totals.errors.fetch_add(1, Ordering::Relaxed);
                        eprintln!("{name}: error {}: {}", e.code, e.message);
                    }
                }
                _ => { totals.errors.fetch_add(1, Ordering::Relaxed); break; }
            }
        }
    }
    let _ = client.close().await;
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Arc::new(Args::parse());
    let totals = Arc::new(Totals::default());
    let bots: Vec<_> = (0..args.count)
        .map(|i| tokio::spawn(bot(args.clone(), i, totals.clone())))
        .collect();
    for bot in bots {
        bot.await?;
    }
    println!(
        "joined {} failed {} frames {} errors {}",
        totals.joined.load(Ordering::Relaxed),
        totals.failed.load(Ordering::Relaxed),
        totals.frames.load(Ordering::Relaxed),
        totals.errors.load(Ordering::Relaxed)
    );
    let failed = totals.failed.load(Ordering::Relaxed) + totals.errors.load(Ordering::Relaxed);
    if failed > 0 {
        anyhow::bail!("{failed} bots failed or saw errors");
    }
    Ok(())
}

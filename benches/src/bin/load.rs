//! The end-to-end load benchmark: starts the release server on a generated
//! office, runs the bots as a separate process, samples both processes' CPU
//! and memory, scrapes `/metrics`, then measures a plain tokio-tungstenite
//! server sending frames of the same size at the same pace (the ceiling of
//! this machine) and prints a table; `--json PATH` writes the figures.
//!
//! `cargo run --release -p metaoffice-benches --bin load -- office-5k`

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use futures_util::{SinkExt, StreamExt};
use metaoffice_benches::{office_map, side_for};
use serde_json::{Value, json};

#[derive(Parser)]
#[command(
    name = "load",
    about = "End-to-end load benchmark of the MetaOffice server"
)]
struct Cli {
    #[command(subcommand)]
    command: Workload,
}

#[derive(Subcommand)]
enum Workload {
    /// 5,000 bots (mixed) in one office of about 20 tiles per person.
    #[command(name = "office-5k")]
    Office5k(RunArgs),
    /// 1,000 bots (mixed) in one office: a quick run.
    #[command(name = "office-1k")]
    Office1k(RunArgs),
    /// 100 offices × 50 bots.
    ManyOffices(RunArgs),
    /// 10,000 bots connected, standing still.
    #[command(name = "idle-10k")]
    Idle10k(RunArgs),
    /// (internal) a plain WebSocket server sending fixed frames at a fixed pace.
    #[command(hide = true)]
    PlainServer {
        port: u16,
        frame_bytes: usize,
        interval_ms: u64,
    },
    /// (internal) clients of the plain server, counting frames.
    #[command(hide = true)]
    PlainClients {
        url: String,
        count: usize,
        ramp: f64,
        duration: f64,
    },
}

#[derive(clap::Args, Clone)]
struct RunArgs {
    /// Seconds measured after the ramp (default: the workload's).
    #[arg(long)]
    duration: Option<f64>,
    /// Seconds over which bots connect (default: the workload's).
    #[arg(long)]
    ramp: Option<f64>,
    /// Write the figures here as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Split the bots over this many processes (each its own runtime).
    #[arg(long, default_value_t = 1)]
    bot_processes: usize,
    /// Run the bots at this niceness (0 to 19; higher yields the CPU to the
    /// server first). 0, the default, shares the CPUs evenly.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=19))]
    bots_nice: u8,
}

struct Plan {
    name: &'static str,
    offices: usize,
    bots_per_office: usize,
    behavior: &'static str,
    tiles_per_person: usize,
    ramp: f64,
    duration: f64,
}

fn binaries() -> anyhow::Result<(PathBuf, PathBuf)> {
    let dir = std::env::current_exe()?
        .parent()
        .context("no folder")?
        .to_owned();
    let (server, bots) = (dir.join("metaoffice"), dir.join("metaoffice-bots"));
    // Always: binaries left from an older build would measure older code
    // (cargo only checks when nothing changed).
    {
        let status = Command::new(env!("CARGO"))
            .args([
                "build",
                "--release",
                "-p",
                "metaoffice-server",
                "-p",
                "metaoffice-bots",
            ])
            .status()?;
        if !status.success() {
            bail!("building the server and bots failed");
        }
    }
    Ok((server, bots))
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn http_get(port: u16, path: &str) -> anyhow::Result<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )?;
    let mut body = String::new();
    stream.read_to_string(&mut body)?;
    Ok(body
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default())
}

/// CPU seconds and resident memory of a process, from /proc.
fn sample(pid: u32) -> Option<(f64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kb: u64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some((ticks / 100.0, rss_kb * 1024))
}

/// Samples a process every second: CPU share over a window, peak memory.
struct Sampler {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<Vec<(Instant, f64, u64)>>,
}

impl Sampler {
    fn start(pid: u32) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut samples = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                if let Some((cpu, rss)) = sample(pid) {
                    samples.push((Instant::now(), cpu, rss));
                }
                std::thread::sleep(Duration::from_millis(500));
            }
            samples
        });
        Sampler { stop, handle }
    }

    /// (CPU share of one core between `from` and `to`, peak RSS, RSS at
    /// `from`, RSS at the first sample: before any client, for the server).
    fn finish(self, from: Instant, to: Instant) -> (f64, u64, u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        let samples = self.handle.join().unwrap_or_default();
        let window: Vec<_> = samples
            .iter()
            .filter(|s| s.0 >= from && s.0 <= to)
            .collect();
        let cpu = match (window.first(), window.last()) {
            (Some(a), Some(b)) if b.0 > a.0 => (b.1 - a.1) / (b.0 - a.0).as_secs_f64(),
            _ => 0.0,
        };
        let peak = samples.iter().map(|s| s.2).max().unwrap_or(0);
        let at_start = window.first().map_or(0, |s| s.2);
        let baseline = samples.first().map_or(0, |s| s.2);
        (cpu, peak, at_start, baseline)
    }
}

fn metric(metrics: &str, prefix: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Cumulative buckets of the histogram `name` summed over offices:
/// (le seconds, count).
fn tick_buckets(metrics: &str, name: &str) -> Vec<(f64, f64)> {
    let prefix = format!("{name}_bucket{{");
    let mut buckets: std::collections::BTreeMap<u64, f64> = Default::default();
    for line in metrics.lines().filter(|l| l.starts_with(&prefix)) {
        let Some(le) = line.split("le=\"").nth(1).and_then(|r| r.split('"').next()) else {
            continue;
        };
        let le = if le == "+Inf" {
            f64::INFINITY
        } else {
            le.parse().unwrap_or(f64::INFINITY)
        };
        let count: f64 = line
            .rsplit(' ')
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        *buckets.entry(le.to_bits()).or_default() += count;
    }
    let mut out: Vec<(f64, f64)> = buckets
        .into_iter()
        .map(|(k, v)| (f64::from_bits(k), v))
        .collect();
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out
}

/// The `q` quantile of the histogram `name` between two scrapes (the upper
/// bound of its bucket, at most 10 % above the truth past 1 ms).
fn tick_quantile(before: &str, after: &str, name: &str, q: f64) -> f64 {
    let (a, b) = (tick_buckets(before, name), tick_buckets(after, name));
    let diff: Vec<(f64, f64)> = b
        .iter()
        .map(|&(le, n)| (le, n - a.iter().find(|x| x.0 == le).map_or(0.0, |x| x.1)))
        .collect();
    let total = diff.last().map_or(0.0, |x| x.1);
    diff.iter()
        .find(|x| x.1 >= total * q)
        .map_or(f64::NAN, |x| x.0)
}

fn wait_healthy(port: u16, server: &mut Child) -> anyhow::Result<()> {
    for _ in 0..100 {
        if let Some(status) = server.try_wait()? {
            bail!("the server exited: {status}");
        }
        if http_get(port, "/healthz").is_ok_and(|b| b.contains("\"ok\"")) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("the server did not become healthy")
}

fn run(plan: Plan, args: RunArgs) -> anyhow::Result<()> {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let (server_bin, bots_bin) = binaries()?;
    let maps = tempfile::tempdir()?;
    let side = side_for(plan.bots_per_office, plan.tiles_per_person);
    let mut ids = Vec::new();
    for i in 0..plan.offices {
        let id = format!("bench{i}");
        std::fs::write(
            maps.path().join(format!("{id}.tmj")),
            serde_json::to_vec(&office_map(side, side))?,
        )?;
        ids.push(id);
    }
    let total = plan.offices * plan.bots_per_office;
    let (ramp, duration) = (
        args.ramp.unwrap_or(plan.ramp),
        args.duration.unwrap_or(plan.duration),
    );
    let port = free_port()?;
    let mut server = Command::new(&server_bin)
        .env("METAOFFICE_LISTEN", format!("127.0.0.1:{port}"))
        .env("METAOFFICE_MAPS", maps.path())
        .env(
            "METAOFFICE_LIMITS__MAX_CONNECTIONS",
            (total + 1000).to_string(),
        )
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()?;
    wait_healthy(port, &mut server)?;
    let server_sampler = Sampler::start(server.id());
    let processes = args.bot_processes.max(1);
    let reports = tempfile::tempdir()?;
    let mut bots = Vec::new();
    for p in 0..processes {
        let count = total / processes + usize::from(p < total % processes);
        // Not in the maps folder: the server would take it for a map.
        let report_path = reports.path().join(format!("bots-{p}.json"));
        let mut command = if args.bots_nice > 0 {
            let mut nice = Command::new("nice");
            nice.args(["-n", &args.bots_nice.to_string()])
                .arg(&bots_bin);
            nice
        } else {
            Command::new(&bots_bin)
        };
        let child = command
            .args([
                "--url",
                &format!("ws://127.0.0.1:{port}/ws"),
                "--office",
                &ids.join(","),
            ])
            .args([
                "--count",
                &count.to_string(),
                "--ramp",
                &ramp.to_string(),
                "--duration",
                &duration.to_string(),
            ])
            .args([
                "--behavior",
                plan.behavior,
                "--seed",
                &(p + 1).to_string(),
                "--report-json",
            ])
            .arg(&report_path)
            .stdout(Stdio::null())
            .spawn()?;
        bots.push((child, report_path));
    }
    let bots_samplers: Vec<Sampler> = bots
        .iter()
        .map(|(child, _)| Sampler::start(child.id()))
        .collect();
    // Measure the middle of the run: after the ramp, until shortly before the end.
    std::thread::sleep(Duration::from_secs_f64(ramp + 1.0));
    let measure_from = Instant::now();
    let metrics_before = http_get(port, "/metrics")?;
    std::thread::sleep(Duration::from_secs_f64((duration - 2.0).max(1.0)));
    let metrics_after = http_get(port, "/metrics")?;
    let measure_to = Instant::now();
    let mut bots_ok = true;
    for (child, _) in &mut bots {
        bots_ok &= child.wait()?.success();
    }
    let (server_cpu, server_peak, server_at_start, server_baseline) =
        server_sampler.finish(measure_from, measure_to);
    let bots_cpu: f64 = bots_samplers
        .into_iter()
        .map(|s| s.finish(measure_from, measure_to).0)
        .sum();
    let _ = server.kill();
    let _ = server.wait();
    let mut reports = Vec::new();
    for (_, path) in &bots {
        reports.push(serde_json::from_slice::<Value>(
            &std::fs::read(path).context("a bots process wrote no report")?,
        )?);
    }
    let report = merge_reports(&reports);
    let window = (measure_to - measure_from).as_secs_f64();
    let frames_sent = (metric(&metrics_after, "metaoffice_frames_sent_total")
        - metric(&metrics_before, "metaoffice_frames_sent_total"))
        / window;
    let bytes_sent = (metric(&metrics_after, "metaoffice_bytes_sent_total")
        - metric(&metrics_before, "metaoffice_bytes_sent_total"))
        / window;
    let ticks_per_frame =
        metric(&metrics_after, "metaoffice_ticks_per_frame") / plan.offices as f64;
    let tick =
        |name: &str, q: f64| tick_quantile(&metrics_before, &metrics_after, name, q) * 1000.0;
    let (wall, cpu) = ("metaoffice_tick_seconds", "metaoffice_tick_cpu_seconds");
    let frame_bytes = (bytes_sent / frames_sent.max(1.0)).round().max(1.0) as usize;
    let interval_ms = (50.0 * ticks_per_frame.max(1.0)).round() as u64;
    let (ceiling, ceiling_cpu) = plain_ceiling(total, frame_bytes, interval_ms, ramp, duration)?;
    let figures = json!({
        "workload": plan.name,
        "bots": total,
        "offices": plan.offices,
        "map_side_tiles": side,
        "seconds_measured": window,
        "server_cpu_cores": server_cpu,
        "bots_cpu_cores": bots_cpu,
        "server_peak_rss_mib": server_peak as f64 / 1048576.0,
        "server_rss_per_connection_kib": server_at_start as f64 / 1024.0 / total as f64,
        "server_baseline_rss_mib": server_baseline as f64 / 1048576.0,
        "server_rss_per_connection_above_baseline_kib":
            server_at_start.saturating_sub(server_baseline) as f64 / 1024.0 / total as f64,
        "tick_p99_ms": tick(wall, 0.99),
        "tick_p50_ms": tick(wall, 0.5),
        "tick_p90_ms": tick(wall, 0.9),
        "tick_p999_ms": tick(wall, 0.999),
        "tick_cpu_p50_ms": tick(cpu, 0.5),
        "tick_cpu_p90_ms": tick(cpu, 0.9),
        "tick_cpu_p99_ms": tick(cpu, 0.99),
        "tick_cpu_p999_ms": tick(cpu, 0.999),
        "ticks_per_frame": ticks_per_frame,
        "server_frames_per_s": frames_sent,
        "server_bytes_per_s": bytes_sent,
        "avg_frame_bytes": frame_bytes,
        "plain_ceiling_frames_per_s": ceiling,
        "plain_ceiling_cpu_cores": ceiling_cpu,
        "ratio_of_ceiling": frames_sent / ceiling.max(1.0),
        "bots_exit_ok": bots_ok,
        "bot_processes": processes,
        "bots_nice": args.bots_nice,
        "bots": report,
    });
    print_table(&figures);
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_vec_pretty(&figures)?)?;
    }
    Ok(())
}

/// One report from several bots processes: counts add up, rates are
/// weighted by the bots that joined, and each latency percentile is the
/// worst process's (so the figures never flatter the server).
fn merge_reports(reports: &[Value]) -> Value {
    if reports.len() == 1 {
        return reports[0].clone();
    }
    let sum = |key: &str| {
        reports
            .iter()
            .map(|r| r[key].as_f64().unwrap_or(0.0))
            .sum::<f64>()
    };
    let joined = sum("joined").max(1.0);
    let weighted = |key: &str| {
        reports
            .iter()
            .map(|r| r[key].as_f64().unwrap_or(0.0) * r["joined"].as_f64().unwrap_or(0.0))
            .sum::<f64>()
            / joined
    };
    let latency = |key: &str| {
        let worst = |q: &str| {
            reports
                .iter()
                .map(|r| r[key][q].as_f64().unwrap_or(0.0))
                .fold(0.0, f64::max)
        };
        json!({"count": reports.iter().map(|r| r[key]["count"].as_u64().unwrap_or(0)).sum::<u64>(),
               "p50_ms": worst("p50_ms"), "p95_ms": worst("p95_ms"), "p99_ms": worst("p99_ms"), "max_ms": worst("max_ms")})
    };
    let merge_maps = |key: &str| {
        let mut out = serde_json::Map::new();
        for r in reports {
            for (k, v) in r[key].as_object().into_iter().flatten() {
                let n = out.get(k).and_then(Value::as_u64).unwrap_or(0) + v.as_u64().unwrap_or(0);
                out.insert(k.clone(), json!(n));
            }
        }
        Value::Object(out)
    };
    json!({
        "bots": sum("bots"), "chaos_bots": sum("chaos_bots"), "seconds": reports[0]["seconds"],
        "joined": sum("joined"), "failed": sum("failed"),
        "echo": latency("echo"), "echo_lost": sum("echo_lost"), "observe": latency("observe"), "ping": latency("ping"),
        "frames_per_client_s": weighted("frames_per_client_s"), "bytes_per_client_s": weighted("bytes_per_client_s"),
        "bytes_per_update": weighted("bytes_per_update"), "snapshots": sum("snapshots"),
        "errors": merge_maps("errors"), "disconnects": merge_maps("disconnects"), "chaos_errors": merge_maps("chaos_errors"),
    })
}

fn print_table(f: &Value) {
    let b = &f["bots"];
    let rows = [
        (
            "bots joined / failed",
            format!("{} / {}", b["joined"], b["failed"]),
            "all, 0",
        ),
        (
            "tick p99",
            format!("{:.2} ms", f["tick_p99_ms"].as_f64().unwrap_or(f64::NAN)),
            "<= 10 ms",
        ),
        (
            "  tick p50 / p90 / p99.9",
            format!(
                "{:.2} / {:.2} / {:.2} ms",
                f["tick_p50_ms"].as_f64().unwrap_or(f64::NAN),
                f["tick_p90_ms"].as_f64().unwrap_or(f64::NAN),
                f["tick_p999_ms"].as_f64().unwrap_or(f64::NAN)
            ),
            "",
        ),
        (
            "  tick CPU time p50 / p90 / p99",
            format!(
                "{:.2} / {:.2} / {:.2} ms",
                f["tick_cpu_p50_ms"].as_f64().unwrap_or(f64::NAN),
                f["tick_cpu_p90_ms"].as_f64().unwrap_or(f64::NAN),
                f["tick_cpu_p99_ms"].as_f64().unwrap_or(f64::NAN)
            ),
            "",
        ),
        (
            "input -> echo p99",
            format!("{:.1} ms", b["echo"]["p99_ms"].as_f64().unwrap_or(f64::NAN)),
            "<= 100 ms",
        ),
        (
            "step -> observer p99",
            format!(
                "{:.1} ms",
                b["observe"]["p99_ms"].as_f64().unwrap_or(f64::NAN)
            ),
            "",
        ),
        (
            "errors / disconnects",
            format!("{} / {}", b["errors"], b["disconnects"]),
            "none",
        ),
        (
            "bytes per avatar update",
            format!("{:.2}", b["bytes_per_update"].as_f64().unwrap_or(f64::NAN)),
            "<= 6",
        ),
        (
            "server peak RSS",
            format!(
                "{:.0} MiB",
                f["server_peak_rss_mib"].as_f64().unwrap_or(f64::NAN)
            ),
            "<= 1024 MiB",
        ),
        (
            "server RSS per connection",
            format!(
                "{:.1} KiB",
                f["server_rss_per_connection_kib"]
                    .as_f64()
                    .unwrap_or(f64::NAN)
            ),
            "",
        ),
        (
            "  above RSS before clients",
            format!(
                "{:.1} KiB",
                f["server_rss_per_connection_above_baseline_kib"]
                    .as_f64()
                    .unwrap_or(f64::NAN)
            ),
            "<= 16 KiB (idle-10k)",
        ),
        (
            "server CPU",
            format!(
                "{:.2} cores",
                f["server_cpu_cores"].as_f64().unwrap_or(f64::NAN)
            ),
            "",
        ),
        (
            "bots CPU",
            format!(
                "{:.2} cores (nice {})",
                f["bots_cpu_cores"].as_f64().unwrap_or(f64::NAN),
                f["bots_nice"].as_u64().unwrap_or(0)
            ),
            "",
        ),
        ("ticks per frame", format!("{}", f["ticks_per_frame"]), ""),
        (
            "frames sent",
            format!(
                "{:.0}/s ({} B avg)",
                f["server_frames_per_s"].as_f64().unwrap_or(0.0),
                f["avg_frame_bytes"]
            ),
            "",
        ),
        (
            "plain ceiling",
            format!(
                "{:.0}/s ({:.2} cores)",
                f["plain_ceiling_frames_per_s"].as_f64().unwrap_or(0.0),
                f["plain_ceiling_cpu_cores"].as_f64().unwrap_or(0.0)
            ),
            "",
        ),
        (
            "ratio of ceiling",
            format!("{:.2}", f["ratio_of_ceiling"].as_f64().unwrap_or(f64::NAN)),
            "",
        ),
    ];
    println!(
        "{} ({} bots, {:.0} s measured)",
        f["workload"],
        f["bots"]["joined"],
        f["seconds_measured"].as_f64().unwrap_or(0.0)
    );
    println!("{:<28} {:>28}  goal", "figure", "measured");
    for (name, value, goal) in rows {
        println!("{name:<28} {value:>28}  {goal}");
    }
}

/// Frames per second a plain server delivers to `clients` at this pace.
fn plain_ceiling(
    clients: usize,
    frame_bytes: usize,
    interval_ms: u64,
    ramp: f64,
    duration: f64,
) -> anyhow::Result<(f64, f64)> {
    let me = std::env::current_exe()?;
    let port = free_port()?;
    let mut server = Command::new(&me)
        .args([
            "plain-server",
            &port.to_string(),
            &frame_bytes.to_string(),
            &interval_ms.to_string(),
        ])
        .spawn()?;
    std::thread::sleep(Duration::from_millis(300));
    let sampler = Sampler::start(server.id());
    let output = Command::new(&me)
        .args([
            "plain-clients",
            &format!("ws://127.0.0.1:{port}/"),
            &clients.to_string(),
        ])
        .args([&ramp.to_string(), &duration.to_string()])
        .output()?;
    let from = Instant::now() - Duration::from_secs_f64(duration - 1.0);
    let (cpu, _, _, _) = sampler.finish(from, Instant::now());
    let _ = server.kill();
    let _ = server.wait();
    let rate: f64 = String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap_or(0.0);
    Ok((rate, cpu))
}

async fn plain_server(port: u16, frame_bytes: usize, interval_ms: u64) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let frame = bytes::Bytes::from(vec![0x2a; frame_bytes]);
    let clients: Arc<std::sync::Mutex<Vec<tokio::sync::mpsc::Sender<bytes::Bytes>>>> =
        Arc::default();
    let pace = clients.clone();
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(Duration::from_millis(interval_ms));
        loop {
            interval.tick().await;
            let list = pace.lock().map(|l| l.clone()).unwrap_or_default();
            for client in list {
                let _ = client.try_send(frame.clone());
            }
        }
    });
    loop {
        let (stream, _) = listener.accept().await?;
        let clients = clients.clone();
        tokio::spawn(async move {
            let Ok(socket) = tokio_tungstenite::accept_async(stream).await else {
                return;
            };
            let (mut sink, mut source) = socket.split();
            let (tx, mut rx) = tokio::sync::mpsc::channel::<bytes::Bytes>(64);
            if let Ok(mut list) = clients.lock() {
                list.push(tx);
            }
            tokio::spawn(async move { while source.next().await.is_some() {} });
            while let Some(frame) = rx.recv().await {
                if sink
                    .send(tokio_tungstenite::tungstenite::Message::Binary(frame))
                    .await
                    .is_err()
                {
                    break;
                }
            }
        });
    }
}

async fn plain_clients(url: String, count: usize, ramp: f64, duration: f64) -> anyhow::Result<()> {
    let frames = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let measure_from = started + Duration::from_secs_f64(ramp + 1.0);
    let end = started + Duration::from_secs_f64(ramp + duration);
    let mut tasks = Vec::new();
    for i in 0..count {
        let (url, frames) = (url.clone(), frames.clone());
        let at = started + Duration::from_secs_f64(ramp * i as f64 / count.max(1) as f64);
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(at.into()).await;
            let Ok((mut socket, _)) = tokio_tungstenite::connect_async(url).await else {
                return;
            };
            while let Ok(Some(Ok(_))) = tokio::time::timeout_at(end.into(), socket.next()).await {
                if Instant::now() >= measure_from {
                    frames.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    let window = (end - measure_from).as_secs_f64().max(0.001);
    println!("{}", frames.load(Ordering::Relaxed) as f64 / window);
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    };
    match cli.command {
        Workload::Office5k(args) => run(
            Plan {
                name: "office-5k",
                offices: 1,
                bots_per_office: 5000,
                behavior: "mixed",
                tiles_per_person: 20,
                ramp: 20.0,
                duration: 60.0,
            },
            args,
        ),
        Workload::Office1k(args) => run(
            Plan {
                name: "office-1k",
                offices: 1,
                bots_per_office: 1000,
                behavior: "mixed",
                tiles_per_person: 20,
                ramp: 5.0,
                duration: 20.0,
            },
            args,
        ),
        Workload::ManyOffices(args) => run(
            Plan {
                name: "many-offices",
                offices: 100,
                bots_per_office: 50,
                behavior: "mixed",
                tiles_per_person: 20,
                ramp: 20.0,
                duration: 60.0,
            },
            args,
        ),
        Workload::Idle10k(args) => run(
            Plan {
                name: "idle-10k",
                offices: 1,
                bots_per_office: 10_000,
                behavior: "still",
                tiles_per_person: 20,
                ramp: 30.0,
                duration: 30.0,
            },
            args,
        ),
        Workload::PlainServer {
            port,
            frame_bytes,
            interval_ms,
        } => {
            let _ = rlimit::increase_nofile_limit(u64::MAX);
            runtime()?.block_on(plain_server(port, frame_bytes, interval_ms))
        }
        Workload::PlainClients {
            url,
            count,
            ramp,
            duration,
        } => {
            let _ = rlimit::increase_nofile_limit(u64::MAX);
            runtime()?.block_on(plain_clients(url, count, ramp, duration))
        }
    }
}

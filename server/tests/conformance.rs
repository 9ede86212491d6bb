//! Movement conformance with grid-engine: `metaoffice simulate` must match
//! grid-engine's own headless engine tick for tick, through
//! `../shared/conformance/compare.py`, on the shared scenarios and on many
//! more generated here from a fixed seed (grids and real maps, 4 and 8
//! directions, both collision strategies, odd tick rates, fast and slow and
//! non-colliding characters).

use std::path::{Path, PathBuf};
use std::process::Command;

use metaoffice_server::map::{CollisionRule, load_map};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

fn shared() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared");
    if dir.join("conformance/compare.py").is_file() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "../shared/conformance is missing, and CI=true"
    );
    eprintln!("skipping: ../shared/conformance is not beside the project");
    None
}

/// Runs compare.py on each scenario; returns the failures' output. One
/// test at a time: on a fresh machine compare.py installs grid-engine with
/// `npm ci` into its cache, and two installs at once in one folder fail.
fn compare(shared: &Path, scenarios: &[PathBuf]) -> Vec<String> {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let binary = env!("CARGO_BIN_EXE_metaoffice");
    let mut failures = Vec::new();
    for scenario in scenarios {
        let output = Command::new("python3")
            .arg(shared.join("conformance/compare.py"))
            .arg(scenario)
            .arg("--")
            .arg(binary)
            .arg("simulate")
            .output()
            .expect("python3 runs (install python3, node and npm)");
        if !output.status.success() {
            failures.push(format!(
                "{}:\n{}{}",
                scenario.display(),
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ));
        }
    }
    failures
}

#[test]
fn shared_scenarios_match_grid_engine() {
    let Some(shared) = shared() else { return };
    let mut scenarios: Vec<PathBuf> = std::fs::read_dir(shared.join("conformance/scenarios"))
        .expect("scenarios folder")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    scenarios.sort();
    assert!(!scenarios.is_empty());
    let failures = compare(&shared, &scenarios);
    assert!(
        failures.is_empty(),
        "{} scenarios differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

const DIRECTIONS: [&str; 8] = [
    "up",
    "down",
    "left",
    "right",
    "up-left",
    "up-right",
    "down-left",
    "down-right",
];

fn random_inputs(rng: &mut StdRng, ids: &[String], ticks: u64) -> Vec<Value> {
    let mut inputs = Vec::new();
    for tick in 0..ticks + 3 {
        for id in ids {
            if rng.random_bool(0.12) {
                let dir = if rng.random_bool(0.2) {
                    Value::Null
                } else {
                    json!(DIRECTIONS[rng.random_range(0..8)])
                };
                inputs.push(json!({"tick": tick, "id": id, "dir": dir}));
            }
        }
    }
    inputs
}

fn random_character(rng: &mut StdRng, i: usize, tile: (i32, i32)) -> Value {
    const SPEEDS: [f64; 12] = [1.0, 2.0, 3.0, 4.0, 4.0, 4.0, 5.0, 6.0, 8.0, 2.5, 0.7, 13.0];
    let mut c = json!({"id": format!("c{i}"), "x": tile.0, "y": tile.1, "speed": SPEEDS[rng.random_range(0..SPEEDS.len())]});
    if rng.random_bool(0.15) {
        c["collides"] = json!(false);
    }
    c
}

fn random_rules(rng: &mut StdRng, scenario: &mut Value) {
    const RATES: [f64; 7] = [20.0, 20.0, 10.0, 30.0, 60.0, 7.0, 24.0];
    scenario["tick_hz"] = json!(RATES[rng.random_range(0..RATES.len())]);
    scenario["directions"] = json!(if rng.random_bool(0.5) { 8 } else { 4 });
    scenario["collision_strategy"] = json!(if rng.random_bool(0.5) {
        "block_two_tiles"
    } else {
        "block_one_tile_ahead"
    });
}

fn grid_scenario(rng: &mut StdRng) -> Value {
    let (w, h) = (rng.random_range(3..14), rng.random_range(3..10));
    let grid: Vec<Vec<u8>> = (0..h)
        .map(|_| (0..w).map(|_| u8::from(rng.random_bool(0.2))).collect())
        .collect();
    let count = rng.random_range(1..7);
    let characters: Vec<Value> = (0..count)
        .map(|i| {
            let tile = (rng.random_range(0..w), rng.random_range(0..h));
            random_character(rng, i, tile)
        })
        .collect();
    let ids: Vec<String> = characters
        .iter()
        .map(|c| c["id"].as_str().unwrap_or_default().to_owned())
        .collect();
    let ticks = rng.random_range(40..160);
    let mut scenario = json!({"grid": grid, "ticks": ticks, "characters": characters});
    random_rules(rng, &mut scenario);
    scenario["inputs"] = json!(random_inputs(rng, &ids, ticks));
    scenario
}

fn map_scenario(rng: &mut StdRng, map: &Path) -> Value {
    let grid = load_map(map, &CollisionRule::only("ge_collide"), None)
        .expect("shared map loads")
        .grid;
    let free: Vec<(i32, i32)> = (0..grid.height())
        .flat_map(|y| (0..grid.width()).map(move |x| (x, y)))
        .filter(|&(x, y)| !grid.is_tile_blocked(x, y))
        .collect();
    let count = rng.random_range(1..6);
    let characters: Vec<Value> = (0..count)
        .map(|i| {
            let tile = free[rng.random_range(0..free.len())];
            random_character(rng, i, tile)
        })
        .collect();
    let ids: Vec<String> = characters
        .iter()
        .map(|c| c["id"].as_str().unwrap_or_default().to_owned())
        .collect();
    let ticks = rng.random_range(60..200);
    let mut scenario = json!({"map": map, "collision_property": "ge_collide", "ticks": ticks, "characters": characters});
    random_rules(rng, &mut scenario);
    scenario["inputs"] = json!(random_inputs(rng, &ids, ticks));
    scenario
}

#[test]
fn generated_scenarios_match_grid_engine() {
    let Some(shared) = shared() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rng = StdRng::seed_from_u64(0x6d65_7461);
    let maps: Vec<PathBuf> = [
        "ge-one-way.json",
        "ge-cloud-city.json",
        "ge-jungle-char-layers.json",
    ]
    .iter()
    .map(|m| {
        shared
            .join("maps/real")
            .join(m)
            .canonicalize()
            .expect("shared map")
    })
    .collect();
    let mut scenarios = Vec::new();
    for i in 0..36 {
        let scenario = if i % 4 == 3 {
            map_scenario(&mut rng, &maps[(i / 4) % maps.len()])
        } else {
            grid_scenario(&mut rng)
        };
        let path = dir.path().join(format!("generated-{i:03}.json"));
        std::fs::write(&path, serde_json::to_vec(&scenario).expect("json"))
            .expect("write scenario");
        scenarios.push(path);
    }
    let failures = compare(&shared, &scenarios);
    if !failures.is_empty() {
        // Keep the failing scenarios for a look.
        let kept = dir.keep();
        panic!(
            "{} generated scenarios differ (kept in {}):\n{}",
            failures.len(),
            kept.display(),
            failures.join("\n")
        );
    }
}

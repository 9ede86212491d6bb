//! `metaoffice simulate SCENARIO.json`: runs a movement scenario through the
//! office simulation the server runs ([`OfficeSim`]) and writes one JSON line
//! per tick, in the format of `../shared/conformance/README.md`.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use metaoffice_protocol::Direction;
use serde::{Deserialize, Serialize};

use crate::map::{CollisionRule, MapError, load_map};
use crate::movement::{CollisionGrid, CollisionStrategy, Rules};
use crate::office::sim::OfficeSim;

/// A movement scenario.
#[derive(Debug, Clone, Deserialize)]
pub struct Scenario {
    /// Rows of 0 (free) and 1 (blocked), y then x.
    #[serde(default)]
    pub grid: Option<Vec<Vec<u8>>>,
    /// A Tiled map instead of `grid`, relative to the scenario file.
    #[serde(default)]
    pub map: Option<PathBuf>,
    /// The tile property that blocks, for `map` scenarios.
    #[serde(default = "default_collision_property")]
    pub collision_property: String,
    /// Simulation rate.
    #[serde(default = "default_tick_hz")]
    pub tick_hz: f64,
    /// How many ticks to run.
    pub ticks: u64,
    /// 4 or 8.
    #[serde(default = "default_directions")]
    pub directions: u8,
    /// How characters reserve tiles.
    #[serde(default)]
    pub collision_strategy: CollisionStrategy,
    /// Characters, in the order they are added.
    pub characters: Vec<ScenarioCharacter>,
    /// Held directions over time.
    #[serde(default)]
    pub inputs: Vec<ScenarioInput>,
}

fn default_collision_property() -> String {
    "ge_collide".into()
}
fn default_tick_hz() -> f64 {
    20.0
}
fn default_directions() -> u8 {
    4
}
fn default_speed() -> f64 {
    4.0
}
fn default_true() -> bool {
    true
}

/// A character of a scenario.
#[derive(Debug, Clone, Deserialize)]
pub struct ScenarioCharacter {
    /// Its name in the trace.
    pub id: String,
    /// Start tile x.
    pub x: i32,
    /// Start tile y.
    pub y: i32,
    /// Tiles per second.
    #[serde(default = "default_speed")]
    pub speed: f64,
    /// Tile and character collisions.
    #[serde(default = "default_true")]
    pub collides: bool,
}

/// From `tick` on, character `id` holds `dir` (or nothing).
#[derive(Debug, Clone, Deserialize)]
pub struct ScenarioInput {
    /// When.
    pub tick: u64,
    /// Who.
    pub id: String,
    /// A direction name, or null for none.
    #[serde(default)]
    pub dir: Option<String>,
}

/// Why a scenario could not run.
#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    /// The scenario file could not be read.
    #[error("cannot read {0}: {1}")]
    Read(PathBuf, std::io::Error),
    /// It is not a valid scenario.
    #[error("{0} is not a valid scenario: {1}")]
    Parse(PathBuf, String),
    /// Its map was refused.
    #[error("the scenario's map was refused: {0}")]
    Map(#[from] MapError),
    /// Writing the trace failed.
    #[error("cannot write the trace: {0}")]
    Write(#[from] std::io::Error),
}

#[derive(Serialize)]
struct TraceLine<'a> {
    tick: u64,
    chars: Vec<TraceChar<'a>>,
}

#[derive(Serialize)]
struct TraceChar<'a> {
    id: &'a str,
    x: i32,
    y: i32,
    facing: &'static str,
    moving: bool,
}

/// Reads a scenario file.
pub fn read_scenario(path: &Path) -> Result<Scenario, SimulateError> {
    let text = std::fs::read(path).map_err(|e| SimulateError::Read(path.to_owned(), e))?;
    let scenario: Scenario = serde_json::from_slice(&text)
        .map_err(|e| SimulateError::Parse(path.to_owned(), e.to_string()))?;
    if scenario.grid.is_none() == scenario.map.is_none() {
        return Err(SimulateError::Parse(
            path.to_owned(),
            "give exactly one of `grid` and `map`".into(),
        ));
    }
    if scenario.directions != 4 && scenario.directions != 8 {
        return Err(SimulateError::Parse(
            path.to_owned(),
            "`directions` must be 4 or 8".into(),
        ));
    }
    if !(scenario.tick_hz > 0.0 && scenario.tick_hz.is_finite()) {
        return Err(SimulateError::Parse(
            path.to_owned(),
            "`tick_hz` must be a positive number".into(),
        ));
    }
    for input in &scenario.inputs {
        if let Some(dir) = &input.dir
            && Direction::from_name(dir).is_none()
        {
            return Err(SimulateError::Parse(
                path.to_owned(),
                format!("unknown direction '{dir}'"),
            ));
        }
    }
    Ok(scenario)
}

/// Runs the scenario found at `path` and writes its trace to `out`.
pub fn run_scenario(
    path: &Path,
    scenario: &Scenario,
    out: &mut impl Write,
) -> Result<(), SimulateError> {
    let grid = match (&scenario.grid, &scenario.map) {
        (Some(rows), _) => CollisionGrid::from_rows(rows),
        (None, Some(map)) => {
            let map_path = path.parent().unwrap_or(Path::new(".")).join(map);
            load_map(
                &map_path,
                &CollisionRule::only(&scenario.collision_property),
                None,
            )?
            .grid
        }
        (None, None) => CollisionGrid::open(0, 0),
    };
    let rules = Rules {
        directions: scenario.directions,
        strategy: scenario.collision_strategy,
        tick_hz: scenario.tick_hz,
    };
    let mut sim = OfficeSim::new(Arc::new(grid), rules);
    let entities: Vec<_> = scenario
        .characters
        .iter()
        .map(|c| sim.add_avatar(&c.id, (c.x, c.y), c.speed, c.collides))
        .collect();
    let by_name: HashMap<&str, _> = scenario
        .characters
        .iter()
        .zip(&entities)
        .map(|(c, &e)| (c.id.as_str(), e))
        .collect();
    let mut inputs: Vec<&ScenarioInput> = scenario.inputs.iter().collect();
    // Stable: several inputs for one character at one tick keep their order, and the last counts.
    inputs.sort_by_key(|i| i.tick);
    let mut next_input = 0;
    for tick in 0..scenario.ticks {
        while let Some(input) = inputs.get(next_input).filter(|i| i.tick <= tick) {
            next_input += 1;
            if let Some(&entity) = by_name.get(input.id.as_str()) {
                sim.hold(entity, input.dir.as_deref().and_then(Direction::from_name));
            } else {
                tracing::warn!(id = %input.id, "input for a character the scenario does not have");
            }
        }
        sim.tick();
        let chars = scenario
            .characters
            .iter()
            .zip(&entities)
            .filter_map(|(c, &e)| {
                let w = sim.walker(e)?;
                Some(TraceChar {
                    id: &c.id,
                    x: w.tile.0,
                    y: w.tile.1,
                    facing: w.facing.name(),
                    moving: w.step.is_some(),
                })
            })
            .collect();
        serde_json::to_writer(&mut *out, &TraceLine { tick, chars })
            .map_err(std::io::Error::from)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

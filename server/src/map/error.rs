//! Why a map was refused, in a designer's words: the file, the layer, the
//! tile and the reason for every problem found.

use std::fmt;
use std::path::Path;

use serde::Serialize;

/// One thing wrong with a map, in a designer's words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MapProblem {
    /// The file at fault (the map or a file it refers to).
    pub file: String,
    /// The layer at fault, if one is.
    pub layer: Option<String>,
    /// Tile x, where it applies.
    pub x: Option<i64>,
    /// Tile y, where it applies.
    pub y: Option<i64>,
    /// What is wrong.
    pub reason: String,
}

impl MapProblem {
    /// A problem with `file` as a whole.
    pub fn new(file: &Path, reason: impl Into<String>) -> MapProblem {
        MapProblem {
            file: file.display().to_string(),
            layer: None,
            x: None,
            y: None,
            reason: reason.into(),
        }
    }

    /// The same problem, on layer `name`.
    pub fn in_layer(mut self, name: &str) -> MapProblem {
        self.layer = Some(name.to_owned());
        self
    }

    /// The same problem, at tile (`x`, `y`).
    pub fn at(mut self, x: i64, y: i64) -> MapProblem {
        self.x = Some(x);
        self.y = Some(y);
        self
    }
}

impl fmt::Display for MapProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(layer) = &self.layer {
            write!(f, ", layer '{layer}'")?;
        }
        if let (Some(x), Some(y)) = (self.x, self.y) {
            write!(f, ", tile ({x}, {y})")?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// Why a map was refused: every problem found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct MapError(pub Vec<MapProblem>);

impl fmt::Display for MapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

impl MapError {
    /// One problem with `file` as a whole.
    pub fn single(file: &Path, reason: impl Into<String>) -> MapError {
        MapError(vec![MapProblem::new(file, reason)])
    }

    /// The problems, if there are any.
    pub fn from_problems(problems: Vec<MapProblem>) -> Result<(), MapError> {
        if problems.is_empty() {
            Ok(())
        } else {
            Err(MapError(problems))
        }
    }
}

impl From<MapProblem> for MapError {
    fn from(problem: MapProblem) -> MapError {
        MapError(vec![problem])
    }
}

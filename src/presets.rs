//! Named scenario presets: TOML files shipped in the Python package (`python/mcia/scenarios/`) and
//! compiled into the crate, so Rust and Python read the very same files.
//!
//! The first line of each file is a comment with its one-line description.

use crate::config::Config;
use crate::error::ConfigError;

/// The presets, `(name, TOML text)`, in the order `mcia scenarios` lists them.
pub const PRESETS: [(&str, &str); 5] = [
    ("default", include_str!("../python/mcia/scenarios/default.toml")),
    ("v0-light", include_str!("../python/mcia/scenarios/v0-light.toml")),
    ("iot", include_str!("../python/mcia/scenarios/iot.toml")),
    ("dense", include_str!("../python/mcia/scenarios/dense.toml")),
    ("fast-edge", include_str!("../python/mcia/scenarios/fast-edge.toml")),
];

/// Names of the presets.
pub fn names() -> Vec<&'static str> {
    PRESETS.iter().map(|(name, _)| *name).collect()
}

/// The TOML text of a preset.
pub fn text(name: &str) -> Result<&'static str, ConfigError> {
    PRESETS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t).ok_or_else(|| ConfigError::new("scenario", format!("unknown preset {name:?}; available presets: {:?}", names())))
}

/// The one-line description of a preset (its first comment line).
pub fn description(name: &str) -> Result<&'static str, ConfigError> {
    let t = text(name)?;
    Ok(t.lines().next().and_then(|l| l.strip_prefix('#')).map_or("", str::trim))
}

impl Config {
    /// The preset scenario `name` (one of [`PRESETS`]).
    pub fn preset(name: &str) -> Result<Config, ConfigError> {
        Config::from_toml_str(text(name)?).map_err(|e| ConfigError { message: format!("{} (in preset {name:?})", e.message), ..e })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_parses_and_has_a_description() {
        for name in names() {
            let c = Config::preset(name).unwrap();
            c.validate().unwrap();
            assert!(description(name).unwrap().len() > 20, "{name}");
        }
        assert_eq!(Config::preset("default").unwrap(), Config::default());
        assert_eq!(Config::preset("dense").unwrap().num_devices(), 20);
        assert_eq!(Config::preset("iot").unwrap().radio.bandwidth_hz, 1e6);
        assert_eq!(Config::preset("fast-edge").unwrap().edge.edge_gflops, 1000.0);
        let e = Config::preset("moon").unwrap_err().to_string();
        assert!(e.contains("unknown preset \"moon\"") && e.contains("v0-light"), "{e}");
    }

    #[test]
    fn v0_light_is_the_revision_1_scenario() {
        let c = Config::preset("v0-light").unwrap();
        assert_eq!(c.num_devices(), 5);
        assert_eq!((c.radio.bandwidth_hz, c.radio.distance_max_m), (10e6, 300.0));
        assert_eq!((c.load.device_levels.clone(), c.load.edge_levels.clone()), (vec![0.0, 0.3, 0.6], vec![0.0, 0.25, 0.5]));
        assert_eq!((c.tasks.accuracy_sensitive.deadline_s, c.tasks.latency_sensitive.weight), (0.5, 0.2));
        assert_eq!(c.zoo.feature_bytes_per_element, 1.0);
    }
}

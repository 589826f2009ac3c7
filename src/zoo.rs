//! Model families: the compressed versions of one DNN and their per-unit profiles.
//!
//! A *version* is one compressed model (for MobileNet v1 a `(width_multiplier, resolution)` pair). Its
//! profile lists, per *unit* (the places a model can be cut after), the floating-point operations of
//! the unit and the number of elements of its output tensor. The built-in `mobilenet_v1` family is
//! computed from the architecture (Howard et al. 2017, Table 1) with the counting rules of SPEC
//! section 2, never typed in. Users can load their own family from a JSON profile file.

use serde::{Deserialize, Serialize};

use crate::error::ConfigError;

/// Largest FLOP count of one unit (an exa-scale layer).
pub const MAX_UNIT_FLOPS: f64 = 1e18;
/// Largest output tensor of one unit, elements.
pub const MAX_ELEMS: f64 = 1e15;
/// Largest raw input, bytes.
pub const MAX_BYTES: f64 = 1e12;
/// Most units (cut points) of a model.
pub const MAX_UNITS: usize = 10_000;

/// One unit of a model (a layer or block the model can be cut after).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitProfile {
    /// Human-readable unit name (optional in profile files), e.g. `"conv0"`, `"block3"`, `"fc"`.
    #[serde(default)]
    pub name: String,
    /// Floating-point operations of the unit (= 2 x multiply-accumulates).
    pub flops: f64,
    /// Elements of the unit's output tensor.
    pub out_elems: f64,
}

/// One compressed version of the model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionProfile {
    /// Version name, e.g. `"1.0_224"`.
    pub name: String,
    /// Top-1 accuracy in [0, 1].
    pub accuracy: f64,
    /// Bytes of the raw input uploaded when the whole model runs on the edge (partition 0).
    pub input_bytes: f64,
    /// Largest bytes per element this version's intermediate features can take on the wire (for example 1.0
    /// for an int8-quantised version): the version sends `min(zoo.feature_bytes_per_element, this)` per
    /// element. Unset, the scenario's value applies alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature_bytes_per_element: Option<f64>,
    /// The units in execution order.
    pub units: Vec<UnitProfile>,
}

impl VersionProfile {
    /// Total FLOPs of the version.
    pub fn total_flops(&self) -> f64 {
        self.units.iter().map(|u| u.flops).sum()
    }
}

/// A model family: every version of one DNN (profile files have exactly this JSON layout).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FamilyProfile {
    /// Family name, e.g. `"mobilenet_v1"`.
    pub name: String,
    /// All versions of the family; a scenario picks an ordered subset by name.
    pub versions: Vec<VersionProfile>,
}

impl FamilyProfile {
    /// Looks a version up by name.
    pub fn version(&self, name: &str) -> Option<&VersionProfile> {
        self.versions.iter().find(|v| v.name == name)
    }

    /// Names of all versions, in file order.
    pub fn version_names(&self) -> Vec<String> {
        self.versions.iter().map(|v| v.name.clone()).collect()
    }

    /// Reads and validates a family from a JSON profile file.
    pub fn from_json_file(path: &str) -> Result<Self, ConfigError> {
        let text = crate::config::read_small_file(path).map_err(|e| ConfigError::new("zoo.profile_file", format!("cannot read {path:?}: {e}")))?;
        Self::from_json_str(&text).map_err(|e| e.prefixed(&format!("zoo.profile_file ({path})")))
    }

    /// Parses and validates a family from JSON text (one document; the family, its versions and units as
    /// objects).
    pub fn from_json_str(text: &str) -> Result<Self, ConfigError> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| ConfigError::new("", format!("invalid JSON: {e}")))?;
        check_profile_tables(&value, "")?;
        let fam: FamilyProfile = serde_path_to_error::deserialize(value).map_err(|e| ConfigError::new(&e.path().to_string(), e.inner().to_string()))?;
        fam.validate("")?;
        Ok(fam)
    }

    /// Checks that the family is usable (every number in a plausible range, see [`MAX_UNIT_FLOPS`] and its
    /// neighbours): at least one version, unique names, the same positive number
    /// of units in every version, finite non-negative flops and elements, some work in every version,
    /// accuracy in [0, 1]. `path` prefixes field names in errors.
    pub fn validate(&self, path: &str) -> Result<(), ConfigError> {
        let at = |f: &str| if path.is_empty() { f.to_string() } else { format!("{path}.{f}") };
        if self.versions.is_empty() {
            return Err(ConfigError::new(&at("versions"), "must hold at least one version"));
        }
        let units = self.versions[0].units.len();
        for (i, v) in self.versions.iter().enumerate() {
            let vp = at(&format!("versions[{i}]"));
            if v.name.is_empty() {
                return Err(ConfigError::new(&format!("{vp}.name"), "must not be empty"));
            }
            if self.versions[..i].iter().any(|o| o.name == v.name) {
                return Err(ConfigError::new(&format!("{vp}.name"), format!("duplicate version name {:?}", v.name)));
            }
            if !(0.0..=1.0).contains(&v.accuracy) {
                return Err(ConfigError::new(&format!("{vp}.accuracy"), format!("must be in [0, 1], got {}", v.accuracy)));
            }
            if !(v.input_bytes.is_finite() && (0.0..=MAX_BYTES).contains(&v.input_bytes)) {
                return Err(ConfigError::new(&format!("{vp}.input_bytes"), format!("must be in [0, {MAX_BYTES:e}], got {}", v.input_bytes)));
            }
            if let Some(fb) = v.feature_bytes_per_element {
                if !(fb.is_finite() && (1e-6..=1e3).contains(&fb)) {
                    return Err(ConfigError::new(&format!("{vp}.feature_bytes_per_element"), format!("must be in [1e-6, 1e3] bytes, got {fb}")));
                }
            }
            if v.units.is_empty() || v.units.len() > MAX_UNITS {
                return Err(ConfigError::new(&format!("{vp}.units"), format!("must hold 1 to {MAX_UNITS} units, got {}", v.units.len())));
            }
            if v.units.len() != units {
                return Err(ConfigError::new(
                    &format!("{vp}.units"),
                    format!("has {} units but version {:?} has {units}; all versions must have the same number", v.units.len(), self.versions[0].name),
                ));
            }
            for (k, u) in v.units.iter().enumerate() {
                if !(u.flops.is_finite() && (0.0..=MAX_UNIT_FLOPS).contains(&u.flops)) {
                    return Err(ConfigError::new(&format!("{vp}.units[{k}].flops"), format!("must be in [0, {MAX_UNIT_FLOPS:e}], got {}", u.flops)));
                }
                if !(u.out_elems.is_finite() && (0.0..=MAX_ELEMS).contains(&u.out_elems)) {
                    return Err(ConfigError::new(&format!("{vp}.units[{k}].out_elems"), format!("must be in [0, {MAX_ELEMS:e}], got {}", u.out_elems)));
                }
            }
            if v.total_flops() <= 0.0 {
                return Err(ConfigError::new(&format!("{vp}.units"), "total flops must be > 0"));
            }
        }
        Ok(())
    }
}

/// Checks that a profile, its versions and their units are objects (serde would otherwise fill them from
/// lists, field by field).
pub fn check_profile_tables(v: &serde_json::Value, path: &str) -> Result<(), ConfigError> {
    let at = |f: &str| if path.is_empty() { f.to_string() } else { format!("{path}.{f}") };
    let table = |v: &serde_json::Value, p: &str| {
        if v.is_object() {
            Ok(())
        } else {
            Err(ConfigError::new(if p.is_empty() { "." } else { p }, format!("must be a table (an object of named fields), got {}", crate::config::kind(v))))
        }
    };
    table(v, path)?;
    if let Some(versions) = v.get("versions").and_then(|x| x.as_array()) {
        for (i, ver) in versions.iter().enumerate() {
            table(ver, &at(&format!("versions[{i}]")))?;
            if let Some(units) = ver.get("units").and_then(|x| x.as_array()) {
                for (k, u) in units.iter().enumerate() {
                    table(u, &at(&format!("versions[{i}].units[{k}]")))?;
                }
            }
        }
    }
    Ok(())
}

/// Width multipliers of the built-in MobileNet v1 family.
pub const MOBILENET_WIDTHS: [f64; 4] = [1.0, 0.75, 0.5, 0.25];
/// Input resolutions of the built-in MobileNet v1 family.
pub const MOBILENET_RESOLUTIONS: [u32; 4] = [224, 192, 160, 128];
/// Top-1 ImageNet accuracy, rows = widths, columns = resolutions (TF-slim checkpoints of 2017-06-14).
pub const MOBILENET_ACCURACY: [[f64; 4]; 4] = [
    [0.707, 0.693, 0.672, 0.641],
    [0.684, 0.674, 0.652, 0.618],
    [0.640, 0.621, 0.599, 0.562],
    [0.506, 0.490, 0.460, 0.413],
];
/// Output channels and stride of the 13 depthwise-separable blocks (Howard et al. 2017, Table 1).
const MOBILENET_BLOCKS: [(u32, u32); 13] = [
    (64, 1),
    (128, 2),
    (128, 1),
    (256, 2),
    (256, 1),
    (512, 2),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (1024, 2),
    (1024, 1),
];
/// ImageNet classes of the final fully connected layer.
const IMAGENET_CLASSES: u64 = 1000;

/// Channels after width scaling: `int(c * width)`.
fn scaled(c: u32, width: f64) -> u64 {
    (c as f64 * width).floor() as u64
}

/// Name of a MobileNet v1 version, e.g. `"0.75_192"`.
pub fn mobilenet_version_name(width: f64, res: u32) -> String {
    let w = if width == 1.0 { "1.0".to_string() } else { format!("{width}") };
    format!("{w}_{res}")
}

/// Profile of one MobileNet v1 version (16 units: conv0, 13 blocks, avgpool, fc).
pub fn mobilenet_v1_version(width: f64, res: u32, accuracy: f64) -> VersionProfile {
    let mut units = Vec::with_capacity(16);
    let mut hw = (res as u64).div_ceil(2);
    let mut c_in = scaled(32, width);
    units.push(UnitProfile { name: "conv0".into(), flops: 2.0 * (hw * hw * 27 * c_in) as f64, out_elems: (hw * hw * c_in) as f64 });
    for (i, &(c, s)) in MOBILENET_BLOCKS.iter().enumerate() {
        hw = hw.div_ceil(s as u64);
        let c_out = scaled(c, width);
        let macs = hw * hw * 9 * c_in + hw * hw * c_in * c_out;
        units.push(UnitProfile { name: format!("block{}", i + 1), flops: 2.0 * macs as f64, out_elems: (hw * hw * c_out) as f64 });
        c_in = c_out;
    }
    units.push(UnitProfile { name: "avgpool".into(), flops: 2.0 * (hw * hw * c_in) as f64, out_elems: c_in as f64 });
    units.push(UnitProfile { name: "fc".into(), flops: 2.0 * (c_in * IMAGENET_CLASSES) as f64, out_elems: IMAGENET_CLASSES as f64 });
    VersionProfile { name: mobilenet_version_name(width, res), accuracy, input_bytes: (res as u64 * res as u64 * 3) as f64, feature_bytes_per_element: None, units }
}

/// The built-in `mobilenet_v1` family: all 16 width x resolution versions, widest and largest first.
pub fn mobilenet_v1() -> FamilyProfile {
    let mut versions = Vec::with_capacity(16);
    for (wi, &w) in MOBILENET_WIDTHS.iter().enumerate() {
        for (ri, &r) in MOBILENET_RESOLUTIONS.iter().enumerate() {
            versions.push(mobilenet_v1_version(w, r, MOBILENET_ACCURACY[wi][ri]));
        }
    }
    FamilyProfile { name: "mobilenet_v1".into(), versions }
}

/// Names of the built-in families.
pub const BUILTIN_FAMILIES: [&str; 2] = ["mobilenet_v1", "torchvision"];

/// The `torchvision` family: ResNets, ResNeXts, Wide ResNets, MobileNet v2/v3 and ShuffleNet v2 with their
/// int8-quantised variants, profiled from the torchvision architectures at 7 stride-aligned cut points
/// (`mcia zoo build --family torchvision` regenerates it; the accuracies are torchvision's own).
const TORCHVISION_JSON: &str = include_str!("families/torchvision.json");

/// Returns a built-in family by name.
pub fn builtin_family(name: &str) -> Option<FamilyProfile> {
    match name {
        "mobilenet_v1" => Some(mobilenet_v1()),
        "torchvision" => Some(FamilyProfile::from_json_str(TORCHVISION_JSON).expect("the shipped torchvision family is valid")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn macs(name: &str) -> f64 {
        mobilenet_v1().version(name).unwrap().total_flops() / 2.0
    }

    #[test]
    fn mac_totals_match_the_paper_within_one_percent() {
        let expected = [
            ("1.0_224", 569e6),
            ("0.75_224", 325e6),
            ("0.5_224", 149e6),
            ("0.25_224", 41e6),
            ("1.0_192", 418e6),
            ("1.0_160", 290e6),
            ("1.0_128", 186e6),
        ];
        for (name, want) in expected {
            let got = macs(name);
            assert!((got / want - 1.0).abs() < 0.01, "{name}: {got} MACs vs {want}");
        }
    }

    #[test]
    fn mobilenet_family_shape() {
        let fam = mobilenet_v1();
        assert_eq!(fam.versions.len(), 16);
        fam.validate("").unwrap();
        let v = fam.version("1.0_224").unwrap();
        assert_eq!(v.units.len(), 16);
        assert_eq!(v.input_bytes, 224.0 * 224.0 * 3.0);
        // conv0: 112x112x32 output, 112*112*27*32 MACs.
        assert_eq!(v.units[0].out_elems, 112.0 * 112.0 * 32.0);
        assert_eq!(v.units[0].flops, 2.0 * 112.0 * 112.0 * 27.0 * 32.0);
        // Last block: 7x7x1024, avgpool -> 1024, fc -> 1000.
        assert_eq!(v.units[13].out_elems, 7.0 * 7.0 * 1024.0);
        assert_eq!(v.units[14].out_elems, 1024.0);
        assert_eq!(v.units[15].flops, 2.0 * 1024.0 * 1000.0);
        assert_eq!(fam.version("0.25_128").unwrap().accuracy, 0.413);
        // 0.75 x 32 = 24 channels; 192 / 2 = 96.
        assert_eq!(fam.version("0.75_192").unwrap().units[0].out_elems, 96.0 * 96.0 * 24.0);
    }

    #[test]
    fn odd_resolutions_use_ceil() {
        let v = mobilenet_v1_version(1.0, 225, 0.5);
        assert_eq!(v.units[0].out_elems, 113.0 * 113.0 * 32.0);
    }

    #[test]
    fn profile_json_round_trip_and_validation() {
        let fam = mobilenet_v1();
        let text = serde_json::to_string(&fam).unwrap();
        assert_eq!(FamilyProfile::from_json_str(&text).unwrap(), fam);

        let bad = r#"{"name":"x","versions":[{"name":"a","accuracy":1.5,"input_bytes":10,"units":[{"flops":1,"out_elems":1}]}]}"#;
        let err = FamilyProfile::from_json_str(bad).unwrap_err().to_string();
        assert!(err.contains("versions[0].accuracy"), "{err}");

        let uneven = r#"{"name":"x","versions":[
            {"name":"a","accuracy":0.5,"input_bytes":10,"units":[{"flops":1,"out_elems":1}]},
            {"name":"b","accuracy":0.5,"input_bytes":10,"units":[{"flops":1,"out_elems":1},{"flops":1,"out_elems":1}]}]}"#;
        let err = FamilyProfile::from_json_str(uneven).unwrap_err().to_string();
        assert!(err.contains("versions[1].units") && err.contains("same number"), "{err}");

        let negative = r#"{"name":"x","versions":[{"name":"a","accuracy":0.5,"input_bytes":10,"units":[{"flops":-1,"out_elems":1}]}]}"#;
        let err = FamilyProfile::from_json_str(negative).unwrap_err().to_string();
        assert!(err.contains("units[0].flops"), "{err}");

        let unknown = r#"{"name":"x","versions":[],"extra":1}"#;
        let err = FamilyProfile::from_json_str(unknown).unwrap_err().to_string();
        assert!(err.contains("extra"), "{err}");
    }
}

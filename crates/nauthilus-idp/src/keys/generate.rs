//! Generated keys under `idp.key_dir`: one file per key, `<alg>-<created unix>-<random>.pem`
//! (PKCS#8, mode 0600), whose name is also its `kid`. Per algorithm of `idp.key_algorithms`,
//! the newest key signs; a new one is made when there is none or, with `idp.key_rotation`, when
//! the newest is that old and this instance claimed the rotation (`rotation.rs`). An older key
//! stays published for `idp.key_retention` after its successor took over (at least until every
//! token it can have signed has expired), then its file is removed. Writes go to a temporary
//! file renamed into place, so instances sharing the directory never read half a key.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use nauthilus_config::IdpConfig;

use super::{KeyError, SigningAlg, SigningKey, pem};

/// A key file found in the directory.
struct KeyFile {
    path: PathBuf,
    kid: String,
    alg: SigningAlg,
    created: u64,
}

/// Parses `<alg>-<created>-<random>.pem`.
fn parse_name(path: &Path) -> Option<KeyFile> {
    let name = path.file_name()?.to_str()?;
    let stem = name.strip_suffix(".pem")?;
    let mut parts = stem.splitn(3, '-');
    let alg = match parts.next()? {
        "es256" => SigningAlg::Es256,
        "rs256" => SigningAlg::Rs256,
        "eddsa" => SigningAlg::EdDsa,
        _ => return None,
    };
    let created = parts.next()?.parse().ok()?;
    parts.next()?;
    Some(KeyFile {
        path: path.to_path_buf(),
        kid: stem.to_owned(),
        alg,
        created,
    })
}

fn alg_tag(alg: SigningAlg) -> &'static str {
    match alg {
        SigningAlg::Es256 => "es256",
        SigningAlg::Rs256 => "rs256",
        SigningAlg::EdDsa => "eddsa",
    }
}

/// Which keys [`load_or_generate`] may create.
#[derive(Clone, Copy, Debug)]
pub(super) enum Create<'a> {
    /// Only the first key of an algorithm that has none (start, reload).
    FirstOnly,
    /// Also the successor of each of these keys (`(algorithm, kid of its newest key)`), when
    /// that key is still the newest and due: rotations this instance has claimed.
    Successors(&'a [(SigningAlg, String)]),
}

/// The algorithms of `idp.key_algorithms`, without repeats.
fn algorithms(config: &IdpConfig) -> Result<Vec<SigningAlg>, KeyError> {
    let mut algs = Vec::new();
    for name in &config.key_algorithms {
        let alg = SigningAlg::parse(name)
            .ok_or_else(|| KeyError::Load(format!("idp.key_algorithms: unknown algorithm {name:?}")))?;
        if !algs.contains(&alg) {
            algs.push(alg);
        }
    }
    if algs.is_empty() {
        return Err(KeyError::Load(
            "idp.key_algorithms: name at least one algorithm".into(),
        ));
    }
    Ok(algs)
}

/// True when the newest key `newest`, created at `created`, is due for a successor at `now_s`.
fn due_at(config: &IdpConfig, created: u64, now_s: u64) -> bool {
    let rotation = config.key_rotation.get().as_secs();
    rotation > 0 && now_s.saturating_sub(created) >= rotation
}

/// How long a retired key stays published after its successor took over:
/// `idp.key_retention`, never less than the longest lifetime of a token a key signs.
pub(super) fn retention(config: &IdpConfig) -> u64 {
    let longest_token = config
        .tokens
        .access_token_lifetime
        .get()
        .max(config.tokens.id_token_lifetime.get())
        .as_secs();
    config.key_retention.get().as_secs().max(longest_token)
}

/// The newest key of every algorithm that is due for rotation at `now`: `(algorithm, kid)`.
pub(super) fn due(config: &IdpConfig, now: SystemTime) -> Result<Vec<(SigningAlg, String)>, KeyError> {
    let dir = Path::new(&config.key_dir);
    let now_s = crate::unix(now);
    let mut out = Vec::new();
    for alg in algorithms(config)? {
        let files =
            list(dir, alg).map_err(|e| KeyError::Load(format!("directory {}: read: {e}", dir.display())))?;
        if let Some(newest) = files.last()
            && due_at(config, newest.created, now_s)
        {
            out.push((alg, newest.kid.clone()));
        }
    }
    Ok(out)
}

/// The keys of `config.key_dir` at `now`: creates what `create` allows, removes retired keys
/// whose retention has passed.
pub(super) fn load_or_generate(
    config: &IdpConfig,
    now: SystemTime,
    create: Create<'_>,
) -> Result<Vec<SigningKey>, KeyError> {
    let dir = Path::new(&config.key_dir);
    let err =
        |what: &str, e: std::io::Error| KeyError::Load(format!("directory {}: {what}: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(|e| err("create", e))?;
    let now_s = crate::unix(now);
    let retention = retention(config);
    let mut keys = Vec::new();
    for alg in algorithms(config)? {
        let mut files = list(dir, alg).map_err(|e| err("read", e))?;
        let make = match (files.last(), create) {
            (None, _) => true,
            (Some(_), Create::FirstOnly) => false,
            (Some(newest), Create::Successors(claimed)) => {
                due_at(config, newest.created, now_s)
                    && claimed.iter().any(|(a, kid)| *a == alg && *kid == newest.kid)
            }
        };
        if make {
            files.push(
                create_key(dir, alg, now_s).map_err(|e| KeyError::Load(format!("{}: {e}", dir.display())))?,
            );
        }
        let count = files.len();
        for (i, file) in files.iter().enumerate() {
            let active = i + 1 == count;
            if !active {
                // Retired when its successor took over; published for `retention` after that.
                let successor = files[i + 1].created;
                if now_s.saturating_sub(successor) > retention {
                    if let Err(e) = std::fs::remove_file(&file.path) {
                        tracing::warn!(key = %file.kid, error = %e, "retired signing key not removed");
                    }
                    continue;
                }
            }
            let text = std::fs::read_to_string(&file.path)
                .map_err(|e| KeyError::Load(format!("{}: {e}", file.path.display())))?;
            let encoding = pem::encoding_key(alg, &text)
                .map_err(|e| KeyError::Load(format!("{}: {e}", file.path.display())))?;
            keys.push(SigningKey::new(file.kid.clone(), alg, active, encoding)?);
        }
    }
    Ok(keys)
}

/// The key files of `alg`, oldest first.
fn list(dir: &Path, alg: SigningAlg) -> std::io::Result<Vec<KeyFile>> {
    let mut files: Vec<KeyFile> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .filter_map(|e| parse_name(&e.path()))
        .filter(|f| f.alg == alg)
        .collect();
    files.sort_by(|a, b| a.created.cmp(&b.created).then_with(|| a.kid.cmp(&b.kid)));
    Ok(files)
}

/// Generates a key of `alg` created at `now_s` and writes it.
fn create_key(dir: &Path, alg: SigningAlg, now_s: u64) -> Result<KeyFile, String> {
    let pem = pem::generate(alg)?;
    let suffix: u32 = rand::random();
    let kid = format!("{}-{now_s}-{suffix:08x}", alg_tag(alg));
    let path = dir.join(format!("{kid}.pem"));
    let tmp = dir.join(format!(".{kid}.tmp"));
    write_private(&tmp, pem.as_bytes()).map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, &path).map_err(|e| format!("{}: {e}", path.display()))?;
    tracing::info!(kid = %kid, alg = alg.as_str(), "idp signing key generated");
    Ok(KeyFile {
        path,
        kid,
        alg,
        created: now_s,
    })
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

//! The passwd-file backend: users from a Dovecot passwd-file, held in memory and reloaded when
//! the file changes. A reload that fails keeps the users already loaded (and logs why).

mod parse;

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, SystemTime};

pub use parse::{Attributes, LineError, PasswdDb, UserRecord};

/// Why the file could not be (re)loaded.
#[derive(Debug, thiserror::Error)]
pub enum PasswdFileError {
    #[error("{path}: cannot read: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: {} bad line(s): {}", problems.len(), format_problems(problems))]
    Invalid { path: PathBuf, problems: Vec<LineError> },
}

fn format_problems(problems: &[LineError]) -> String {
    problems
        .iter()
        .map(|p| format!("line {}: {}", p.line, p.message))
        .collect::<Vec<_>>()
        .join("; ")
}

/// What identifies one version of the file on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Fingerprint {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

fn fingerprint(path: &Path) -> std::io::Result<Fingerprint> {
    let meta = std::fs::metadata(path)?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0;
    Ok(Fingerprint {
        modified: meta.modified().ok(),
        len: meta.len(),
        inode,
    })
}

#[derive(Debug)]
struct Loaded {
    db: Arc<PasswdDb>,
    fingerprint: Fingerprint,
}

/// A passwd-file, loaded.
#[derive(Debug)]
pub struct PasswdFile {
    path: PathBuf,
    loaded: RwLock<Loaded>,
}

impl PasswdFile {
    /// Loads the file; fails if it cannot be read or has any bad line.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, PasswdFileError> {
        let path = path.into();
        let (db, fingerprint) = read(&path)?;
        Ok(Self {
            path,
            loaded: RwLock::new(Loaded {
                db: Arc::new(db),
                fingerprint,
            }),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The users as currently loaded.
    pub fn db(&self) -> Arc<PasswdDb> {
        match self.loaded.read() {
            Ok(l) => l.db.clone(),
            Err(poisoned) => poisoned.into_inner().db.clone(),
        }
    }

    /// Reloads if the file changed on disk. `Ok(true)` if new users were loaded; on error the
    /// previous users stay in place.
    pub fn reload_if_changed(&self) -> Result<bool, PasswdFileError> {
        self.reload_changes().map(|changed| changed.is_some())
    }

    /// Reloads if the file changed on disk: `Ok(Some(users))` with the users whose entry
    /// changed or went away, `Ok(None)` if the file is unchanged; on error the previous users
    /// stay in place.
    pub fn reload_changes(&self) -> Result<Option<Vec<String>>, PasswdFileError> {
        let current = fingerprint(&self.path).map_err(|source| PasswdFileError::Io {
            path: self.path.clone(),
            source,
        })?;
        let unchanged = match self.loaded.read() {
            Ok(l) => l.fingerprint == current,
            Err(poisoned) => poisoned.into_inner().fingerprint == current,
        };
        if unchanged {
            return Ok(None);
        }
        let (db, fingerprint) = read(&self.path)?;
        let mut guard = self.loaded.write().unwrap_or_else(|e| e.into_inner());
        let changed = db.changed_since(&guard.db);
        *guard = Loaded {
            db: Arc::new(db),
            fingerprint,
        };
        Ok(Some(changed))
    }

    /// Checks the file every `interval` for as long as `this` is alive, reloading on change;
    /// `on_change` hears which users changed or went away (to forget their cached logins).
    pub fn watch(
        this: &Arc<Self>,
        interval: Duration,
        on_change: Arc<dyn Fn(Vec<String>) + Send + Sync>,
    ) -> Option<tokio::task::JoinHandle<()>> {
        if interval.is_zero() {
            return None;
        }
        let weak: Weak<Self> = Arc::downgrade(this);
        Some(tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticker.tick().await;
            let mut last_error: Option<String> = None;
            loop {
                ticker.tick().await;
                let Some(file) = weak.upgrade() else { return };
                // Reading and parsing a large file is blocking work; keep it off the async workers.
                let outcome = tokio::task::spawn_blocking(move || {
                    let r = file.reload_changes();
                    (r, file.db().len(), file.path.clone())
                })
                .await;
                match outcome {
                    Ok((Ok(Some(changed)), users, path)) => {
                        last_error = None;
                        tracing::info!(path = %path.display(), users, changed = changed.len(), "passwd_file reloaded");
                        if !changed.is_empty() {
                            on_change(changed);
                        }
                    }
                    Ok((Ok(None), ..)) => {}
                    Ok((Err(e), ..)) => {
                        let text = e.to_string();
                        if last_error.as_deref() != Some(&text) {
                            tracing::error!(error = %text, "passwd_file not reloaded; keeping the users loaded before");
                        }
                        last_error = Some(text);
                    }
                    Err(e) => tracing::error!(error = %e, "passwd_file reload task failed"),
                }
            }
        }))
    }
}

fn read(path: &Path) -> Result<(PasswdDb, Fingerprint), PasswdFileError> {
    let io = |source| PasswdFileError::Io {
        path: path.to_path_buf(),
        source,
    };
    let before = fingerprint(path).map_err(io)?;
    let text = std::fs::read_to_string(path).map_err(io)?;
    let db = parse::parse(&text).map_err(|problems| PasswdFileError::Invalid {
        path: path.to_path_buf(),
        problems,
    })?;
    Ok((db, before))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_changed_file_is_reloaded_and_a_broken_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users");
        std::fs::write(&path, "alice:{PLAIN}one\n").unwrap();
        let file = PasswdFile::open(&path).unwrap();
        assert!(!file.reload_if_changed().unwrap());

        // Replace the file (new inode), as editors and config management do.
        let tmp = dir.path().join("users.new");
        std::fs::write(&tmp, "alice:{PLAIN}two\nbob:{PLAIN}three\n").unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        assert!(file.reload_if_changed().unwrap());
        assert_eq!(file.db().names(), ["alice", "bob"]);

        let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
        writeln!(f, "broken line without password field").unwrap();
        drop(f);
        let err = file.reload_if_changed().unwrap_err();
        assert!(err.to_string().contains("line 3"), "{err}");
        assert_eq!(file.db().names(), ["alice", "bob"], "old users kept");
    }

    #[test]
    fn a_reload_names_the_users_whose_entry_changed_or_went_away() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users");
        std::fs::write(&path, "alice:{PLAIN}one\nbob:{PLAIN}two\ncarol:{PLAIN}three\n").unwrap();
        let file = PasswdFile::open(&path).unwrap();
        let tmp = dir.path().join("users.new");
        std::fs::write(&tmp, "alice:{PLAIN}one\nbob:{PLAIN}changed\ndave:{PLAIN}new\n").unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        assert_eq!(
            file.reload_changes().unwrap(),
            Some(vec!["bob".to_owned(), "carol".to_owned()])
        );
        assert_eq!(file.reload_changes().unwrap(), None, "unchanged file");
    }

    #[test]
    fn a_missing_file_is_an_error_naming_it() {
        let err = PasswdFile::open("/nonexistent/users").unwrap_err();
        assert!(err.to_string().contains("/nonexistent/users"));
    }
}

//! Parsing Dovecot's passwd-file format:
//! `user:password:uid:gid:gecos:home:shell:extra_fields`, where extra fields are space-separated
//! `key=value` pairs (the last field may contain colons). Every bad line is reported, by number.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use crate::password::PasswordHash;

/// Attribute names to values, as the JSON body and headers present them.
pub type Attributes = BTreeMap<String, Vec<String>>;

/// One user of the file, as a lookup returns it (parsed from the stored line on demand).
#[derive(Debug)]
pub struct UserRecord {
    /// The user name (first field), which is also the account name.
    pub name: String,
    /// The parsed password hash; `None` when the field is empty (no password login possible).
    pub password: Option<Arc<PasswordHash>>,
    /// `user`, the non-empty passwd fields (`uid`, `gid`, `gecos`, `home`, `shell`) and every
    /// extra field.
    pub attributes: Attributes,
}

/// One user as held in memory: the line itself (checked when the file was loaded) and where
/// its name ends. A user costs the line's bytes plus about 40, not a parsed record with a map
/// of attributes (about 1 KB); a lookup parses the line again, which is cheap next to the
/// password verification that follows it.
#[derive(Debug)]
struct StoredUser {
    line: Box<str>,
    name_len: u32,
    /// Position in the file.
    index: u32,
    /// A digest of the whole line, to tell which users a reload changed.
    line_digest: u64,
}

impl StoredUser {
    fn name(&self) -> &str {
        self.line.get(..self.name_len as usize).unwrap_or_default()
    }

    fn digest(line: &str) -> u64 {
        use std::hash::{BuildHasher, Hasher};
        // A fixed-key hash is enough: the file is the operator's, not an attacker's.
        let mut h = std::hash::BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default()
            .build_hasher();
        h.write(line.as_bytes());
        h.finish()
    }
}

// A user is found by its name: hashed and compared as the name alone.
impl PartialEq for StoredUser {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name()
    }
}

impl Eq for StoredUser {}

impl std::hash::Hash for StoredUser {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name().hash(state);
    }
}

impl std::borrow::Borrow<str> for StoredUser {
    fn borrow(&self) -> &str {
        self.name()
    }
}

/// The whole file, parsed.
#[derive(Debug, Default)]
pub struct PasswdDb {
    users: HashSet<StoredUser>,
}

impl PasswdDb {
    /// The user called `name` (exact match).
    pub fn get(&self, name: &str) -> Option<UserRecord> {
        let stored = self.users.get(name)?;
        // The line parsed when it was loaded; parsing is deterministic.
        parse_line(&stored.line).ok()
    }

    /// User names in file order.
    pub fn names(&self) -> Vec<String> {
        let mut users: Vec<&StoredUser> = self.users.iter().collect();
        users.sort_unstable_by_key(|u| u.index);
        users.into_iter().map(|u| u.name().to_owned()).collect()
    }

    /// Number of users.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// True when the file holds no users.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// The users of `before` whose line differs here or who are gone: the ones whose cached
    /// logins must be forgotten (in `before`'s file order).
    pub fn changed_since(&self, before: &PasswdDb) -> Vec<String> {
        let mut changed: Vec<&StoredUser> = before
            .users
            .iter()
            .filter(|old| {
                self.users
                    .get(old.name())
                    .is_none_or(|new| new.line_digest != old.line_digest)
            })
            .collect();
        changed.sort_unstable_by_key(|u| u.index);
        changed.into_iter().map(|u| u.name().to_owned()).collect()
    }
}

/// A line that could not be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineError {
    /// 1-based line number.
    pub line: usize,
    pub message: String,
}

const FIELD_NAMES: [&str; 5] = ["uid", "gid", "gecos", "home", "shell"];

/// Parses the file's text; all bad lines are returned together.
pub fn parse(text: &str) -> Result<PasswdDb, Vec<LineError>> {
    let mut db = PasswdDb::default();
    let mut errors = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let number = index + 1;
        let line = raw.trim_end_matches('\r');
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        match parse_line(line) {
            Ok(record) => {
                if let Some(first) = db.users.get(record.name.as_str()) {
                    errors.push(LineError {
                        line: number,
                        message: format!(
                            "user {:?} already defined on line {}",
                            record.name,
                            u64::from(first.index) + 1
                        ),
                    });
                    continue;
                }
                let (Ok(name_len), Ok(index)) = (u32::try_from(record.name.len()), u32::try_from(index))
                else {
                    errors.push(LineError {
                        line: number,
                        message: "line too long or file too large".into(),
                    });
                    continue;
                };
                db.users.insert(StoredUser {
                    line: line.into(),
                    name_len,
                    index,
                    line_digest: StoredUser::digest(line),
                });
            }
            Err(message) => errors.push(LineError {
                line: number,
                message,
            }),
        }
    }
    if errors.is_empty() {
        db.users.shrink_to_fit();
        Ok(db)
    } else {
        Err(errors)
    }
}

fn parse_line(line: &str) -> Result<UserRecord, String> {
    let fields: Vec<&str> = line.splitn(8, ':').collect();
    let name = fields[0];
    if name.is_empty() {
        return Err("empty user name".into());
    }
    if name.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(format!(
            "user name {name:?} contains white space or control characters"
        ));
    }
    if fields.len() < 2 {
        return Err(format!(
            "user {name:?}: missing password field (user:password:...)"
        ));
    }
    let password = match fields[1] {
        "" => None,
        stored => {
            Some(Arc::new(PasswordHash::parse(stored).map_err(|e| {
                format!("user {name:?}: unusable password hash: {e}")
            })?))
        }
    };
    let mut attributes = Attributes::new();
    attributes.insert("user".into(), vec![name.to_owned()]);
    for (field, value) in FIELD_NAMES.iter().zip(fields.iter().skip(2)) {
        if !value.is_empty() {
            attributes.insert((*field).to_owned(), vec![(*value).to_owned()]);
        }
    }
    if let Some(extra) = fields.get(7) {
        for item in extra.split_whitespace() {
            let (key, value) = item.split_once('=').unwrap_or((item, ""));
            if key.is_empty() {
                return Err(format!("user {name:?}: extra field {item:?} has no name"));
            }
            attributes
                .entry(key.to_owned())
                .or_default()
                .push(value.to_owned());
        }
    }
    Ok(UserRecord {
        name: name.to_owned(),
        password,
        attributes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_lines_become_attributes() {
        let db = parse("alice:{PLAIN}secret:1000:1000:Alice A:/home/alice:/bin/sh:userdb_mail=maildir:~/Maildir quota=1G\n").unwrap();
        let alice = db.get("alice").unwrap();
        assert!(alice.password.as_ref().unwrap().verify(b"secret"));
        assert_eq!(alice.attributes["user"], ["alice"]);
        assert_eq!(alice.attributes["uid"], ["1000"]);
        assert_eq!(alice.attributes["gecos"], ["Alice A"]);
        assert_eq!(alice.attributes["home"], ["/home/alice"]);
        assert_eq!(alice.attributes["userdb_mail"], ["maildir:~/Maildir"]);
        assert_eq!(alice.attributes["quota"], ["1G"]);
    }

    #[test]
    fn short_lines_comments_and_blank_lines() {
        let db = parse("# comment\n\nbob:{PLAIN}pw\r\ncarol:\n").unwrap();
        assert_eq!(db.names(), ["bob", "carol"]);
        assert!(db.get("carol").unwrap().password.is_none());
        assert_eq!(db.get("bob").unwrap().attributes.len(), 1);
    }

    #[test]
    fn every_bad_line_is_reported() {
        let errors = parse("ok:{PLAIN}x\n:{PLAIN}x\nnopw\nbad:{NOPE}zz\nok:{PLAIN}y\n").unwrap_err();
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [2, 3, 4, 5]);
        assert!(errors[3].message.contains("already defined on line 1"));
    }

    #[test]
    fn lookups_are_exact() {
        let db = parse("Alice:{PLAIN}x\n").unwrap();
        assert!(db.get("alice").is_none());
        assert!(db.get("Alice").is_some());
    }
}

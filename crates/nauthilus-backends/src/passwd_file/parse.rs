//! Parsing Dovecot's passwd-file format:
//! `user:password:uid:gid:gecos:home:shell:extra_fields`, where extra fields are space-separated
//! `key=value` pairs (the last field may contain colons). Every bad line is reported, by number.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::password::PasswordHash;

/// Attribute names to values, as the JSON body and headers present them.
pub type Attributes = BTreeMap<String, Vec<String>>;

/// One user of the file.
#[derive(Debug)]
pub struct UserRecord {
    /// The user name (first field), which is also the account name.
    pub name: String,
    /// The parsed password hash; `None` when the field is empty (no password login possible).
    pub password: Option<Arc<PasswordHash>>,
    /// `user`, the non-empty passwd fields (`uid`, `gid`, `gecos`, `home`, `shell`) and every
    /// extra field.
    pub attributes: Attributes,
    /// A digest of the whole line, to tell which users a reload changed.
    line_digest: u64,
}

impl UserRecord {
    fn digest(line: &str) -> u64 {
        use std::hash::{BuildHasher, Hasher};
        // A fixed-key hash is enough: the file is the operator's, not an attacker's.
        let mut h = std::hash::BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default()
            .build_hasher();
        h.write(line.as_bytes());
        h.finish()
    }
}

/// The whole file, parsed.
#[derive(Debug, Default)]
pub struct PasswdDb {
    users: HashMap<String, Arc<UserRecord>>,
    order: Vec<String>,
}

impl PasswdDb {
    /// The user called `name` (exact match).
    pub fn get(&self, name: &str) -> Option<Arc<UserRecord>> {
        self.users.get(name).cloned()
    }

    /// User names in file order.
    pub fn names(&self) -> &[String] {
        &self.order
    }

    /// Number of users.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// True when the file holds no users.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// The users of `before` whose line differs here or who are gone: the ones whose cached
    /// logins must be forgotten.
    pub fn changed_since(&self, before: &PasswdDb) -> Vec<String> {
        before
            .order
            .iter()
            .filter(|name| {
                let old = before.users.get(*name).map(|u| u.line_digest);
                let new = self.users.get(*name).map(|u| u.line_digest);
                old != new
            })
            .cloned()
            .collect()
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
    let mut first_seen: HashMap<String, usize> = HashMap::new();
    for (index, raw) in text.lines().enumerate() {
        let number = index + 1;
        let line = raw.trim_end_matches('\r');
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        match parse_line(line) {
            Ok(record) => {
                if let Some(first) = first_seen.get(&record.name) {
                    errors.push(LineError {
                        line: number,
                        message: format!("user {:?} already defined on line {first}", record.name),
                    });
                    continue;
                }
                first_seen.insert(record.name.clone(), number);
                db.order.push(record.name.clone());
                db.users.insert(record.name.clone(), Arc::new(record));
            }
            Err(message) => errors.push(LineError {
                line: number,
                message,
            }),
        }
    }
    if errors.is_empty() { Ok(db) } else { Err(errors) }
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
        line_digest: UserRecord::digest(line),
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

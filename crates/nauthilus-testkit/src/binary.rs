//! Finds the programs the testkit runs (Redis, slapd): PATH first, then the Debian locations.

use std::env;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::TestkitError;

/// Directories searched after PATH; Debian installs redis-server in /usr/bin, slapd in /usr/sbin.
const FALLBACK_DIRS: [&str; 2] = ["/usr/bin", "/usr/sbin"];

/// Returns the path of `name`, looking on PATH, then in /usr/bin and /usr/sbin.
pub(crate) fn find_binary(name: &'static str) -> Result<PathBuf, TestkitError> {
    let path_dirs = env::var_os("PATH")
        .map(|paths| env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default();
    path_dirs
        .into_iter()
        .chain(FALLBACK_DIRS.iter().map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
        .ok_or(TestkitError::BinaryNotFound {
            binary: name,
            package: package_of(name),
        })
}

/// The Debian package that ships `name`.
fn package_of(name: &str) -> &'static str {
    match name {
        "slapd" | "slapadd" | "slaptest" => "slapd",
        n if n.starts_with("ldap") => "ldap-utils",
        "redis-cli" => "redis-tools",
        "mariadbd" | "mariadb-install-db" => "mariadb-server",
        "setpriv" => "util-linux",
        "node" => "nodejs",
        _ => "redis-server",
    }
}

fn is_executable(path: &Path) -> bool {
    path.metadata()
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_binary_error_names_the_debian_package() {
        let err = find_binary("nauthilus-testkit-no-such-program").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("nauthilus-testkit-no-such-program"), "{text}");
        assert!(text.contains("apt-get install redis-server"), "{text}");
    }

    #[test]
    fn ldap_programs_name_their_packages() {
        assert_eq!(package_of("slapadd"), "slapd");
        assert_eq!(package_of("ldapsearch"), "ldap-utils");
    }

    #[test]
    fn sh_is_found() {
        assert!(find_binary("sh").is_ok());
    }
}

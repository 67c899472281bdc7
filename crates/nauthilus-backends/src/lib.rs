//! Password databases (passwd-file, LDAP, SQL) and password schemes.

// Tests may read the clock directly; the code under test takes it as an argument.
#![cfg_attr(test, allow(clippy::disallowed_methods))]

pub mod ldap;
pub mod passwd_file;
pub mod password;
pub mod sql;

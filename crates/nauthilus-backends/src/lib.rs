//! Password databases (passwd-file, LDAP, SQL) and password schemes.

pub mod ldap;
pub mod passwd_file;
pub mod password;
pub mod sql;

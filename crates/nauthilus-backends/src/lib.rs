//! Password databases (passwd-file, LDAP) and password schemes.

pub mod ldap;
pub mod passwd_file;
pub mod password;

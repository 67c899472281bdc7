//! Password databases and password schemes.

pub mod passwd_file;
pub mod password;

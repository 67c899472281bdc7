//! Integration tests: the real server, in process, over real HTTP. One test binary for the
//! whole crate (each binary links everything, so there is only this one).

mod bad_input;
mod config_check;
mod endpoints;
mod passwd_reload;
mod schemes;
mod support;

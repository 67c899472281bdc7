#![allow(clippy::disallowed_methods)]
//! Integration tests: the real server, in process, over real HTTP. One test binary for the
//! whole crate (each binary links everything, so there is only this one).

// Test code: helpers outside #[test] functions may unwrap and panic too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod backchannel;
mod bad_input;
mod brute_force;
mod config_check;
mod endpoints;
mod faults;
mod features;
mod hardening;
mod idp_attacks;
mod idp_browser;
mod idp_flows;
mod idp_scaleout;
mod idp_support;
mod ldap;
mod lua;
mod lua_modules;
mod lua_services;
mod master_user;
mod metrics;
mod mfa;
mod mfa_browser;
mod mfa_pages;
mod mfa_web;
mod monitoring;
mod passwd_reload;
mod redis;
mod reload;
mod schemes;
mod sql;
mod sql_tls;
mod support;
mod transport;

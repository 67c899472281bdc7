//! `bench/run`: measures the server against the machine's own ceilings in one run and prints
//! ratios (see `README.md`, section Performance). Everything here is library code so the binary
//! (`src/bin/nauthilus-bench.rs`) stays a short list of phases.
//!
//! - [`load`]: an HTTP/1.1 load generator (closed loop for peak rate, open loop at a fixed rate
//!   with latency measured from the intended send time, as wrk2 does);
//! - [`cpu`]: CPU time of a process from `/proc/<pid>/stat`, and core pinning;
//! - [`server`]: the release server binary as a child process with a generated config;
//! - [`fixture`]: the services of one run (private Redis, the server) and the requests;
//! - [`phase`]: one module per phase, each returning a [`phase::PhaseReport`];
//! - [`instructions`]: instructions per request under callgrind (`--instructions`);
//! - [`report`]: the JSON object and the table.
//!
//! [`criterion_summary`] serves the criterion bench in `benches/` (pipeline micro-benchmarks).

// Benchmarks read the clock to measure.
#![allow(clippy::disallowed_methods)]

pub mod cpu;
pub mod criterion_summary;
pub mod error;
pub mod fixture;
pub mod instructions;
pub mod load;
pub mod phase;
pub mod profile;
pub mod report;
pub mod server;

pub use criterion_summary::{Row, criterion_dir, median_ns, print_summary};
pub use error::BenchError;

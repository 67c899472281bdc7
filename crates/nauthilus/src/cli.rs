//! Command-line interface.

use std::path::PathBuf;

use clap::Parser;

/// Universal authentication and authorization server, wire-compatible with Nauthilus.
#[derive(Debug, Parser)]
#[command(name = "nauthilus", version, about)]
pub struct Cli {
    /// Configuration file (default: first of ./nauthilus.yml, /etc/nauthilus/nauthilus.yml).
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Check the configuration, print every problem, and exit (0 = usable, 1 = errors).
    #[arg(long)]
    pub config_check: bool,

    /// Print the JSON Schema of the configuration file (for editors such as yaml-language-server) and exit.
    #[arg(long, conflicts_with_all = ["config", "config_check"])]
    pub config_schema: bool,
}

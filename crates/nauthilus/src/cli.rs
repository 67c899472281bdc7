//! Command-line interface.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

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

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands; without one, the server runs.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Manage the users of an embedded SQLite user store (backend `sql` with `sqlite://`).
    Users {
        #[command(subcommand)]
        action: UsersAction,
    },
}

/// `nauthilus users ...`.
#[derive(Debug, Subcommand)]
pub enum UsersAction {
    /// Add a user; the password is read from the first line of standard input.
    Add {
        /// The SQLite database file (created with its table when missing).
        #[arg(long, value_name = "FILE")]
        db: PathBuf,
        /// The login name.
        user: String,
        /// Display name, stored in the `display_name` column.
        #[arg(long)]
        display_name: Option<String>,
        /// Password scheme of the stored hash.
        #[arg(long, value_enum, default_value_t = HashScheme::Argon2id)]
        scheme: HashScheme,
    },
    /// Set a user's password, read from the first line of standard input.
    Passwd {
        #[arg(long, value_name = "FILE")]
        db: PathBuf,
        user: String,
        #[arg(long, value_enum, default_value_t = HashScheme::Argon2id)]
        scheme: HashScheme,
    },
    /// Delete a user.
    Del {
        #[arg(long, value_name = "FILE")]
        db: PathBuf,
        user: String,
    },
    /// List the users: name, active flag and display name, tab-separated.
    List {
        #[arg(long, value_name = "FILE")]
        db: PathBuf,
    },
}

/// Schemes new passwords are hashed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HashScheme {
    /// `{ARGON2ID}` (memory-hard; the default).
    Argon2id,
    /// `{BLF-CRYPT}` (bcrypt, cost 12).
    BlfCrypt,
}

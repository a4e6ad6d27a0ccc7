//! `isds-gateway fixtures load FILE`: adds a world fixture (the format of
//! `fixtures/demo-world.toml`) to a store, all or nothing.

use std::path::PathBuf;

use super::{CliError, StoreArgs, now, open_store, pretty};
use crate::domain::world;

#[derive(Debug, clap::Args)]
pub struct FixturesArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(subcommand)]
    pub command: FixturesCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum FixturesCommand {
    /// Add the boxes and users of a world fixture to the store. Nothing is
    /// written if any of them is invalid or already stored.
    Load {
        /// The TOML world fixture.
        file: PathBuf,
        /// Create the store if the data directory has none yet.
        #[arg(long)]
        init: bool,
    },
}

/// Runs one `fixtures` command.
pub fn run(args: FixturesArgs) -> Result<String, CliError> {
    match args.command {
        FixturesCommand::Load { file, init } => {
            let store = open_store(&args.store.data, init)?;
            let loaded = world::load_fixture_file(store.as_ref(), &file, now())?;
            if args.store.json {
                return Ok(pretty(&serde_json::json!({
                    "file": file.display().to_string(),
                    "boxes": loaded.boxes,
                    "users": loaded.users,
                })));
            }
            Ok(format!(
                "loaded {}: {} boxes, {} users\n",
                file.display(),
                loaded.boxes,
                loaded.users
            ))
        }
    }
}

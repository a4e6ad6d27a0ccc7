//! `isds-gateway fixtures load FILE`: adds a world fixture (the format of
//! `fixtures/demo-world.toml`) to a store, all or nothing.
//! `isds-gateway fixtures synth --boxes N`: adds a synthetic population
//! (see [`crate::domain::world::synth`]).

use std::path::PathBuf;

use super::{CliError, StoreArgs, now, open_store, pretty};
use crate::domain::{world, world::synth};

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
        /// Read files the fixture names by an absolute path too (by
        /// default every file must be inside the fixture's directory).
        #[arg(long)]
        allow_absolute_paths: bool,
    },
    /// Add a synthetic population of boxes (realistic Czech names,
    /// addresses, IČ, every box type), deterministic from the seed, each
    /// box with one primary user whose login is its user ID and whose
    /// password is the shared synthetic password. Creates the store if
    /// the data directory has none.
    Synth {
        /// How many boxes.
        #[arg(long)]
        boxes: u64,
        /// Seed of the population.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Boxes only, no users.
        #[arg(long)]
        no_users: bool,
        /// Boxes generated before they are written (per bulk write into a
        /// store that holds boxes already).
        #[arg(long, default_value_t = 10_000)]
        batch: usize,
    },
}

/// Runs one `fixtures` command.
pub fn run(args: FixturesArgs) -> Result<String, CliError> {
    match args.command {
        FixturesCommand::Load {
            file,
            init,
            allow_absolute_paths,
        } => {
            let store = open_store(&args.store.data, init)?;
            // Relative times read against the gateway's test clock, when
            // this data directory runs on one.
            let at =
                crate::domain::clock::stored_test_clock_now(store.as_ref()).unwrap_or_else(now);
            let loaded = world::load_fixture_file(store.as_ref(), &file, at, allow_absolute_paths)?;
            let already = loaded
                .already_loaded_at
                .map(crate::domain::clock::xml_datetime);
            if args.store.json {
                return Ok(pretty(&serde_json::json!({
                    "file": file.display().to_string(),
                    "boxes": loaded.boxes,
                    "users": loaded.users,
                    "messages": loaded.messages,
                    "already_loaded_at": already,
                })));
            }
            Ok(match already {
                Some(at) => format!(
                    "{} was loaded into this store already (at {at}); nothing added again\n",
                    file.display()
                ),
                None => format!(
                    "loaded {}: {} boxes, {} users, {} messages\n",
                    file.display(),
                    loaded.boxes,
                    loaded.users,
                    loaded.messages
                ),
            })
        }
        FixturesCommand::Synth {
            boxes,
            seed,
            no_users,
            batch,
        } => {
            let store = open_store(&args.store.data, true)?;
            let mut opts = synth::SynthOptions::new(boxes, seed, now());
            opts.users = !no_users;
            opts.batch_boxes = batch;
            // A bar with rate and ETA on a terminal; nothing when stderr is
            // not one (indicatif hides itself), so logs stay clean.
            let bar = indicatif::ProgressBar::new(boxes).with_style(
                indicatif::ProgressStyle::with_template(
                    "{elapsed_precise} [{wide_bar}] {pos}/{len} boxes, {per_sec}, ETA {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            let report = synth::generate(store.as_ref(), &opts, |done| bar.set_position(done));
            bar.finish_and_clear();
            let report = report?;
            let secs = report.elapsed.as_secs_f64();
            if args.store.json {
                let types: serde_json::Map<String, serde_json::Value> = report
                    .by_type
                    .iter()
                    .map(|(t, n)| (t.name().to_owned(), serde_json::json!(n)))
                    .collect();
                return Ok(pretty(&serde_json::json!({
                    "boxes": report.boxes,
                    "users": report.users,
                    "seed": seed,
                    "seconds": secs,
                    "by_type": types,
                    "password": opts.users.then_some(synth::SYNTH_PASSWORD),
                    "first_login": opts.users.then(|| synth::login_of(0, seed)),
                })));
            }
            let mut out = format!(
                "added {} boxes and {} users (seed {seed}) in {secs:.1} s\n",
                report.boxes, report.users
            );
            for (t, n) in report.by_type.iter().filter(|(_, n)| *n > 0) {
                out.push_str(&format!("  {:<13} {n}\n", t.name()));
            }
            if opts.users {
                out.push_str(&format!(
                    "users log in with their user ID and the synthetic password {}\n(e.g. {})\n",
                    synth::SYNTH_PASSWORD,
                    synth::login_of(0, seed)
                ));
            }
            Ok(out)
        }
    }
}

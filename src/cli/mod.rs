//! Administrative subcommands of the `isds-gateway` command that work on a
//! data directory directly (the server must not be running on it).

pub mod cert;

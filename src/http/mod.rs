//! The HTTP front end: listeners (plain and TLS), routing by path, and the
//! lifecycle of a running gateway.

mod admin;
mod body;
mod conn_watch;
pub mod faults;
mod handler;
mod health;
mod limits;
mod otp_login;
pub mod record;
pub mod routes;
mod server;

pub use server::{RunningGateway, ServeError, start, start_with_clock, start_with_test_clock};

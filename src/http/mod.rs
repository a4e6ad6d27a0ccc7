//! The HTTP front end: listeners (plain and TLS), routing by path, and the
//! lifecycle of a running gateway.

mod admin;
mod admin_mep;
mod app;
mod asws;
pub(crate) mod body;
mod cockpit;
mod conn_watch;
pub mod faults;
mod handler;
pub mod header_case;
mod health;
pub mod hosts;
mod limits;
mod mobile_key;
mod otp_login;
pub mod record;
mod request_body;
pub(crate) mod responses;
pub mod routes;
mod server;
mod vodz_request;

pub use server::{RunningGateway, ServeError, start, start_with_clock, start_with_test_clock};

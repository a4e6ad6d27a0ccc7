//! isds-gateway: a local, faithful stand-in for the SOAP interface of ISDS,
//! the Czech data-box system.
//!
//! Data flows one way: [`http`] (listeners, TLS, routing) → [`soap`]
//! (envelope, faults) → [`schema`] (types generated from `schemas/`) →
//! [`service`] (operation handlers) → [`domain`] → [`store`].

pub mod allocator;
pub mod auth;
pub mod cli;
pub mod config;
pub mod domain;
pub mod http;
pub(crate) mod large_buffers;
pub mod observe;
pub(crate) mod private_files;
pub mod replay;
pub mod schema;
pub mod service;
pub mod sign;
pub mod soap;
pub mod status;
pub mod store;
pub mod tls;
pub mod ui;
pub mod wsdl;
pub mod xml;

//! `isds-gateway cert …`: register client certificates for mutual-TLS
//! logins, authorise hosted providers, list and remove registrations.
//!
//! These commands open the store of a data directory themselves, so the
//! directory must not be in use by a running gateway (the store is locked
//! while it runs). Changes take effect at the gateway's next start.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::domain::boxes::certificates::{
    self, CertificateError, Fingerprint, Holder, InvalidFingerprint, Registration,
};
use crate::domain::boxes::repo::{self, RepoError};
use crate::domain::clock::xml_datetime;
use crate::domain::{BoxId, boxes::databox::InvalidBoxId};
use crate::store::{self, Store, StoreError};

/// `isds-gateway cert`.
#[derive(Debug, clap::Args)]
pub struct CertArgs {
    /// Data directory of a gateway that is not running.
    #[arg(
        long,
        env = "ISDS_GATEWAY_DATA",
        global = true,
        default_value = "./data"
    )]
    pub data: PathBuf,
    #[command(subcommand)]
    pub command: CertCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum CertCommand {
    /// Register a client certificate (PEM) to a user (commercial
    /// certificate, /certds), a box (system certificate, /cert) or a
    /// hosted provider (its system certificate, /hspis).
    Register(RegisterArgs),
    /// Record that a box authorised the hosted provider whose certificate
    /// is given (for /hspis).
    AuthorizeProvider {
        /// PEM file of a certificate registered with `--provider`.
        #[arg(long)]
        provider_cert: PathBuf,
        /// The box that authorises the provider.
        #[arg(long = "box", value_parser = parse_box_id)]
        box_id: BoxId,
    },
    /// Withdraw a box's authorisation of a hosted provider.
    RevokeProvider {
        /// The provider's name as registered.
        #[arg(long)]
        provider: String,
        #[arg(long = "box", value_parser = parse_box_id)]
        box_id: BoxId,
    },
    /// List registered certificates and provider authorisations.
    List,
    /// Remove a certificate registration.
    Remove {
        /// SHA-256 fingerprint of the certificate (hex, colons allowed).
        #[arg(long, value_parser = parse_fingerprint)]
        fingerprint: Fingerprint,
    },
}

#[derive(Debug, clap::Args)]
pub struct RegisterArgs {
    /// PEM file holding the certificate (the first CERTIFICATE block).
    #[arg(long)]
    pub file: PathBuf,
    #[command(flatten)]
    pub holder: HolderArgs,
}

/// Exactly one holder.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
pub struct HolderArgs {
    /// Login name of the user the commercial certificate belongs to.
    #[arg(long)]
    pub user: Option<String>,
    /// ID of the box the system certificate belongs to.
    #[arg(long = "box", value_parser = parse_box_id)]
    pub box_id: Option<BoxId>,
    /// Name of the hosted records-management provider.
    #[arg(long)]
    pub provider: Option<String>,
}

fn parse_box_id(s: &str) -> Result<BoxId, InvalidBoxId> {
    BoxId::parse(s)
}

fn parse_fingerprint(s: &str) -> Result<Fingerprint, InvalidFingerprint> {
    Fingerprint::parse(s)
}

/// A `cert` command failed.
#[derive(Debug, thiserror::Error)]
pub enum CertCliError {
    #[error(
        "no gateway store at {0} (start the gateway once with this data directory, or pass --data)"
    )]
    NoStore(PathBuf),
    #[error(
        "store {0} is in use: stop the gateway serving this data directory first (these commands need the store to themselves)"
    )]
    InUse(PathBuf),
    #[error(transparent)]
    Store(StoreError),
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error(transparent)]
    Certificate(#[from] CertificateError),
    #[error("say whom the certificate belongs to: --user, --box or --provider")]
    MissingHolder,
    #[error("no certificate with fingerprint {0} is registered")]
    NotRegistered(Fingerprint),
}

/// Runs a `cert` command; prints what it did on stdout.
pub fn run(args: CertArgs) -> Result<(), CertCliError> {
    let store = open_store(&args.data)?;
    let s = store.as_ref();
    match args.command {
        CertCommand::Register(r) => {
            let cert = certificates::read_pem_file(&r.file)?;
            let h = r.holder;
            let holder = match (h.user, h.box_id, h.provider) {
                (Some(login), _, _) => match repo::user_by_login(s, &login)? {
                    Some(user) => Holder::User { user: user.id },
                    None => return Err(CertificateError::NoSuchLogin(login).into()),
                },
                (None, Some(box_id), _) => Holder::Box { box_id },
                (None, None, Some(name)) => Holder::Provider { name },
                (None, None, None) => return Err(CertCliError::MissingHolder),
            };
            let registration = Registration::new(&cert, holder);
            certificates::register(s, &registration)?;
            println!("registered {}", describe(s, &registration)?);
        }
        CertCommand::AuthorizeProvider {
            provider_cert,
            box_id,
        } => {
            let cert = certificates::read_pem_file(&provider_cert)?;
            let fp = Fingerprint::of(&cert);
            let name = match certificates::lookup(s, &fp)? {
                Some(Registration {
                    holder: Holder::Provider { name },
                    ..
                }) => name,
                _ => return Err(CertificateError::NotAProvider(fp).into()),
            };
            certificates::authorise_provider(s, &name, &box_id)?;
            println!("box {box_id} authorised provider {name:?}");
        }
        CertCommand::RevokeProvider { provider, box_id } => {
            if certificates::revoke_provider(s, &provider, &box_id)? {
                println!("box {box_id} no longer authorises provider {provider:?}");
            } else {
                println!("box {box_id} had not authorised provider {provider:?}");
            }
        }
        CertCommand::List => {
            let all = certificates::list(s)?;
            if all.is_empty() {
                println!("no certificates registered");
            }
            for registration in &all {
                println!("{}", describe(s, registration)?);
            }
            for (name, box_id) in certificates::provider_authorisations(s)? {
                println!("provider {name:?} authorised by box {box_id}");
            }
        }
        CertCommand::Remove { fingerprint } => match certificates::unregister(s, &fingerprint)? {
            Some(registration) => println!("removed {}", describe(s, &registration)?),
            None => return Err(CertCliError::NotRegistered(fingerprint)),
        },
    }
    Ok(())
}

/// Opens the data directory's store, refusing to create one.
fn open_store(data: &Path) -> Result<Arc<dyn Store>, CertCliError> {
    let dir = data.join("store");
    if !dir.is_dir() {
        return Err(CertCliError::NoStore(dir));
    }
    store::open_sled(&dir).map_err(|e| match e {
        StoreError::Locked { path } => CertCliError::InUse(path),
        other => CertCliError::Store(other),
    })
}

/// One line about a registration: fingerprint, holder, validity, subject.
fn describe(store: &dyn Store, r: &Registration) -> Result<String, RepoError> {
    let holder = match &r.holder {
        Holder::User { user } => match repo::get_user(store, user)? {
            Some(u) => format!("user {} ({user})", u.login),
            None => format!("user {user} (missing)"),
        },
        other => other.to_string(),
    };
    Ok(format!(
        "{}  {holder}  valid {} .. {}  subject {:?}",
        r.fingerprint,
        xml_datetime(r.not_before),
        xml_datetime(r.not_after),
        r.subject
    ))
}

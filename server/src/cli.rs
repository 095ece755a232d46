//! The command line: `serve` (default), `migrate`, `create-user`, `demo-data`, `sandbox`.

use std::io::{BufRead, IsTerminal};
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use settle::account::{Email, NewUser, Password, Role, User};
use settle::customer::Customer;
use settle::merchant::Merchant;

use crate::config::Config;

/// Settle: payment orchestration server.
#[derive(Debug, Parser)]
#[command(name = "settle-server", version, about)]
pub struct Cli {
    /// TOML configuration file (default: `settle.toml` if present).
    #[arg(long, env = "SETTLE_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve HTTP until SIGTERM or Ctrl-C.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Create a login. The password is read from SETTLE_NEW_USER_PASSWORD or, if unset, from the
    /// first line of standard input (never from an argument, which would land in shell history).
    CreateUser {
        /// customer, admin, operator or merchant_api (a merchant system's API login; needs
        /// --merchant).
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// The login email.
        #[arg(long)]
        email: String,
        /// Display name (defaults to the email).
        #[arg(long)]
        name: Option<String>,
        /// For customers: the customer code merchants know them by (default: generated).
        #[arg(long)]
        customer_code: Option<String>,
        /// For merchant_api logins: the OAuth2 client id of the merchant it belongs to.
        #[arg(long)]
        merchant: Option<String>,
    },
    /// Load the demo world into an empty database.
    DemoData,
    /// Serve only the sandbox gateways, under /sandbox, as a process of their own (point a
    /// server's `sandbox_url` at it). Signs notifications with `sandbox_signing_secret`.
    Sandbox {
        /// Address and port to listen on.
        #[arg(long, default_value = crate::sandbox::standalone::DEFAULT_BIND)]
        bind: SocketAddr,
        /// The URL browsers and Settle reach this sandbox at (default: http://{bind}); hosted
        /// pages and the 3-D Secure ACS are under {public_url}/sandbox.
        #[arg(long)]
        public_url: Option<String>,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse().map_err(|e: settle::FieldError| e.message)
}

/// Runs the command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load(cli.config.as_deref())?;
    crate::telemetry::init(&config);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => crate::serve(config).await,
        Command::Migrate => {
            let db = settle::Db::connect(&config.database_url(), 1).await?;
            db.migrate().await?;
            println!("migrations applied: {:?}", db.applied_migrations().await?);
            Ok(())
        }
        Command::CreateUser { role, email, name, customer_code, merchant } => {
            let db = settle::Db::connect(&config.database_url(), 1).await?;
            db.migrate().await?;
            let email = Email::parse(&email)?;
            let name = name.unwrap_or_else(|| email.to_string());
            if role == Role::MerchantApi {
                let client_id =
                    merchant.context("a merchant_api login needs --merchant CLIENT_ID")?;
                let merchant = Merchant::by_client_id(&db, &client_id)
                    .await?
                    .with_context(|| format!("no merchant has the client id {client_id}"))?;
                let password = Password::new_secret(read_password()?)?;
                let user =
                    User::create_for_merchant(&db, &merchant.id, email, &name, password).await?;
                println!(
                    "created {} {} for {} ({})",
                    user.role, user.email, merchant.name, user.id
                );
                return Ok(());
            }
            let password = Password::new_secret(read_password()?)?;
            let customer_id = match role {
                Role::Customer => {
                    let code = customer_code.unwrap_or_else(|| {
                        format!("CUST-{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
                    });
                    Some(Customer::create(&db, &code, &name, Some(email.as_str()), None).await?.id)
                }
                _ => None,
            };
            let user = User::create(
                &db,
                NewUser { email, display_name: name, role, password, customer_id },
            )
            .await?;
            println!("created {} {} ({})", user.role, user.email, user.id);
            Ok(())
        }
        Command::Sandbox { bind, public_url } => {
            crate::sandbox::standalone::serve(config, bind, public_url).await
        }
        Command::DemoData => {
            let db = settle::Db::connect(&config.database_url(), 1).await?;
            db.migrate().await?;
            settle::demo::load(&db).await?;
            println!("demo data loaded");
            Ok(())
        }
    }
}

fn read_password() -> anyhow::Result<String> {
    if let Ok(password) = std::env::var("SETTLE_NEW_USER_PASSWORD") {
        return Ok(password);
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("Password: ");
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line).context("reading the password from standard input")?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    if password.is_empty() {
        bail!("no password given: set SETTLE_NEW_USER_PASSWORD or pipe it on standard input");
    }
    Ok(password)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sandbox_takes_its_own_address_and_public_url() {
        let cli =
            Cli::try_parse_from(["settle-server", "sandbox"]).unwrap_or_else(|e| panic!("{e}"));
        match cli.command {
            Some(Command::Sandbox { bind, public_url: None }) => {
                assert_eq!(bind.to_string(), "127.0.0.1:3100")
            }
            other => panic!("{other:?}"),
        }
        let cli = Cli::try_parse_from([
            "settle-server",
            "sandbox",
            "--bind",
            "127.0.0.1:4100",
            "--public-url",
            "http://sandbox.test:4100",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        match cli.command {
            Some(Command::Sandbox { bind, public_url: Some(url) }) => {
                assert_eq!((bind.port(), url.as_str()), (4100, "http://sandbox.test:4100"))
            }
            other => panic!("{other:?}"),
        }
    }
}

//! The command line: `serve` (default), `migrate`, `create-user`, `demo-data`.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use settle::account::{Email, NewUser, Password, Role, User};
use settle::customer::Customer;

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
        /// customer, admin or operator.
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
    },
    /// Load the demo world into an empty database.
    DemoData,
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
        Command::CreateUser { role, email, name, customer_code } => {
            let db = settle::Db::connect(&config.database_url(), 1).await?;
            db.migrate().await?;
            let email = Email::parse(&email)?;
            let password = Password::new_secret(read_password()?)?;
            let name = name.unwrap_or_else(|| email.to_string());
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

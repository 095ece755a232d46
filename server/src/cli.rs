//! The command line: `serve` (default), `migrate`, `create-user`, `demo-data`, `sandbox`,
//! `merchant webhook set|rotate|show`, `billing run-collection`.

use std::io::{BufRead, IsTerminal};
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use settle::account::Role;
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
    /// Create a login (audited as the command line). The password is read from
    /// SETTLE_NEW_USER_PASSWORD or, if unset, asked at the terminal without echo, or read from
    /// the first line of standard input (never from an argument, which would land in shell
    /// history).
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
    DemoData {
        /// Empty the database first (every table is dropped and the migrations run again),
        /// then load the demo world: a fresh demo. Stop the servers using the database first.
        #[arg(long)]
        reset: bool,
        /// Let --reset empty a database in production mode too.
        #[arg(long, requires = "reset")]
        force: bool,
    },
    /// Manage a merchant (its webhook endpoint).
    Merchant {
        /// What to do.
        #[command(subcommand)]
        command: MerchantCommand,
    },
    /// Billing jobs run on demand (the job runner runs them on its own schedule).
    Billing {
        /// What to run.
        #[command(subcommand)]
        command: BillingCommand,
    },
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

/// `billing …` subcommands.
#[derive(Debug, Subcommand)]
pub enum BillingCommand {
    /// Runs a collection day: raises and collects the month's purchase of every recurring
    /// service collected that day (the same function as the job; running a day twice charges
    /// no one twice). The gateways must be reachable (the server's sandbox, when it is used).
    RunCollection {
        /// The day (UTC), YYYY-MM-DD; default today.
        #[arg(long)]
        date: Option<chrono::NaiveDate>,
    },
}

/// `merchant …` subcommands.
#[derive(Debug, Subcommand)]
pub enum MerchantCommand {
    /// A merchant's webhook endpoint.
    Webhook {
        /// What to do with it.
        #[command(subcommand)]
        command: WebhookCommand,
    },
}

/// `merchant webhook …` subcommands.
#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// Sets the endpoint's URL (and event types); a new endpoint's secret is printed once.
    Set {
        /// The merchant's OAuth2 client id (the demo merchant's is `invoice-system-client`).
        #[arg(long)]
        client_id: String,
        /// Where webhooks are POSTed.
        #[arg(long)]
        url: String,
        /// Event types to receive (repeat or comma-separate); default: keep, or all when new.
        #[arg(long, value_delimiter = ',', num_args = 1..)]
        events: Option<Vec<String>>,
    },
    /// Makes a new signing secret and prints it once; the old one keeps signing for
    /// `webhook_secret_overlap_hours`.
    Rotate {
        /// The merchant's OAuth2 client id.
        #[arg(long)]
        client_id: String,
    },
    /// Prints the endpoint (not its secret) and its latest deliveries.
    Show {
        /// The merchant's OAuth2 client id.
        #[arg(long)]
        client_id: String,
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
            let db = crate::connect_database(&config, 1).await?;
            println!("migrations applied: {:?}", db.applied_migrations().await?);
            Ok(())
        }
        Command::CreateUser { role, email, name, customer_code, merchant } => {
            let db = crate::connect_database(&config, 1).await?;
            create_user(&db, role, email, name, customer_code, merchant).await
        }
        Command::Sandbox { bind, public_url } => {
            crate::sandbox::standalone::serve(config, bind, public_url).await
        }
        Command::Merchant { command: MerchantCommand::Webhook { command } } => {
            let db = crate::connect_database(&config, 1).await?;
            webhook(&db, &config, command).await
        }
        Command::Billing { command: BillingCommand::RunCollection { date } } => {
            let db = crate::connect_database(&config, 2).await?;
            let payments = crate::orchestrator(&config, &db).await?;
            let date = date.unwrap_or_else(|| chrono::Utc::now().date_naive());
            let report =
                settle::billing::collection_day::run_collection_day(&payments, date).await?;
            println!("collection day {date}: {}", serde_json::to_string(&report)?);
            Ok(())
        }
        Command::DemoData { reset: false, .. } => {
            let db = crate::connect_database(&config, 1).await?;
            settle::demo::load(&db).await?;
            println!("demo data loaded");
            Ok(())
        }
        Command::DemoData { reset: true, force } => {
            if config.mode == crate::config::Mode::Production && !force {
                bail!(
                    "demo-data --reset empties the whole database; in production mode it needs --force too"
                );
            }
            let db = crate::connect_database(&config, 1).await?;
            settle::demo::reset(&db).await?;
            println!("database emptied; demo data loaded");
            Ok(())
        }
    }
}

/// `create-user`: opens an account through the same core use case as the operator's users page,
/// audited as the command line.
async fn create_user(
    db: &settle::Db,
    role: Role,
    email: String,
    name: Option<String>,
    customer_code: Option<String>,
    merchant: Option<String>,
) -> anyhow::Result<()> {
    use settle::account::manage;
    let actor = settle::audit::Actor::command_line();
    let created = if role == Role::MerchantApi {
        let client_id = merchant.context("a merchant_api login needs --merchant CLIENT_ID")?;
        let merchant = Merchant::by_client_id(db, &client_id)
            .await?
            .with_context(|| format!("no merchant has the client id {client_id}"))?;
        let name = name.unwrap_or_default();
        manage::create_merchant_api_user(db, &actor, &merchant, &email, &name, read_password()?)
            .await
    } else {
        let entry = manage::UserEntry {
            role: role.as_str().to_owned(),
            email,
            display_name: name.unwrap_or_default(),
            password: read_password()?,
            customer_code: customer_code.unwrap_or_default(),
        };
        manage::create_user(db, &actor, entry).await
    };
    match created {
        Ok(user) => {
            println!("created {} {} ({})", user.role, user.email, user.id);
            Ok(())
        }
        Err(settle::Error::Validation(errors)) => {
            let lines: Vec<String> =
                errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect();
            bail!("the account was not created:\n  {}", lines.join("\n  "))
        }
        Err(e) => Err(e.into()),
    }
}

/// Runs a `merchant webhook` subcommand; what it prints is for people, not scripts.
async fn webhook(db: &settle::Db, config: &Config, command: WebhookCommand) -> anyhow::Result<()> {
    use settle::merchant::Merchant;
    use settle::webhook::{Endpoint, Saved, delivery};
    let merchant = |client_id: String| async move {
        Merchant::by_client_id(db, &client_id)
            .await?
            .with_context(|| format!("no merchant has client id {client_id}"))
    };
    let print = |endpoint: &Endpoint| {
        println!("url:         {}", endpoint.url);
        let types: Vec<_> = endpoint.receives().iter().map(|t| t.as_str()).collect();
        println!("event types: {}", types.join(", "));
        println!(
            "status:      {} ({} failed attempts in a row)",
            endpoint.status, endpoint.consecutive_failures
        );
        if let Some(until) = endpoint.previous_expires_at.filter(|t| *t > chrono::Utc::now()) {
            println!("previous secret signs too until {until}");
        }
    };
    let print_secret = |saved: &Saved| {
        if let Some(secret) = &saved.new_secret {
            println!(
                "secret:      {}  (shown once: configure your verifier with it now)",
                secret.expose()
            );
        }
    };
    match command {
        WebhookCommand::Set { client_id, url, events } => {
            let merchant = merchant(client_id).await?;
            let saved = Endpoint::set(db, &merchant.id, &url, events.as_deref()).await?;
            print(&saved.endpoint);
            print_secret(&saved);
        }
        WebhookCommand::Rotate { client_id } => {
            let merchant = merchant(client_id).await?;
            let saved = Endpoint::rotate(db, &merchant.id, config.webhook_secret_overlap()).await?;
            print(&saved.endpoint);
            print_secret(&saved);
        }
        WebhookCommand::Show { client_id } => {
            let merchant = merchant(client_id).await?;
            let endpoint = Endpoint::find(db, &merchant.id)
                .await?
                .with_context(|| format!("{} has no webhook endpoint", merchant.client_id))?;
            print(&endpoint);
            for a in delivery::attempts_for(db, &merchant.id, 20).await? {
                println!(
                    "{}  event {} {} attempt {}: {} {} {} ({} ms, {} left)",
                    a.attempted_at.format("%Y-%m-%d %H:%M:%S"),
                    a.event_id,
                    a.kind,
                    a.attempt,
                    a.status_code.map(|c| c.to_string()).unwrap_or_else(|| "-".into()),
                    a.invocation,
                    a.invocation_status.or(a.sync_error).unwrap_or_default(),
                    a.duration_ms,
                    a.pending_webhooks,
                );
            }
        }
    }
    Ok(())
}

fn read_password() -> anyhow::Result<String> {
    if let Ok(password) = std::env::var("SETTLE_NEW_USER_PASSWORD") {
        return Ok(password);
    }
    let stdin = std::io::stdin();
    let password = if stdin.is_terminal() {
        // At a terminal: asked twice, never echoed.
        let first = rpassword::prompt_password("Password: ").context("reading the password")?;
        let again =
            rpassword::prompt_password("Password again: ").context("reading the password")?;
        if first != again {
            bail!("the two passwords differ; nothing was created");
        }
        first
    } else {
        let mut line = String::new();
        stdin.lock().read_line(&mut line).context("reading the password from standard input")?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    if password.is_empty() {
        bail!("no password given: set SETTLE_NEW_USER_PASSWORD or pipe it on standard input");
    }
    Ok(password)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merchant_webhook_set_takes_a_client_id_url_and_events() {
        let cli = Cli::try_parse_from([
            "settle-server",
            "merchant",
            "webhook",
            "set",
            "--client-id",
            "invoice-system-client",
            "--url",
            "http://127.0.0.1:9000/hooks",
            "--events",
            "invoice.payment_executed,payment.succeeded",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        match cli.command {
            Some(Command::Merchant {
                command:
                    MerchantCommand::Webhook {
                        command: WebhookCommand::Set { client_id, url, events: Some(events) },
                    },
            }) => {
                assert_eq!(client_id, "invoice-system-client");
                assert_eq!(url, "http://127.0.0.1:9000/hooks");
                assert_eq!(events, ["invoice.payment_executed", "payment.succeeded"]);
            }
            other => panic!("{other:?}"),
        }
    }

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

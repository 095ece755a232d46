//! Configuration: defaults, then an optional TOML file, then `SETTLE_*` environment variables
//! (and `DATABASE_URL`). Every setting is listed in the README with its default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use url::Url;

/// Development loads demo data and mounts the sandbox gateways; production does neither unless
/// told to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Local use: demo data, sandbox, plain-HTTP cookies.
    Development,
    /// Real deployments.
    Production,
}

/// Log line format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

/// Every setting of the server. Field names are the TOML keys; the environment variable is the
/// name upper-cased with a `SETTLE_` prefix. A key that is none of these stops the server at
/// start (a misspelt setting would otherwise be silently ignored).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `development` or `production`.
    pub mode: Mode,
    /// Address and port to listen on.
    pub bind: SocketAddr,
    /// `sqlite:` or `postgres:` URL; empty means `settle.db` in the working directory.
    pub database_url: String,
    /// Connections in the database pool.
    pub database_max_connections: u32,
    /// The URL customers and gateways reach this server at; empty means `http://{bind}`.
    pub public_url: String,
    /// Mount the sandbox gateways; empty means on in development, off in production.
    pub sandbox: Option<bool>,
    /// Where gateways without a `base_url` of their own find the sandbox providers; empty means
    /// `{public_url}/sandbox` (this server's own sandbox). Point it at a `settle-server sandbox`
    /// process to use one outside the server.
    pub sandbox_url: String,
    /// The HMAC key sandbox notifications are signed with and sandbox-bound gateways verify.
    /// Empty means the built-in development key in development, and in production a random key
    /// made at start (so no key that is in the source is ever trusted in production).
    pub sandbox_signing_secret: Option<String>,
    /// Whether `sandbox_signing_secret` was made at start rather than set (production only).
    #[serde(skip)]
    generated_sandbox_signing_secret: bool,
    /// Faults the sandbox providers start with, by provider (`hosted-checkout`, `card`, `bank`,
    /// `apple-pay`); `/sandbox/faults/{provider}` changes them at run time.
    pub sandbox_faults: std::collections::BTreeMap<String, crate::sandbox::faults::FaultConfig>,
    /// Load the demo world into an empty database at start; empty means on in development.
    pub demo_data: Option<bool>,
    /// Mark cookies `Secure`; empty means on in production.
    pub secure_cookies: Option<bool>,
    /// Minutes of inactivity after which a login session ends.
    pub session_idle_minutes: i64,
    /// Lifetime of API bearer tokens, in seconds.
    pub token_ttl_seconds: i64,
    /// Failed logins per account within the window before it is locked.
    pub login_max_failures_per_account: i64,
    /// Failed logins per client address within the window before it is locked.
    pub login_max_failures_per_client: i64,
    /// The login throttle window, in minutes.
    pub login_window_minutes: i64,
    /// Take the client address from `X-Forwarded-For` (only behind a proxy that sets it).
    pub trust_forwarded_for: bool,
    /// Origins besides this server and the card gateways whose pages may load in the 3-D Secure
    /// challenge frame (issuers' ACS hosts), e.g. `https://acs.bank.example`.
    pub frame_origins: Vec<String>,
    /// How often each instance looks for unsettled payments that are due to be asked about, in
    /// seconds (a cheap indexed query).
    pub reconcile_interval_seconds: u64,
    /// Seconds to wait before each ask about an unsettled payment, from when it entered its
    /// state; the last wait repeats until its gateway settles it.
    pub reconcile_schedule_seconds: Vec<u64>,
    /// Minutes after which a payment still waiting for its customer (a hosted page, a 3-D Secure
    /// challenge) is given up; payments that may have been charged are never given up.
    pub reconcile_give_up_minutes: u64,
    /// Seconds to wait before each retry of a merchant webhook that failed; the first attempt is
    /// immediate, so attempts in all = 1 + the number of waits.
    pub webhook_retry_seconds: Vec<u64>,
    /// Seconds a merchant's webhook endpoint has to answer before the attempt counts as no
    /// response (`SYNCH_UNAVAILABLE`).
    pub webhook_timeout_seconds: u64,
    /// Hours a rotated-out webhook signing secret keeps signing next to the new one.
    pub webhook_secret_overlap_hours: u64,
    /// Background job workers per instance (webhook deliveries, refunds, notices), so a slow
    /// merchant endpoint holds up one worker, not the others.
    pub job_workers: u32,
    /// How often the recurring collection day runs, in minutes (each run collects the services
    /// due that day and not yet collected; 0 turns the job off, e.g. in tests, which run it on
    /// demand with `settle-server billing run-collection`).
    pub collection_day_interval_minutes: u64,
    /// Log filter (`tracing` env-filter syntax).
    pub log: String,
    /// `text` or `json`.
    pub log_format: LogFormat,
    /// The bearer token `/metrics` asks for in production; without one, production answers
    /// `/metrics` to loopback clients only. Development answers everyone.
    pub metrics_token: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            mode: Mode::Development,
            bind: SocketAddr::from(([127, 0, 0, 1], 3000)),
            database_url: String::new(),
            database_max_connections: 10,
            public_url: String::new(),
            sandbox: None,
            sandbox_url: String::new(),
            sandbox_signing_secret: None,
            generated_sandbox_signing_secret: false,
            sandbox_faults: Default::default(),
            demo_data: None,
            secure_cookies: None,
            session_idle_minutes: 12 * 60,
            token_ttl_seconds: 3600,
            login_max_failures_per_account: 5,
            login_max_failures_per_client: 20,
            login_window_minutes: 15,
            trust_forwarded_for: false,
            frame_origins: Vec::new(),
            reconcile_interval_seconds: 1,
            reconcile_schedule_seconds: vec![5, 30, 120, 600, 3600],
            reconcile_give_up_minutes: 24 * 60,
            webhook_retry_seconds: settle::webhook::schedule::DEFAULT_RETRY_SECONDS.to_vec(),
            webhook_timeout_seconds: 10,
            webhook_secret_overlap_hours: 24,
            job_workers: 4,
            collection_day_interval_minutes: 60,
            log: "info,settle=debug,settle_server=debug,settle_app=debug".into(),
            log_format: LogFormat::Text,
            metrics_token: None,
        }
    }
}

/// A setting that stops the server at start, named so the operator knows what to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The sources could not be read or a value has the wrong type. (Not a `#[source]`:
    /// figment's message already says everything, and error chains would print it twice.)
    #[error("configuration error: {0}")]
    Load(Box<figment::Error>),
    /// A key that is no setting (in the file, or a `SETTLE_` variable that isn't ignored).
    #[error(
        "configuration error: unknown setting `{key}` (from {origin}); the settings are listed in the README, \"Configuration\""
    )]
    Unknown {
        /// The key as the configuration named it.
        key: String,
        /// Where it came from: the environment variable or the file.
        origin: String,
    },
    /// A value has the right type but is not usable.
    #[error("configuration error: setting `{setting}` {problem}")]
    Invalid {
        /// The setting's name.
        setting: &'static str,
        /// What is wrong with it.
        problem: String,
    },
}

impl Config {
    /// The webhook retry schedule (validated at load).
    pub fn webhook_schedule(&self) -> settle::webhook::Schedule {
        settle::webhook::Schedule::from_seconds(&self.webhook_retry_seconds).unwrap_or_default()
    }

    /// How long a rotated-out webhook secret keeps signing.
    pub fn webhook_secret_overlap(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.webhook_secret_overlap_hours.saturating_mul(3600))
    }

    /// Reads the configuration: defaults, then `file` (or `settle.toml` if it exists), then the
    /// environment.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) => {
                if !path.exists() {
                    return Err(ConfigError::Invalid {
                        setting: "--config",
                        problem: format!("names {}, which does not exist", path.display()),
                    });
                }
                figment = figment.merge(Toml::file(path));
            }
            None => figment = figment.merge(Toml::file("settle.toml")),
        }
        figment = figment
            .merge(Env::prefixed("SETTLE_").filter(|key| is_setting_variable(key.as_str())))
            .merge(Env::raw().only(&["DATABASE_URL"]).map(|_| "database_url".into()));
        Config::from_figment(figment)
    }

    /// Extracts and checks a configuration (tests build theirs from defaults and overrides).
    /// In production without a `sandbox_signing_secret`, a random one is made here, once, so
    /// the sandbox and the connectors of this process share it.
    pub fn from_figment(figment: Figment) -> Result<Config, ConfigError> {
        let mut config: Config = figment.extract().map_err(|e| match e.kind {
            figment::error::Kind::UnknownField(key, _) => {
                let variable = format!("SETTLE_{}", key.to_ascii_uppercase());
                let origin = match std::env::var_os(&variable) {
                    Some(_) => format!("the environment variable {variable}"),
                    None => "the configuration file".to_owned(),
                };
                ConfigError::Unknown { key, origin }
            }
            _ => ConfigError::Load(Box::new(e)),
        })?;
        config.validate()?;
        if config.sandbox_signing_secret.is_none() && config.mode == Mode::Production {
            config.sandbox_signing_secret = Some(random_key());
            config.generated_sandbox_signing_secret = true;
        }
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |setting, problem: &str| {
            Err(ConfigError::Invalid { setting, problem: problem.to_owned() })
        };
        if !self.database_url.is_empty()
            && settle::db::Backend::of_url(&self.database_url).is_none()
        {
            return invalid("database_url", "must start with sqlite: or postgres:");
        }
        if !self.public_url.is_empty() {
            match Url::parse(&self.public_url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                _ => return invalid("public_url", "must be an absolute http(s) URL"),
            }
        }
        for origin in &self.frame_origins {
            if origin_of(origin).is_none() {
                return Err(ConfigError::Invalid {
                    setting: "frame_origins",
                    problem: format!(
                        "has {origin:?}, which is not an http(s) origin such as https://acs.bank.example"
                    ),
                });
            }
        }
        if !self.sandbox_url.is_empty() {
            match Url::parse(&self.sandbox_url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                _ => return invalid("sandbox_url", "must be an absolute http(s) URL"),
            }
        }
        match self.sandbox_signing_secret.as_deref() {
            Some(key) if key.trim().is_empty() => {
                return invalid("sandbox_signing_secret", "must not be empty");
            }
            Some(settle::connector::SANDBOX_SIGNING_SECRET) if self.mode == Mode::Production => {
                return invalid(
                    "sandbox_signing_secret",
                    "must not be the built-in development key in production",
                );
            }
            _ => {}
        }
        if self.database_max_connections == 0 {
            return invalid("database_max_connections", "must be at least 1");
        }
        for (provider, faults) in &self.sandbox_faults {
            if let Err(problem) = faults.validate() {
                return Err(ConfigError::Invalid {
                    setting: "sandbox_faults",
                    problem: format!("for {provider}: {problem}"),
                });
            }
        }
        if self.reconcile_interval_seconds == 0 {
            return invalid("reconcile_interval_seconds", "must be at least 1");
        }
        if self.reconcile_schedule_seconds.is_empty()
            || self.reconcile_schedule_seconds.contains(&0)
        {
            return invalid(
                "reconcile_schedule_seconds",
                "must list at least one wait, each at least 1 second (e.g. [5, 30, 120, 600, 3600])",
            );
        }
        if let Err(e) = settle::webhook::Schedule::from_seconds(&self.webhook_retry_seconds) {
            return invalid("webhook_retry_seconds", &e.to_string());
        }
        if self.webhook_timeout_seconds == 0 {
            return invalid("webhook_timeout_seconds", "must be at least 1");
        }
        if self.job_workers == 0 || self.job_workers > 64 {
            return invalid("job_workers", "must be between 1 and 64");
        }
        if self.reconcile_give_up_minutes == 0 {
            return invalid("reconcile_give_up_minutes", "must be at least 1");
        }
        for (setting, value) in [
            ("session_idle_minutes", self.session_idle_minutes),
            ("token_ttl_seconds", self.token_ttl_seconds),
            ("login_max_failures_per_account", self.login_max_failures_per_account),
            ("login_max_failures_per_client", self.login_max_failures_per_client),
            ("login_window_minutes", self.login_window_minutes),
        ] {
            if value <= 0 {
                return invalid(setting, "must be a positive number");
            }
        }
        if self.metrics_token.as_deref().is_some_and(|t| t.trim().len() < 16) {
            return invalid("metrics_token", "must be at least 16 characters");
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log).is_err() {
            return invalid("log", "is not a valid log filter (for example `info,settle=debug`)");
        }
        Ok(())
    }

    /// The database URL in use.
    pub fn database_url(&self) -> String {
        if !self.database_url.is_empty() {
            return self.database_url.clone();
        }
        // The working directory, like `settle.toml`: never the build's `target/` (which
        // `cargo clean` empties), as the binary's own directory would be under `cargo run`.
        let dir = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        format!("sqlite://{}", dir.join("settle.db").display())
    }

    /// The absolute path of the SQLite file in use (`None` on PostgreSQL or in memory).
    pub fn sqlite_file(&self) -> Option<PathBuf> {
        let url = self.database_url();
        let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
        let path = rest.split('?').next().unwrap_or_default();
        if path.is_empty() || path == ":memory:" {
            return None;
        }
        std::path::absolute(path).ok()
    }

    /// The public base URL, without a trailing slash.
    pub fn public_url(&self) -> String {
        if self.public_url.is_empty() {
            format!("http://{}", self.bind)
        } else {
            self.public_url.trim_end_matches('/').to_owned()
        }
    }

    /// The `frame_origins` setting as origins (`https://host[:port]`).
    pub fn frame_origins(&self) -> Vec<String> {
        self.frame_origins.iter().filter_map(|o| origin_of(o)).collect()
    }

    /// Where gateways without a `base_url` find the sandbox providers, without a trailing slash.
    pub fn sandbox_url(&self) -> String {
        if self.sandbox_url.is_empty() {
            format!("{}/sandbox", self.public_url())
        } else {
            self.sandbox_url.trim_end_matches('/').to_owned()
        }
    }

    /// The key sandbox notifications are signed and verified with (see
    /// [`Config::from_figment`] for production's random default).
    pub fn sandbox_signing_secret(&self) -> &str {
        self.sandbox_signing_secret.as_deref().unwrap_or(settle::connector::SANDBOX_SIGNING_SECRET)
    }

    /// Whether the sandbox key was made at start (production without `sandbox_signing_secret`):
    /// then no other process can know it, and an external sandbox's notifications are refused.
    pub fn sandbox_signing_secret_is_generated(&self) -> bool {
        self.generated_sandbox_signing_secret
    }

    /// Whether the sandbox gateways are mounted.
    pub fn sandbox_enabled(&self) -> bool {
        self.sandbox.unwrap_or(self.mode == Mode::Development)
    }

    /// Whether demo data loads into an empty database.
    pub fn demo_data_enabled(&self) -> bool {
        self.demo_data.unwrap_or(self.mode == Mode::Development)
    }

    /// Whether cookies carry the `Secure` flag.
    pub fn secure_cookies(&self) -> bool {
        self.secure_cookies.unwrap_or(self.mode == Mode::Production)
    }

    /// The login throttle this configuration describes.
    pub fn throttle_policy(&self) -> settle::account::throttle::ThrottlePolicy {
        settle::account::throttle::ThrottlePolicy {
            per_account: self.login_max_failures_per_account,
            per_client: self.login_max_failures_per_client,
            window: chrono::Duration::minutes(self.login_window_minutes),
        }
    }
}

/// Whether `SETTLE_{name}` is meant as a setting. The test and benchmark harnesses' variables
/// (`SETTLE_TEST_…`, `SETTLE_BENCH_…`), `SETTLE_CONFIG` (the file itself), `create-user`'s
/// `SETTLE_NEW_USER_PASSWORD` and the browser tests' `SETTLE_BASE_URL` are not; every other
/// `SETTLE_` variable must name a setting.
fn is_setting_variable(name: &str) -> bool {
    let name = name.to_ascii_uppercase();
    let other = ["CONFIG", "NEW_USER_PASSWORD", "BASE_URL"];
    !(other.contains(&name.as_str()) || name.starts_with("TEST_") || name.starts_with("BENCH_"))
}

/// The origin of an http(s) URL that names nothing but an origin (no path, query or fragment).
pub fn origin_of(text: &str) -> Option<String> {
    let url = Url::parse(text.trim()).ok()?;
    let bare = url.path() == "/" && url.query().is_none() && url.fragment().is_none();
    let plain = url.username().is_empty() && url.password().is_none();
    (matches!(url.scheme(), "http" | "https") && url.has_host() && bare && plain)
        .then(|| url.origin().ascii_serialization())
}

/// 256 random bits, URL-safe base64.
fn random_key() -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(toml: &str) -> Result<Config, ConfigError> {
        Config::from_figment(
            Figment::from(Serialized::defaults(Config::default())).merge(Toml::string(toml)),
        )
    }

    #[test]
    fn defaults_are_a_local_development_server() {
        let c = with("").unwrap();
        assert_eq!(c.bind.to_string(), "127.0.0.1:3000");
        assert!(c.sandbox_enabled() && c.demo_data_enabled() && !c.secure_cookies());
        assert!(
            c.database_url().starts_with("sqlite://") && c.database_url().ends_with("settle.db")
        );
    }

    #[test]
    fn production_turns_off_the_sandbox_and_demo_data_unless_asked() {
        let c = with("mode = 'production'").unwrap();
        assert!(!c.sandbox_enabled() && !c.demo_data_enabled() && c.secure_cookies());
        let c = with("mode = 'production'\nsandbox = true").unwrap();
        assert!(c.sandbox_enabled());
    }

    #[test]
    fn sandbox_url_defaults_to_the_in_process_sandbox() {
        let c = with("public_url = 'https://pay.example/'").unwrap();
        assert_eq!(c.sandbox_url(), "https://pay.example/sandbox");
        let c = with("sandbox = false\nsandbox_url = 'http://127.0.0.1:3100/sandbox/'").unwrap();
        assert_eq!(c.sandbox_url(), "http://127.0.0.1:3100/sandbox");
    }

    #[test]
    fn the_development_sandbox_key_is_never_trusted_in_production() {
        use settle::connector::SANDBOX_SIGNING_SECRET;
        assert_eq!(with("").unwrap().sandbox_signing_secret(), SANDBOX_SIGNING_SECRET);
        let a = with("mode = 'production'").unwrap();
        let b = with("mode = 'production'").unwrap();
        assert_ne!(a.sandbox_signing_secret(), SANDBOX_SIGNING_SECRET);
        assert!(a.sandbox_signing_secret().len() >= 40);
        assert_ne!(a.sandbox_signing_secret(), b.sandbox_signing_secret(), "made at each start");
        assert!(a.sandbox_signing_secret_is_generated());
        let set = with("mode = 'production'\nsandbox_signing_secret = 'k3y'").unwrap();
        assert_eq!(set.sandbox_signing_secret(), "k3y");
        assert!(!set.sandbox_signing_secret_is_generated());
        let err = with(&format!(
            "mode = 'production'\nsandbox_signing_secret = '{SANDBOX_SIGNING_SECRET}'"
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("sandbox_signing_secret"), "{err}");
    }

    #[test]
    fn sandbox_faults_come_from_the_file() {
        let c = with("[sandbox_faults.card]\nerror_rate = 0.25\nseed = 7").unwrap();
        assert_eq!(c.sandbox_faults["card"].error_rate, 0.25);
        let err = with("[sandbox_faults.card]\nerror_rate = 2.0").unwrap_err().to_string();
        assert!(err.contains("sandbox_faults") && err.contains("error_rate"), "{err}");
    }

    #[test]
    fn frame_origins_are_origins() {
        let c =
            with("frame_origins = ['https://acs.bank.example', 'https://ACS.other.example:8443/']")
                .unwrap();
        assert_eq!(
            c.frame_origins(),
            ["https://acs.bank.example", "https://acs.other.example:8443"]
        );
        for bad in [
            "'acs.bank.example'",
            "'https://acs.bank.example/path'",
            "'javascript:alert(1)'",
            "\"https://a.example; script-src *\"",
        ] {
            let err = with(&format!("frame_origins = [{bad}]")).expect_err(bad).to_string();
            assert!(err.contains("frame_origins"), "{bad}: {err}");
        }
    }

    #[test]
    fn unknown_keys_are_refused_by_name() {
        let err = with("databse_url = 'sqlite://x.db'").unwrap_err().to_string();
        assert!(err.contains("unknown setting `databse_url`"), "{err}");
        assert!(
            with("metrics_token = 'a-token-of-16-chars'\n[sandbox_faults.card]\nseed = 7").is_ok()
        );
        for other in ["CONFIG", "test_postgres_url", "BENCH_POSTGRES_URL", "NEW_USER_PASSWORD"] {
            assert!(!is_setting_variable(other), "{other}");
        }
        assert!(is_setting_variable("BIND") && is_setting_variable("FROBNICATE"));
    }

    #[test]
    fn bad_values_name_their_setting() {
        for (toml, setting) in [
            ("bind = 'not an address'", "bind"),
            ("mode = 'staging'", "mode"),
            ("database_url = 'mysql://x'", "database_url"),
            ("public_url = 'ftp://x'", "public_url"),
            ("sandbox_url = 'not a url'", "sandbox_url"),
            ("sandbox_signing_secret = ' '", "sandbox_signing_secret"),
            ("login_window_minutes = 0", "login_window_minutes"),
            ("database_max_connections = -1", "database_max_connections"),
            ("metrics_token = 'short'", "metrics_token"),
        ] {
            let err = with(toml).expect_err(toml).to_string();
            assert!(err.contains(setting), "{toml}: {err}");
        }
    }
}

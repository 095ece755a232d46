//! Who is logged in, and the login/logout server functions.
//!
//! The server's guard (settle-server `web::guard`) loads the session's user into the request
//! before any page or server function runs, and refuses routes whose role doesn't match; the
//! helpers here read what it found.

use http::request::Parts;
use leptos::prelude::*;
use settle::account::{Role, User, UserId};

use crate::error::PageError;

/// Session key holding the logged-in user's id.
pub const SESSION_USER_KEY: &str = "user_id";

/// Session key holding the email of a failed login, for the login page to put back once (the
/// password never is).
pub const LOGIN_EMAIL_KEY: &str = "login.email";

/// The logged-in user, put into the request's extensions by the server's guard.
#[derive(Clone, Debug)]
pub struct CurrentUser(pub User);

/// The client's address as the server determined it (for login throttling).
#[derive(Clone, Debug)]
pub struct ClientAddr(pub String);

/// The logged-in user of the request being rendered, if any.
pub fn current_user() -> Option<User> {
    use_context::<Parts>()?.extensions.get::<CurrentUser>().map(|u| u.0.clone())
}

/// The logged-in user, who must have `role`. The guard has already refused other roles; this
/// also gives the server function the user it acts for.
pub fn require(role: Role) -> Result<User, PageError> {
    match current_user() {
        Some(user) if user.role == role => Ok(user),
        Some(_) => Err(PageError::forbidden("Your account can't do this.")),
        None => Err(PageError::unauthorized("Log in first.")),
    }
}

/// The client's address as the server's guard found it (`unknown` outside a request).
pub fn client_addr() -> String {
    use_context::<Parts>()
        .and_then(|p| p.extensions.get::<ClientAddr>().map(|a| a.0.clone()))
        .unwrap_or_else(|| "unknown".into())
}

/// The signed-in staff member acting in this request, for the audit log: they must have
/// `role`.
pub fn actor(role: Role) -> Result<(User, settle::audit::Actor), PageError> {
    let user = require(role)?;
    let actor = settle::audit::Actor::user(&user, &client_addr());
    Ok((user, actor))
}

/// A plain local path to continue to after login, or `None` (the caller then uses the role's
/// home page).
///
/// Only `/` followed by visible ASCII is followed. Browsers drop tab, CR and LF from URLs and
/// read `\` as `/`, so `/<tab>/evil.example` and `/\evil.example` would leave the site like
/// `//evil.example` does; control characters also can't go into a `Location` header. Spaces and
/// non-ASCII are refused rather than encoded: our own links never contain them. Percent-escapes
/// stay as they are: `/%2F%2Fevil.example` is one path segment on this site (browsers never
/// decode `%2F` or `%09` when resolving a URL), so it is followed and ends on a 404 page here.
pub fn safe_next(next: Option<&str>) -> Option<String> {
    let next = next?;
    let plain = next.starts_with('/')
        && !next.starts_with("//")
        && next.bytes().all(|b| b.is_ascii_graphic() && b != b'\\');
    plain.then(|| next.to_owned())
}

/// Logs a person in and sends them to their home page (or `next`).
#[server(prefix = "/api/auth", endpoint = "login")]
pub async fn log_in(
    email: String,
    password: String,
    next: Option<String>,
) -> Result<(), PageError> {
    use settle::account::{LoginOutcome, Password};
    use tower_sessions::Session;

    use crate::flash::Flash;

    let ctx = crate::context::page_context()?;
    let session: Session = leptos_axum::extract().await?;
    let client = client_addr();
    let outcome = settle::account::log_in(
        &ctx.db,
        &ctx.login_throttle,
        &email,
        Password::for_login(password),
        &client,
    )
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "login failed");
        PageError::unavailable(
            "Logging in is unavailable right now. Please try again in a few minutes.",
        )
    })?;
    let back_to_login = match safe_next(next.as_deref()) {
        Some(next) => format!("/login?next={}", urlencode(&next)),
        None => "/login".to_owned(),
    };
    let flash = match outcome {
        LoginOutcome::LoggedIn(user) if !user.role.uses_pages() => {
            tracing::warn!(user = %user.id, "a merchant's API login tried the login page");
            Flash::error(
                "This login belongs to a merchant's system: it gets API tokens and can't sign in to these pages.",
            )
        }
        LoginOutcome::LoggedIn(user) => {
            // A new session id at login, so an id planted before login is worthless after it.
            session.cycle_id().await.map_err(session_error)?;
            session.insert(SESSION_USER_KEY, &user.id).await.map_err(session_error)?;
            tracing::info!(user = %user.id, role = %user.role, "logged in");
            let to = safe_next(next.as_deref()).unwrap_or_else(|| user.role.home_path().to_owned());
            leptos_axum::redirect(&to);
            return Ok(());
        }
        LoginOutcome::WrongCredentials => Flash::error("Email or password is wrong."),
        LoginOutcome::Disabled => Flash::error(settle::account::login::DISABLED_MESSAGE),
        LoginOutcome::Throttled { retry_after_secs } => Flash::error(format!(
            "Too many failed attempts. Try again in {} minutes.",
            retry_after_secs.div_ceil(60)
        )),
    };
    flash.store(&session).await.map_err(session_error)?;
    let email: String = email.trim().chars().take(254).collect();
    session.insert(LOGIN_EMAIL_KEY, email).await.map_err(session_error)?;
    leptos_axum::redirect(&back_to_login);
    Ok(())
}

/// The email of the last failed login in this session, once (the login form shows it again).
#[server(prefix = "/api/auth", endpoint = "login_email")]
pub async fn kept_login_email() -> Result<Option<String>, PageError> {
    use tower_sessions::Session;

    let session: Session = leptos_axum::extract().await?;
    // A session store that fails only costs the person retyping their email.
    Ok(session.remove::<String>(LOGIN_EMAIL_KEY).await.ok().flatten())
}

/// Ends the session.
#[server(prefix = "/api/auth", endpoint = "logout")]
pub async fn log_out() -> Result<(), PageError> {
    use tower_sessions::Session;

    let session: Session = leptos_axum::extract().await?;
    let user: Option<UserId> = session.get(SESSION_USER_KEY).await.ok().flatten();
    session.flush().await.map_err(session_error)?;
    if let Some(user) = user {
        tracing::info!(user = %user, "logged out");
    }
    leptos_axum::redirect("/login?logged_out=1");
    Ok(())
}

#[cfg(feature = "ssr")]
fn session_error(e: tower_sessions::session::Error) -> PageError {
    tracing::error!(error = %e, "session store failed");
    PageError::unavailable("Sessions are unavailable right now. Please try again in a few minutes.")
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_login() {
        assert_eq!(safe_next(Some("/admin")), Some("/admin".into()));
        assert_eq!(safe_next(Some("//evil.example")), None);
        assert_eq!(safe_next(Some("https://evil.example")), None);
        assert_eq!(safe_next(Some("/\\evil.example")), None);
        assert_eq!(safe_next(Some("/\t/evil.example/x")), None);
        assert_eq!(safe_next(Some("/\r/x")), None);
        assert_eq!(safe_next(Some("/\n/x")), None);
        assert_eq!(safe_next(Some(" /admin")), None);
        assert_eq!(safe_next(Some("/caf\u{e9}")), None);
        assert_eq!(safe_next(Some("/%2F%2Fevil.example")), Some("/%2F%2Fevil.example".into()));
        assert_eq!(
            safe_next(Some("/account/checkout?policy=DEMO/0001/MOTOR/WEB")),
            Some("/account/checkout?policy=DEMO/0001/MOTOR/WEB".into())
        );
        assert_eq!(safe_next(None), None);
    }
}

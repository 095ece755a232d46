//! The one guard in front of every page and server function: loads the session's user and
//! enforces the role each path prefix requires.
//!
//! Server functions live under their page's prefix (`#[server(prefix = "/admin/api")]`), so a
//! page and the functions it posts to can't disagree about who may use them.

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use settle::account::{Role, User, UserId};
use settle_app::auth::{CurrentUser, SESSION_USER_KEY};
use settle_app::flash::Flash;
use tower_sessions::Session;

use crate::state::AppState;

/// The role each protected path prefix requires; everything else is public.
const PROTECTED: &[(&str, Role)] =
    &[("/account", Role::Customer), ("/admin", Role::Admin), ("/operator", Role::Operator)];

/// The role `path` requires, if any.
pub fn required_role(path: &str) -> Option<Role> {
    PROTECTED.iter().find_map(|(prefix, role)| {
        let under =
            path == *prefix || path.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('/'));
        under.then_some(*role)
    })
}

/// Loads the logged-in user into the request, refuses requests whose role doesn't match, and
/// hands a pending flash message to the page about to be rendered.
pub async fn guard(
    State(state): State<AppState>,
    session: Session,
    mut request: Request,
    next: Next,
) -> Response {
    let user = match session_user(&state, &session).await {
        Ok(user) => user,
        Err(e) => {
            tracing::error!(error = %e, "loading the session's user failed");
            return (StatusCode::SERVICE_UNAVAILABLE, "Sessions are unavailable right now.")
                .into_response();
        }
    };
    let path = request.uri().path().to_owned();
    if let Some(role) = required_role(&path) {
        match &user {
            None if request.method() == Method::GET => {
                // Keep the query: a checkout link carries its policy there.
                let target = request.uri().path_and_query().map_or(path.as_str(), |pq| pq.as_str());
                let next =
                    url::form_urlencoded::byte_serialize(target.as_bytes()).collect::<String>();
                return Redirect::to(&format!("/login?next={next}")).into_response();
            }
            None => return (StatusCode::UNAUTHORIZED, "Log in first.").into_response(),
            Some(user) if user.role != role => {
                tracing::warn!(user = %user.id, role = %user.role, %path, "refused: needs role {role}");
                return forbidden(user, &request);
            }
            Some(_) => {}
        }
    }
    if let Some(user) = user {
        request.extensions_mut().insert(CurrentUser(user));
    }
    if request.method() == Method::GET
        && accepts_html(&request)
        && let Some(flash) = Flash::take(&session).await
    {
        request.extensions_mut().insert(flash);
    }
    next.run(request).await
}

async fn session_user(state: &AppState, session: &Session) -> Result<Option<User>, String> {
    let id: Option<UserId> = session.get(SESSION_USER_KEY).await.map_err(|e| e.to_string())?;
    let Some(id) = id else { return Ok(None) };
    let user = User::find(&state.db, &id).await.map_err(|e| e.to_string())?;
    match user {
        // A disabled user's session ends on their next request, whatever it asks for.
        Some(user) if user.disabled_at.is_some() => {
            session.flush().await.map_err(|e| e.to_string())?;
            tracing::info!(user = %user.id, "a disabled user's session was ended");
            Flash::error(settle::account::login::DISABLED_MESSAGE)
                .store(session)
                .await
                .map_err(|e| e.to_string())?;
            Ok(None)
        }
        user => Ok(user),
    }
}

fn accepts_html(request: &Request) -> bool {
    request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.contains("text/html") || v.contains("*/*"))
}

/// 403 for another role's page: the site's own page, with its header, for a browser; a
/// sentence for anything else (a server function's caller).
fn forbidden(user: &User, request: &Request) -> Response {
    if request.method() == Method::GET && accepts_html(request) {
        let page = settle_app::pages::not_allowed::forbidden_document(user);
        return (StatusCode::FORBIDDEN, Html(page)).into_response();
    }
    (StatusCode::FORBIDDEN, "Your account can't do this.").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_match_whole_path_segments() {
        assert_eq!(required_role("/admin"), Some(Role::Admin));
        assert_eq!(required_role("/admin/api/overview"), Some(Role::Admin));
        assert_eq!(required_role("/administrator"), None);
        assert_eq!(required_role("/account"), Some(Role::Customer));
        assert_eq!(required_role("/operator/x"), Some(Role::Operator));
        assert_eq!(required_role("/login"), None);
        assert_eq!(required_role("/"), None);
    }
}

//! One-shot messages shown on the next page after a form post (post/redirect/get).

use serde::{Deserialize, Serialize};
use tower_sessions::Session;

/// Session key the flash is kept under until the next page shows it.
pub const FLASH_KEY: &str = "flash";

/// Whether the message reports success or a problem.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FlashKind {
    /// Something worked.
    Success,
    /// Something went wrong and needs the person's attention.
    Error,
    /// Worth knowing, nothing went wrong (a payment already under way).
    Notice,
}

/// A message for the next page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flash {
    /// Success or error.
    pub kind: FlashKind,
    /// What to tell the person.
    pub message: String,
}

impl Flash {
    /// A success message.
    pub fn success(message: impl Into<String>) -> Flash {
        Flash { kind: FlashKind::Success, message: message.into() }
    }

    /// An error message.
    pub fn error(message: impl Into<String>) -> Flash {
        Flash { kind: FlashKind::Error, message: message.into() }
    }

    /// A message that is neither good nor bad news.
    pub fn notice(message: impl Into<String>) -> Flash {
        Flash { kind: FlashKind::Notice, message: message.into() }
    }

    /// Keeps the message for the next page the session renders.
    pub async fn store(self, session: &Session) -> Result<(), tower_sessions::session::Error> {
        session.insert(FLASH_KEY, self).await
    }

    /// Takes the pending message out of the session (the server does this once per page).
    pub async fn take(session: &Session) -> Option<Flash> {
        session.remove::<Flash>(FLASH_KEY).await.ok().flatten()
    }

    /// The CSS class of the message box.
    pub fn class(&self) -> &'static str {
        match self.kind {
            FlashKind::Success => "flash success",
            FlashKind::Error => "flash error",
            FlashKind::Notice => "flash notice",
        }
    }
}

/// Keeps `flash` for the next page and sends the browser to `to` (post/redirect/get): what a
/// server function answers a form with.
#[cfg(feature = "ssr")]
pub async fn redirect_with(flash: Flash, to: &str) -> Result<(), crate::PageError> {
    let session: Session = leptos_axum::extract().await?;
    flash.store(&session).await.map_err(|e| {
        tracing::error!(error = %e, "storing a flash message failed");
        crate::PageError::unavailable(crate::error::SESSIONS_UNAVAILABLE)
    })?;
    leptos_axum::redirect(to);
    Ok(())
}

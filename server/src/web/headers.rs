//! Response headers every answer carries unless its handler set its own: the content security
//! policy (with a fresh script nonce per response), `Cache-Control: no-store`, and in production
//! `Strict-Transport-Security`.

use std::sync::{Arc, RwLock};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use rand::RngCore;
use settle::connector::GatewayConnection;
use settle::gateway::GatewayKind;
use url::Url;

/// The script nonce of the response being made; pages hand it to Leptos, whose inline scripts
/// (resource serialisation) then carry it.
#[derive(Clone, Debug)]
pub struct CspNonce(pub String);

impl CspNonce {
    /// 128 random bits, URL-safe base64 (what Leptos generates itself).
    fn generate() -> CspNonce {
        let mut bytes = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut bytes);
        CspNonce(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
    }
}

/// The content security policy: the nonce changes per response, the frame sources when the
/// gateways are reloaded (a card gateway configured or moved is framed without a restart).
#[derive(Debug)]
pub struct ContentSecurityPolicy {
    /// Origins framed whatever the gateways (the `frame_origins` setting).
    configured: Vec<String>,
    /// Where card gateways without a base URL of their own send the frame: the sandbox, which
    /// may be a process of its own on another origin (`sandbox_url`).
    sandbox: Option<Url>,
    /// The `frame-src` sources now; swapped whole, so a response never sees half an update.
    frame_src: RwLock<Arc<str>>,
}

impl ContentSecurityPolicy {
    /// A policy whose frames may come from this server, from `configured` origins and from the
    /// card gateways' own origins (issuers' 3-D Secure pages).
    pub fn new(
        configured: impl IntoIterator<Item = String>,
        sandbox: Option<Url>,
        gateways: &[GatewayConnection],
    ) -> ContentSecurityPolicy {
        let policy = ContentSecurityPolicy {
            configured: configured.into_iter().collect(),
            sandbox,
            frame_src: RwLock::new(Arc::from("'self'")),
        };
        policy.follow(gateways);
        policy
    }

    /// Frames from these gateways from now on (called after the gateways are reloaded).
    pub fn follow(&self, gateways: &[GatewayConnection]) {
        let from_gateways = gateways
            .iter()
            .filter(|g| g.gateway.kind == GatewayKind::Card3ds)
            .filter_map(|g| g.base_url.clone().or_else(|| self.sandbox.clone()))
            .map(|url| url.origin())
            .filter(|origin| origin.is_tuple())
            .map(|origin| origin.ascii_serialization());
        let mut origins: Vec<String> = from_gateways.chain(self.configured.clone()).collect();
        origins.sort();
        origins.dedup();
        let mut frame_src = String::from("'self'");
        for origin in origins {
            frame_src.push(' ');
            frame_src.push_str(&origin);
        }
        *self.frame_src.write().unwrap_or_else(|poisoned| poisoned.into_inner()) =
            Arc::from(frame_src);
    }

    /// The header value for a response whose inline scripts carry `nonce`.
    pub fn header(&self, nonce: &CspNonce) -> String {
        let frames = self.frame_src.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
        format!(
            "default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self'; \
             img-src 'self' data:; frame-src {frames}; frame-ancestors 'self'; base-uri 'none'",
            nonce = nonce.0,
        )
    }
}

/// Gives the request a fresh nonce and the response the policy with it, unless the handler set
/// a policy of its own (the 3-D Secure completion page allows its one script by hash).
pub async fn content_security_policy(
    State(policy): State<Arc<ContentSecurityPolicy>>,
    mut request: Request,
    next: Next,
) -> Response {
    let nonce = CspNonce::generate();
    request.extensions_mut().insert(nonce.clone());
    let mut response = next.run(request).await;
    if !response.headers().contains_key(header::CONTENT_SECURITY_POLICY)
        && let Ok(value) = HeaderValue::from_str(&policy.header(&nonce))
    {
        response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, value);
    }
    response
}

/// Makes the request's nonce the one Leptos puts on its inline scripts (call it in the context
/// function of every Leptos handler, after Leptos provided its own request parts).
pub fn provide_nonce_to_leptos() {
    use leptos::prelude::{provide_context, use_context};
    let nonce = use_context::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<CspNonce>().cloned());
    if let Some(nonce) = nonce {
        provide_context(leptos::nonce::Nonce::from_value(nonce.0));
    }
}

/// `Strict-Transport-Security` for production: two years, subdomains included.
pub const HSTS: HeaderValue = HeaderValue::from_static("max-age=63072000; includeSubDomains");

/// Answers carry customer data unless shown otherwise: nothing is stored by browsers or proxies
/// unless the handler says so (static files do).
pub const NO_STORE: HeaderValue = HeaderValue::from_static("no-store");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_from_this_server_and_the_configured_origins() {
        let policy = ContentSecurityPolicy::new(
            [
                "https://acs.bank.example".to_owned(),
                "https://pi-live.sagepay.com".to_owned(),
                "https://acs.bank.example".to_owned(),
            ],
            None,
            &[],
        );
        let header = policy.header(&CspNonce("abc".into()));
        assert!(
            header
                .contains("frame-src 'self' https://acs.bank.example https://pi-live.sagepay.com;"),
            "{header}"
        );
        assert!(header.contains("script-src 'self' 'nonce-abc';"), "{header}");
        assert!(header.contains("frame-ancestors 'self'"), "{header}");
    }

    #[test]
    fn nonces_are_fresh() {
        let (a, b) = (CspNonce::generate(), CspNonce::generate());
        assert_ne!(a.0, b.0);
        assert_eq!(a.0.len(), 22);
    }
}

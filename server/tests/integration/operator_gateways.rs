//! The operator's gateway configuration: connectors configured with their secrets masked
//! (never shown again, never logged), audited, and applied on every instance without a
//! restart; purchase sources added and switched off.

use anyhow::{Context, Result};
use settle::demo::{OPERATOR_EMAIL, OPERATOR_PASSWORD};

use crate::support::{TestApp, ensure, eventually};

const API_KEY: &str = "sk_live_SECRET123";
const SIGNING_SECRET: &str = "whsec_SECRET456";

fn gateway_form<'a>(id: &'a str, name: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("id", id),
        ("name", name),
        ("provider", "Yoco"),
        ("kind", "hosted_checkout"),
        ("currency", "ZAR"),
        ("base_url", "https://pay.yoco.example"),
        ("api_key", ""),
        ("signing_secret", ""),
        ("timeout_ms", "8000"),
        ("enabled", "on"),
        ("settle_after_seconds", ""),
        ("reconcile_schedule", "5, 30, 120"),
    ]
}

fn with<'a>(
    mut form: Vec<(&'a str, &'a str)>,
    name: &'a str,
    value: &'a str,
) -> Vec<(&'a str, &'a str)> {
    form.retain(|(k, _)| *k != name);
    form.push((name, value));
    form
}

async fn stored_secrets(app: &TestApp, id: &str) -> Result<(Option<String>, Option<String>)> {
    let g = settle::gateway::Gateway::connections(&app.db)
        .await?
        .into_iter()
        .find(|g| g.gateway.id == id)
        .context("the gateway")?;
    Ok((g.api_key, g.signing_secret))
}

pub async fn gateways_are_configured_with_their_secrets_masked(app: TestApp) -> Result<()> {
    app.log_in(OPERATOR_EMAIL, OPERATOR_PASSWORD, "/operator").await?;
    let list = app.page_html("/operator/gateways").await?;
    ensure(list.contains("peach-zar") && list.contains("New gateway"), "the list and the form")?;
    let version = settle::gateway_config::version::current(&app.db).await?;

    // Wrong fields are named, and the secrets typed are not kept for the page.
    let bad = with(gateway_form("bad key", "Yoco"), "timeout_ms", "5");
    let bad = with(bad, "base_url", "ftp://pay.example");
    let bad = with(bad, "api_key", API_KEY);
    let (back, html) = app.post_follow("/operator/api/gateway_create", &bad).await?;
    ensure(back == "/operator/gateways", format!("back to the list: {back}"))?;
    for words in [
        "Please correct the 3 details marked below",
        "Key must be 1 to 64 letters, digits",
        "Base URL must start with https://",
        "Timeout (milliseconds) must be a whole number of milliseconds from 100 to 120000",
    ] {
        ensure(html.contains(words), format!("the page says {words:?}"))?;
    }
    ensure(!html.contains(API_KEY), "a secret is never put back into the page")?;

    // Created with both secrets: the page says "set", never shows them.
    let good = with(gateway_form("yoco-zar", "Yoco"), "api_key", API_KEY);
    let good = with(good, "signing_secret", SIGNING_SECRET);
    let (page, html) = app.post_follow("/operator/api/gateway_create", &good).await?;
    ensure(page == "/operator/gateways/yoco-zar", format!("to its page: {page}"))?;
    ensure(html.contains("Set. It is never shown again"), "the secrets are set")?;
    for path in ["/operator/gateways/yoco-zar", "/operator/gateways", "/operator"] {
        let html = app.page_html(path).await?;
        ensure(
            !html.contains(API_KEY) && !html.contains(SIGNING_SECRET),
            format!("{path} never shows a secret"),
        )?;
    }
    ensure(
        stored_secrets(&app, "yoco-zar").await?
            == (Some(API_KEY.into()), Some(SIGNING_SECRET.into())),
        "both stored",
    )?;

    // Edited with blank secrets: they are kept. A new key replaces only the key.
    let edit = with(gateway_form("", "Yoco Online"), "gateway", "yoco-zar");
    let (_, html) = app.post_follow("/operator/api/gateway_update", &edit).await?;
    ensure(html.contains("Yoco Online") && html.contains("flash success"), "saved")?;
    ensure(stored_secrets(&app, "yoco-zar").await?.0.as_deref() == Some(API_KEY), "key kept")?;
    let rotate = with(edit.clone(), "api_key", "sk_live_NEW789");
    app.post_follow("/operator/api/gateway_update", &rotate).await?;
    ensure(
        stored_secrets(&app, "yoco-zar").await?
            == (Some("sk_live_NEW789".into()), Some(SIGNING_SECRET.into())),
        "the key is replaced, the signing secret kept",
    )?;
    let view = settle::gateway_config::store::find(&app.db, "yoco-zar").await?.context("view")?;
    ensure(view.reconcile_schedule == Some(vec![5, 30, 120]), "the schedule is stored")?;

    // Audited without the secrets; each change moved the configuration version.
    let audit = app.audit_of("gateway:yoco-zar").await?;
    let actions: Vec<&str> = audit.iter().map(|(a, _, _)| a.as_str()).collect();
    ensure(
        actions == ["gateway.create", "gateway.update", "gateway.update"],
        format!("audited: {actions:?}"),
    )?;
    ensure(
        audit.iter().all(|(_, who, d)| {
            who == OPERATOR_EMAIL && !d.contains("SECRET") && !d.contains("NEW789")
        }),
        "by the operator, without secrets",
    )?;
    ensure(audit[2].2.contains("API key replaced"), "the rotation is recorded")?;
    let now = settle::gateway_config::version::current(&app.db).await?;
    ensure(now == version + 3, format!("version {version} → {now}"))
}

pub async fn a_gateway_change_is_seen_by_every_instance_without_a_restart(
    app: TestApp,
) -> Result<()> {
    let second = app.another_server("").await?;
    let result = async {
        app.log_in(OPERATOR_EMAIL, OPERATOR_PASSWORD, "/operator").await?;
        ensure(second.state.payments.connector("fresh-zar").is_err(), "not there yet")?;
        // Configured on the first instance: the second builds its connector within seconds.
        let form = with(gateway_form("fresh-zar", "Fresh"), "base_url", "");
        app.post_follow("/operator/api/gateway_create", &form).await?;
        let timeout = std::time::Duration::from_secs(5);
        eventually("the second instance has the new gateway", timeout, || async {
            Ok(second.state.payments.connector("fresh-zar").is_ok())
        })
        .await?;
        eventually("the first instance has it too", timeout, || async {
            Ok(app.state.payments.connector("fresh-zar").is_ok())
        })
        .await?;

        // Disabled on the first instance: no new payment for LTE-DAY is routed through it.
        let lte = settle::product_config::store::find_by_code(&app.db, "LTE-DAY")
            .await?
            .context("LTE-DAY")?;
        let routed = |db: settle::Db| {
            let id = lte.id.clone();
            async move {
                Ok::<_, anyhow::Error>(
                    settle::gateway::Gateway::for_product(&db, &id)
                        .await?
                        .into_iter()
                        .map(|g| g.id)
                        .collect::<Vec<_>>(),
                )
            }
        };
        ensure(routed(second.state.db.clone()).await?.contains(&"peach-zar".to_owned()), "before")?;
        let view =
            settle::gateway_config::store::find(&app.db, "peach-zar").await?.context("peach")?;
        let timeout_ms = view.timeout_ms.to_string();
        let disable = vec![
            ("gateway", "peach-zar"),
            ("name", view.name.as_str()),
            ("provider", view.provider.as_str()),
            ("kind", view.kind.as_str()),
            ("currency", view.currency.code()),
            ("timeout_ms", timeout_ms.as_str()),
        ];
        let (_, html) = app.post_follow("/operator/api/gateway_update", &disable).await?;
        ensure(html.contains("flash success"), "saved")?;
        let routes = routed(second.state.db.clone()).await?;
        ensure(!routes.contains(&"peach-zar".to_owned()), format!("not routed: {routes:?}"))?;
        Ok(())
    }
    .await;
    second.stop().await;
    result
}

pub async fn purchase_sources_are_added_and_switched_off(app: TestApp) -> Result<()> {
    use settle::demo::DEMO_COLLECTOR_ID;
    use settle::purchase_source::PurchaseSource;
    app.log_in(OPERATOR_EMAIL, OPERATOR_PASSWORD, "/operator").await?;
    let html = app.page_html("/operator/purchase-sources").await?;
    ensure(html.contains("New purchase source"), "the page")?;

    let (_, html) = app
        .post_follow("/operator/api/purchase_source_add", &[("name", " "), ("collector_id", "")])
        .await?;
    ensure(html.contains("Name is required"), "a name is required")?;
    let (_, html) = app
        .post_follow(
            "/operator/api/purchase_source_add",
            &[("name", "SnapScan"), ("collector_id", "")],
        )
        .await?;
    ensure(html.contains("SnapScan added"), "added")?;
    let offered = |db: settle::Db| async move {
        Ok::<_, anyhow::Error>(
            PurchaseSource::list(&db, Some(DEMO_COLLECTOR_ID), true)
                .await?
                .into_iter()
                .map(|s| s.name)
                .collect::<Vec<_>>(),
        )
    };
    ensure(offered(app.db.clone()).await?.contains(&"SnapScan".to_owned()), "offered")?;
    let source = PurchaseSource::all(&app.db)
        .await?
        .into_iter()
        .find(|s| s.name == "SnapScan")
        .context("stored")?;

    let (_, html) = app
        .post_follow(
            "/operator/api/purchase_source_enable",
            &[("source", source.id.as_str()), ("enable", "no")],
        )
        .await?;
    ensure(html.contains("Purchase source disabled") && html.contains("Enable SnapScan"), "off")?;
    ensure(!offered(app.db.clone()).await?.contains(&"SnapScan".to_owned()), "no longer offered")?;
    app.post_follow(
        "/operator/api/purchase_source_enable",
        &[("source", source.id.as_str()), ("enable", "yes")],
    )
    .await?;
    ensure(offered(app.db.clone()).await?.contains(&"SnapScan".to_owned()), "offered again")?;
    let audit = app.audit_of(&format!("purchase_source:{}", source.id)).await?;
    let actions: Vec<&str> = audit.iter().map(|(a, _, _)| a.as_str()).collect();
    ensure(
        actions == ["purchase_source.create", "purchase_source.disable", "purchase_source.enable"],
        format!("audited: {actions:?}"),
    )
}

/// The update form of a stored gateway as its page fills it in, with `changes` made.
async fn edit(app: &TestApp, id: &str, changes: &[(&str, &str)]) -> Result<String> {
    let view = settle::gateway_config::store::find(&app.db, id).await?.context("the gateway")?;
    let timeout_ms = view.timeout_ms.to_string();
    let settle_after = view.settle_after_seconds.map(|s| s.to_string()).unwrap_or_default();
    let schedule = view
        .reconcile_schedule
        .map(|s| s.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))
        .unwrap_or_default();
    let mut form = vec![
        ("gateway", id),
        ("name", view.name.as_str()),
        ("provider", view.provider.as_str()),
        ("kind", view.kind.as_str()),
        ("currency", view.currency.code()),
        ("base_url", view.base_url.as_deref().unwrap_or("")),
        ("api_key", ""),
        ("signing_secret", ""),
        ("timeout_ms", timeout_ms.as_str()),
        ("enabled", "on"),
        ("settle_after_seconds", settle_after.as_str()),
        ("reconcile_schedule", schedule.as_str()),
    ];
    for (name, value) in changes {
        form = with(form, name, value);
    }
    let (_, html) = app.post_follow("/operator/api/gateway_update", &form).await?;
    ensure(html.contains("flash success"), format!("{id} saved: {html}"))?;
    Ok(html)
}

pub async fn a_gateways_own_schedule_drives_its_reconciliation(app: TestApp) -> Result<()> {
    use settle::payment::{Payment, PaymentState};
    use std::time::Duration;
    app.log_in(OPERATOR_EMAIL, OPERATOR_PASSWORD, "/operator").await?;
    // Every gateway the demo policy may be routed to asks after 90 s, then 200 s, then 400 s
    // (the server's own schedule is 5 s, 30 s, 2 min, …).
    let service = settle::service::Service::find_by_reference(&app.db, settle::demo::POLICY_NUMBER)
        .await?
        .context("the demo policy")?;
    let routed = settle::gateway::Gateway::for_product(&app.db, &service.product_id).await?;
    ensure(!routed.is_empty(), "the policy has gateways")?;
    for gateway in &routed {
        edit(
            &app,
            &gateway.id,
            &[("settle_after_seconds", "90"), ("reconcile_schedule", "200, 400")],
        )
        .await?;
    }
    // Picked up by this instance's configuration watcher, without a restart.
    let gateway = routed[0].id.clone();
    eventually("the gateway's schedule is loaded", Duration::from_secs(5), || async {
        let policy = app.state.payments.reconcile_policy_for(&gateway);
        let waits: Vec<u64> = (0..4).map(|i| policy.wait(i).as_secs()).collect();
        Ok(waits == [90, 200, 400, 400])
    })
    .await?;
    let global = app.state.payments.reconcile_policy_for("no-such-gateway");
    ensure(global.first() == Duration::from_secs(5), "others keep the server's schedule")?;

    // A payment waiting for its customer is first asked about after the gateway's 90 s.
    let waiting = app.awaiting_payment().await?;
    ensure(waiting.state == PaymentState::AwaitingCustomer, format!("{}", waiting.state))?;
    let policy = app.state.payments.reconcile_policy_for(&waiting.gateway_id);
    ensure(
        policy.first() == Duration::from_secs(90),
        format!("{} has its own", waiting.gateway_id),
    )?;
    let first = waiting.settle_by.context("settle_by")? - waiting.updated_at;
    ensure(
        (89..=91).contains(&first.num_seconds()),
        format!("first ask due {first} after the payment started, not the server's 5 s"),
    )?;

    // Once asked (the ask made due now), the next ask is the schedule's first wait: 200 s.
    let sql = "UPDATE payments SET settle_by = $2 WHERE id = $1";
    let forced_at = chrono::Utc::now();
    settle::with_db!(&app.db, pool => sqlx::query(sql).bind(&waiting.id).bind(forced_at - chrono::Duration::seconds(1)).execute(pool).await.map(|_| ()))?;
    eventually("the sweep asks about it", Duration::from_secs(10), || async {
        app.state.payments.reconcile().await?;
        let now = Payment::find(&app.db, &waiting.id).await?.context("payment")?;
        Ok(now.reconcile_attempts == 1)
    })
    .await?;
    let asked = Payment::find(&app.db, &waiting.id).await?.context("payment")?;
    ensure(asked.state == PaymentState::AwaitingCustomer, "the gateway says it still waits")?;
    let next = asked.settle_by.context("next ask")? - forced_at;
    let observed = chrono::Utc::now() - forced_at;
    ensure(
        next >= chrono::Duration::seconds(199) && next <= chrono::Duration::seconds(201) + observed,
        format!("next ask due {next} after the ask, not the server's 30 s"),
    )?;
    Ok(())
}

/// The `frame-src` directive of a page's content security policy.
async fn frame_src(app: &TestApp) -> Result<String> {
    let response = app.get("/").await?;
    let csp = response
        .headers()
        .get("content-security-policy")
        .context("a content security policy")?
        .to_str()?
        .to_owned();
    let frames = csp.split(';').map(str::trim).find(|d| d.starts_with("frame-src"));
    Ok(frames.context("frame-src")?.to_owned())
}

pub async fn a_card_gateways_new_origin_is_framed_without_a_restart(app: TestApp) -> Result<()> {
    use std::time::Duration;
    const MOVED: &str = "https://acs.moved.example";
    let before = frame_src(&app).await?;
    ensure(!before.contains(MOVED), format!("not framed yet: {before}"))?;
    app.log_in(OPERATOR_EMAIL, OPERATOR_PASSWORD, "/operator").await?;
    edit(&app, "sagepay-gbp", &[("base_url", "https://acs.moved.example/api/v1")]).await?;
    eventually("the new origin is framed", Duration::from_secs(5), || async {
        Ok(frame_src(&app).await?.contains(&format!(" {MOVED}")))
    })
    .await?;
    let after = frame_src(&app).await?;
    ensure(after.starts_with("frame-src 'self'"), format!("still this server first: {after}"))?;
    Ok(())
}

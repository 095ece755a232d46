//! The hot core path: create a purchase → start a card payment → authorise through the sandbox
//! card acquirer over HTTP → PAYMENT_SUCCESS → fulfilment (POLICY_CONVERTED), end to end on a
//! real server and database. SQLite always; PostgreSQL when SETTLE_BENCH_POSTGRES_URL is set.
//!
//! Run: `cargo bench -p settle-server --bench payment_path`

use std::time::Duration;

use chrono::Utc;
use criterion::{Criterion, criterion_group, criterion_main};
use figment::Figment;
use figment::providers::Serialized;
use settle::card::{CardNumber, Cvv, ExpiryDate};
use settle::connector::{Address, CardDetails};
use settle::payment::{Instrument, PaymentRequest, PaymentState};
use settle::product::Product;
use settle::purchase::{LineType, NewLine, Purchase, PurchaseStatus};
use settle::service::{BillingStatus, Service};
use settle_server::RunningServer;
use settle_server::config::Config;
use sqlx::Connection;

async fn server(database_url: &str) -> RunningServer {
    let config = Config::from_figment(
        Figment::from(Serialized::defaults(Config::default()))
            .merge(Serialized::default("database_url", database_url))
            .merge(Serialized::default("database_max_connections", 10))
            .merge(Serialized::default("log", "error")),
    )
    .expect("bench config");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    settle_server::start(config, listener).await.expect("server starts")
}

/// One pass of the hot path; panics (failing the bench) if the payment doesn't convert.
async fn pay_once(
    server: &RunningServer,
    product: &Product,
    customer: &settle::customer::CustomerId,
) {
    let db = &server.state.db;
    let mut service = Service::new(
        format!("BENCH/{}", uuid::Uuid::new_v4().simple()),
        product,
        customer.clone(),
        "quoted",
        BillingStatus::Unbilled,
    );
    service.details = Default::default();
    service.insert(db).await.expect("service");
    let purchase = Purchase::create(
        db,
        &service.id,
        PurchaseStatus::Open,
        Utc::now(),
        vec![NewLine {
            line_type: LineType::Day,
            description: "bench".into(),
            quantity: 1,
            unit_price: product.unit_price,
            period_per_quantity: 1,
            tax_rate: product.tax_rate,
        }],
    )
    .await
    .expect("purchase");
    let card = CardDetails {
        holder: "J SMITH".into(),
        number: CardNumber::parse("4929000000006").expect("test card"),
        expiry: ExpiryDate::parse("1230").expect("expiry"),
        cvv: Cvv::parse("123").expect("cvv"),
    };
    let payment = server
        .state
        .payments
        .start(PaymentRequest {
            payer: settle::access::Viewer::Staff,
            purchase_id: purchase.id,
            gateways: vec!["sagepay-gbp".into()],
            instrument: Instrument::Card { card, billing_address: Address::default() },
            return_to: None,
            details: serde_json::json!({}),
            idempotency_key: None,
        })
        .await
        .expect("payment");
    assert_eq!(payment.state, PaymentState::PolicyConverted, "frictionless card payment converts");
}

fn bench_backend(c: &mut Criterion, name: &str, database_url: String, cleanup: impl FnOnce()) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let server = runtime.block_on(server(&database_url));
    let (product, customer) = runtime.block_on(async {
        let db = &server.state.db;
        let products = Product::list(db).await.expect("products");
        let product =
            products.into_iter().find(|p| p.code == "SHORT-MOTOR").expect("demo GBP product");
        let customer = settle::demo::customer(db).await.expect("demo customer");
        (product, customer.id)
    });
    c.bench_function(&format!("card_payment_to_policy_converted/{name}"), |b| {
        b.to_async(&runtime).iter(|| pay_once(&server, &product, &customer));
    });
    runtime.block_on(server.stop());
    cleanup();
}

fn payment_path(c: &mut Criterion) {
    let path =
        std::env::temp_dir().join(format!("settle-bench-{}.db", uuid::Uuid::new_v4().simple()));
    let url = format!("sqlite://{}", path.display());
    bench_backend(c, "sqlite", url, || {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    });
    if let Ok(admin) = std::env::var("SETTLE_BENCH_POSTGRES_URL") {
        let name = format!("settle_bench_{}", uuid::Uuid::new_v4().simple());
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        rt.block_on(async {
            let mut conn = sqlx::PgConnection::connect(&admin).await.expect("postgres");
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .await
                .expect("create db");
        });
        let mut url = url::Url::parse(&admin).expect("url");
        url.set_path(&name);
        bench_backend(c, "postgres", url.to_string(), || {
            rt.block_on(async {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await;
                }
            });
        });
    } else {
        println!("note: SETTLE_BENCH_POSTGRES_URL is not set, so the PostgreSQL run is skipped");
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(10));
    targets = payment_path
}
criterion_main!(benches);

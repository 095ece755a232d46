//! `/operator/products`: every product with its billing and gateways, and the form that
//! creates one.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use settle::account::Role;

use super::form::FormState;
use super::product_form::{ProductFields, ProductForm};
use crate::PageError;
use crate::components::{PageData, SubmitButton};
use crate::layout::Layout;

/// Where the list is.
pub const PRODUCTS: &str = "/operator/products";

/// The edit page of a product.
pub fn product_href(code: &str) -> String {
    format!("{PRODUCTS}/{code}")
}

/// One product in the list.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProductLine {
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Billing in words.
    pub billing: String,
    /// Unit price.
    pub price: String,
    /// Tax %.
    pub tax: String,
    /// Gateways in routing order.
    pub gateways: String,
}

/// The list page's data.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProductsView {
    /// The products, by name.
    pub products: Vec<ProductLine>,
    /// The create form.
    pub form: FormState,
    /// (id, name) of the merchants.
    pub merchants: Vec<(String, String)>,
}

/// The products and the create form; operators only.
#[server(prefix = "/operator/api", endpoint = "products")]
pub async fn load_products() -> Result<ProductsView, PageError> {
    use settle::product_config::store;
    crate::auth::require(Role::Operator)?;
    let ctx = crate::context::page_context()?;
    let fail = PageError::logged("loading products");
    let products = store::list(&ctx.db).await.map_err(&fail)?;
    let merchants = store::merchant_choices(&ctx.db).await.map_err(&fail)?;
    let form = super::form::kept("product.create").await?.unwrap_or_else(|| {
        FormState::of(&ProductForm {
            service_kind: "isp".into(),
            billing_kind: "day_bundle".into(),
            currency: "ZAR".into(),
            tax_rate: "15".into(),
            invoice_activation: "on_payment".into(),
            kind_card: "on".into(),
            recharge_days_before: "2".into(),
            months_ahead_limit: "12".into(),
            accepts_immediate_payments: "on".into(),
            ..ProductForm::default()
        })
    });
    Ok(ProductsView {
        products: products
            .into_iter()
            .map(|(p, gateways)| ProductLine {
                billing: crate::pages::operator::billing_words(p.billing_kind).to_owned(),
                price: if p.merchant_sets_amount {
                    "Set by the merchant".to_owned()
                } else {
                    p.unit_price.display().to_string()
                },
                tax: p.tax_rate.percent().to_string(),
                gateways: if gateways.is_empty() { "none".into() } else { gateways.join(", ") },
                code: p.code,
                name: p.name,
            })
            .collect(),
        form,
        merchants,
    })
}

/// Creates a product and opens its page (for its options and gateways); a problem comes back
/// to the list with a message per field.
#[server(prefix = "/operator/api", endpoint = "product_create")]
pub async fn create_product(#[server(flatten)] form: ProductForm) -> Result<(), PageError> {
    use crate::flash::{Flash, redirect_with};
    let (_, actor) = crate::auth::actor(Role::Operator)?;
    let ctx = crate::context::page_context()?;
    let input = form.input();
    let created = match input.check_new() {
        Ok((code, settings)) => {
            settle::product_config::store::create(&ctx.db, &actor, &code, &settings).await
        }
        Err(e) => Err(e),
    };
    match created {
        Ok(product) => {
            let flash = Flash::success(format!(
                "Product {} created. Add its options and gateways below.",
                product.code
            ));
            redirect_with(flash, &product_href(&product.code)).await
        }
        Err(e) => super::form::fail("product.create", FormState::of(&form), e, PRODUCTS).await,
    }
}

/// The products page.
#[component]
pub fn ProductsPage() -> impl IntoView {
    let create = ServerAction::<CreateProduct>::new();
    view! {
        <Layout title="Products".into()>
            <h1>"Products and billing schemes"</h1>
            <PageData heading="Products" load=load_products() let:v>
                <div class="table-scroll">
                    <table class="list">
                        <thead><tr><th>"Code"</th><th>"Name"</th><th>"Billing"</th><th class="num">"Unit price (excl. tax)"</th><th class="num">"Tax %"</th><th>"Gateways"</th></tr></thead>
                        <tbody>
                            {v.products.into_iter().map(|p| view! {
                                <tr>
                                    <td><a href=product_href(&p.code)><code>{p.code.clone()}</code></a></td>
                                    <td>{p.name}</td><td>{p.billing}</td>
                                    <td class="num">{p.price}</td><td class="num">{p.tax}</td>
                                    <td>{p.gateways}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
                <section class="card">
                    <h2 id="new-product">"New product"</h2>
                    <p class="muted">"A new product is sold from the moment it has options and gateways."</p>
                    <ActionForm action=create>
                        <ProductFields state=v.form creating=true merchants=v.merchants />
                        <SubmitButton label="Create product" busy="Creating…" />
                    </ActionForm>
                </section>
            </PageData>
        </Layout>
    }
}

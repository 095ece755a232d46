//! `/operator/products/:code`: a product's settings, its price options (bundle options and
//! the quantities allowed) and its gateways in routing order. Every change applies to new
//! purchases only and is audited.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use serde::{Deserialize, Serialize};
use settle::account::Role;

use super::form::{FormState, SelectField};
use super::product_form::{ProductFields, ProductForm};
use super::products::{PRODUCTS, product_href};
use crate::PageError;
use crate::components::{PageData, SubmitButton, TextField};
use crate::layout::Layout;

/// A price option as listed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OptionLine {
    /// Its id.
    pub id: String,
    /// Description.
    pub description: String,
    /// Day / monthly / once-off.
    pub line_type: String,
    /// Price of one quantity, excl. tax.
    pub price: String,
    /// Days or months a quantity adds.
    pub period: i64,
    /// "1 to 10".
    pub quantities: String,
}

/// The option form as posted.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct OptionForm {
    /// 1 day, 2 monthly, 3 once-off.
    pub line_type: String,
    /// Description.
    pub description: String,
    /// Price of one quantity.
    pub option_price: String,
    /// Days or months a quantity adds.
    pub period_per_quantity: String,
    /// Fewest at once.
    pub min_quantity: String,
    /// Most at once.
    pub max_quantity: String,
}

/// The edit page's data.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProductEditView {
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Currency code.
    pub currency: String,
    /// The settings form.
    pub form: FormState,
    /// (id, name) of the merchants.
    pub merchants: Vec<(String, String)>,
    /// The options.
    pub options: Vec<OptionLine>,
    /// The add-option form.
    pub option_form: FormState,
    /// The gateways form (`gateways`: keys in order).
    pub route_form: FormState,
    /// Every gateway: (key, name, kind, enabled).
    pub gateway_choices: Vec<(String, String, String, bool)>,
}

const NO_SUCH_PRODUCT: &str = "There is no product with that code.";

/// A product as the operator edits it; operators only.
#[server(prefix = "/operator/api", endpoint = "product")]
pub async fn load_product(code: String) -> Result<ProductEditView, PageError> {
    use settle::product_config::store;
    crate::auth::require(Role::Operator)?;
    let ctx = crate::context::page_context()?;
    let fail = PageError::logged("loading a product");
    let view = store::view(&ctx.db, &code)
        .await
        .map_err(&fail)?
        .ok_or_else(|| PageError::not_found(NO_SUCH_PRODUCT))?;
    let merchants = store::merchant_choices(&ctx.db).await.map_err(&fail)?;
    let gateways = store::gateway_choices(&ctx.db).await.map_err(&fail)?;
    let product = &view.scheme.product;
    let kept = super::form::kept(&format!("product:{}", product.code)).await?;
    let (form, option_form, route_form) = {
        let pick = |part: &str| kept.clone().filter(|k| k.value("part") == part);
        (
            pick("settings").unwrap_or_else(|| FormState::of(&ProductForm::of(&view))),
            pick("option").unwrap_or_else(|| {
                FormState::of(&OptionForm {
                    line_type: "1".into(),
                    min_quantity: "1".into(),
                    ..OptionForm::default()
                })
            }),
            pick("gateways")
                .unwrap_or_else(|| FormState::with(vec![("gateways", view.gateways.join(", "))])),
        )
    };
    Ok(ProductEditView {
        code: product.code.clone(),
        name: product.name.clone(),
        currency: product.unit_price.currency().code().to_owned(),
        form,
        merchants,
        options: view
            .scheme
            .prices
            .iter()
            .map(|p| OptionLine {
                id: p.id.to_string(),
                description: p.description.clone(),
                line_type: match p.line_type {
                    settle::purchase::LineType::Day => "Days",
                    settle::purchase::LineType::Monthly => "Months",
                    settle::purchase::LineType::OnceOff => "Once-off",
                }
                .to_owned(),
                price: p.unit_price.display().to_string(),
                period: p.period_per_quantity,
                quantities: format!("{} to {}", p.min_quantity, p.max_quantity),
            })
            .collect(),
        option_form,
        route_form,
        gateway_choices: gateways
            .into_iter()
            .map(|g| (g.id, g.name, g.kind.to_string(), g.enabled))
            .collect(),
    })
}

/// Answers a failed post of one part of the page (kept under the product's form name).
#[cfg(feature = "ssr")]
async fn back(
    code: &str,
    part: &str,
    mut state: FormState,
    e: settle::Error,
) -> Result<(), PageError> {
    state.values.push(("part".into(), part.into()));
    super::form::fail(&format!("product:{code}"), state, e, &product_href(code)).await
}

/// Saves a product's settings.
#[server(prefix = "/operator/api", endpoint = "product_update")]
pub async fn update_product(
    product: String,
    #[server(flatten)] form: ProductForm,
) -> Result<(), PageError> {
    use crate::flash::{Flash, redirect_with};
    use settle::product_config::store;
    let (_, actor) = crate::auth::actor(Role::Operator)?;
    let ctx = crate::context::page_context()?;
    let Some(stored) = store::find_by_code(&ctx.db, &product)
        .await
        .map_err(PageError::logged("loading a product"))?
    else {
        return redirect_with(Flash::error(NO_SUCH_PRODUCT), PRODUCTS).await;
    };
    let saved = match form.input().check(Some(stored.unit_price.currency())) {
        Ok(settings) => store::update(&ctx.db, &actor, &stored, &settings).await,
        Err(e) => Err(e),
    };
    match saved {
        Ok(()) => {
            let flash = Flash::success(format!(
                "{} saved. New purchases use these settings; purchases already made keep theirs.",
                stored.code
            ));
            redirect_with(flash, &product_href(&stored.code)).await
        }
        Err(e) => back(&stored.code, "settings", FormState::of(&form), e).await,
    }
}

/// Adds a price option.
#[server(prefix = "/operator/api", endpoint = "product_option_add")]
pub async fn add_option(
    product: String,
    #[server(flatten)] form: OptionForm,
) -> Result<(), PageError> {
    use crate::flash::{Flash, redirect_with};
    let (_, actor) = crate::auth::actor(Role::Operator)?;
    let ctx = crate::context::page_context()?;
    let input = settle::product_config::prices::PriceInput {
        line_type: form.line_type.clone(),
        description: form.description.clone(),
        unit_price: form.option_price.clone(),
        period_per_quantity: form.period_per_quantity.clone(),
        min_quantity: form.min_quantity.clone(),
        max_quantity: form.max_quantity.clone(),
    };
    match settle::product_config::prices::add(&ctx.db, &actor, &product, &input).await {
        Ok(price) => {
            let flash = Flash::success(format!("Option {} added.", price.description));
            redirect_with(flash, &product_href(&product)).await
        }
        Err(settle::Error::Validation(errors)) => {
            // The core names the price `unit_price`; on this page that field is `option_price`.
            let errors = errors
                .into_iter()
                .map(|e| if e.field == "unit_price" { e.at("option_price") } else { e })
                .collect();
            back(&product, "option", FormState::of(&form), settle::Error::Validation(errors)).await
        }
        Err(e) => back(&product, "option", FormState::of(&form), e).await,
    }
}

/// Removes a price option.
#[server(prefix = "/operator/api", endpoint = "product_option_remove")]
pub async fn remove_option(product: String, option: String) -> Result<(), PageError> {
    use crate::flash::{Flash, redirect_with};
    let (_, actor) = crate::auth::actor(Role::Operator)?;
    let ctx = crate::context::page_context()?;
    match settle::product_config::prices::remove(&ctx.db, &actor, &product, &option).await {
        Ok(()) => redirect_with(Flash::success("Option removed."), &product_href(&product)).await,
        Err(e) => back(&product, "option", FormState::default(), e).await,
    }
}

/// Sets the product's gateways in routing order (keys separated by commas).
#[server(prefix = "/operator/api", endpoint = "product_gateways")]
pub async fn set_gateways(product: String, gateways: String) -> Result<(), PageError> {
    use crate::flash::{Flash, redirect_with};
    let (_, actor) = crate::auth::actor(Role::Operator)?;
    let ctx = crate::context::page_context()?;
    let keys: Vec<String> = gateways.split(',').map(|g| g.trim().to_lowercase()).collect();
    match settle::product_config::route::set_order(&ctx.db, &actor, &product, &keys).await {
        Ok(()) => {
            let flash = Flash::success("Gateways saved: new payments are routed in this order.");
            redirect_with(flash, &product_href(&product)).await
        }
        Err(e) => {
            let state = FormState::with(vec![("gateways", gateways)]);
            back(&product, "gateways", state, e).await
        }
    }
}

/// The product page.
#[component]
pub fn ProductEditPage() -> impl IntoView {
    let code = use_params_map().with_untracked(|p| p.get("code")).unwrap_or_default();
    view! {
        <Layout title="Product".into()>
            <PageData heading="Product" load=load_product(code) let:v>
                <ProductEdit v />
            </PageData>
        </Layout>
    }
}

#[component]
fn ProductEdit(v: ProductEditView) -> impl IntoView {
    let update = ServerAction::<UpdateProduct>::new();
    let add = ServerAction::<AddOption>::new();
    let remove = ServerAction::<RemoveOption>::new();
    let route = ServerAction::<SetGateways>::new();
    let o = v.option_form;
    let order = &[
        "line_type",
        "description",
        "option_price",
        "period_per_quantity",
        "min_quantity",
        "max_quantity",
    ];
    let of = |n: &'static str| o.focus(order, n);
    let o_focus: Vec<bool> = order.iter().map(|n| of(n)).collect();
    let o_values: Vec<String> = order.iter().map(|n| o.value(n)).collect();
    let o_errors: Vec<Option<String>> = order.iter().map(|n| o.error(n)).collect();
    let code = v.code.clone();
    let (c1, c2, c3) = (v.code.clone(), v.code.clone(), v.code.clone());
    let route_value = v.route_form.value("gateways");
    let route_error = v.route_form.error("gateways");
    let route_focus = route_error.is_some();
    view! {
        <h1>{v.name.clone()} " " <code>{code.clone()}</code></h1>
        <p><a href=PRODUCTS>"All products"</a></p>
        <section class="card">
            <h2>"Settings"</h2>
            <p class="muted">{format!("Prices are in {}. Changes apply to new purchases only.", v.currency)}</p>
            <ActionForm action=update>
                <input type="hidden" name="product" value=c1 />
                <ProductFields state=v.form creating=false merchants=v.merchants />
                <SubmitButton label="Save settings" busy="Saving…" />
            </ActionForm>
        </section>
        <section class="card">
            <h2>"Options customers can buy"</h2>
            <div class="table-scroll">
                <table class="list">
                    <thead><tr><th>"Option"</th><th>"Adds"</th><th class="num">"Price a quantity (excl. tax)"</th><th>"Quantities"</th><th>"Remove"</th></tr></thead>
                    <tbody>
                        {v.options.into_iter().map(|line| {
                            let code = code.clone();
                            view! {
                                <tr>
                                    <td>{line.description.clone()}</td>
                                    <td>{format!("{} × {}", line.period, line.line_type)}</td>
                                    <td class="num">{line.price}</td>
                                    <td>{line.quantities}</td>
                                    <td>
                                        <ActionForm action=remove>
                                            <input type="hidden" name="product" value=code />
                                            <input type="hidden" name="option" value=line.id />
                                            <SubmitButton label=format!("Remove {}", line.description) busy="Removing…" class="secondary" />
                                        </ActionForm>
                                    </td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
            <h3>"Add an option"</h3>
            <ActionForm action=add>
                <input type="hidden" name="product" value=c2 />
                <SelectField label="Each quantity adds" name="line_type" options=vec![("1".into(), "Days".into()), ("2".into(), "Months".into()), ("3".into(), "Nothing (once-off)".into())] selected=o_values[0].clone() error=o_errors[0].clone() autofocus=o_focus[0] />
                <TextField label="Description" name="description" value=o_values[1].clone() error=o_errors[1].clone() autocomplete="off" hint="What customers see, such as 7 Day bundle." maxlength=200 autofocus=o_focus[1] />
                <TextField label="Price of one quantity (excluding tax)" name="option_price" value=o_values[2].clone() error=o_errors[2].clone() autocomplete="off" inputmode="decimal" autofocus=o_focus[2] />
                <TextField label="Days or months one quantity adds" name="period_per_quantity" value=o_values[3].clone() error=o_errors[3].clone() autocomplete="off" inputmode="numeric" autofocus=o_focus[3] />
                <TextField label="Fewest quantities at once" name="min_quantity" value=o_values[4].clone() error=o_errors[4].clone() autocomplete="off" inputmode="numeric" autofocus=o_focus[4] />
                <TextField label="Most quantities at once" name="max_quantity" value=o_values[5].clone() error=o_errors[5].clone() autocomplete="off" inputmode="numeric" autofocus=o_focus[5] />
                <SubmitButton label="Add option" busy="Adding…" />
            </ActionForm>
        </section>
        <section class="card">
            <h2>"Gateways, in routing order"</h2>
            <p class="muted">"New payments try these in order; disabled gateways are skipped."</p>
            <ul>
                {v.gateway_choices.into_iter().map(|(key, name, kind, enabled)| view! {
                    <li><code>{key}</code> " " {name} " (" {kind} ")" {(!enabled).then_some(" — disabled")}</li>
                }).collect_view()}
            </ul>
            <ActionForm action=route>
                <input type="hidden" name="product" value=c3 />
                <TextField label="Gateway keys, in order" name="gateways" value=route_value error=route_error autocomplete="off" hint="Separated by commas, first tried first, such as sandbox-card, invoice." autofocus=route_focus />
                <SubmitButton label="Save gateways" busy="Saving…" />
            </ActionForm>
        </section>
    }
}

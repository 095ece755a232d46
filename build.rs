//! `sqlx::migrate!` embeds the migrations at compile time; rebuild the core when one is added.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}

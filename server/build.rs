// `sqlx::migrate!` embeds the migrations when the crate compiles; without this, a migration
// added on its own would not make it compile again.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}

use leptos::prelude::*;

use crate::access::Identity;

/// Who the browser is signed in as, or `None` on the sign-in page.
#[server(endpoint = "current_identity")]
pub async fn current_identity() -> Result<Option<Identity>, ServerFnError> {
    Ok(super::identity())
}

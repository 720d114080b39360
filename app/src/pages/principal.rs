use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::api::events::{EventQuery, principal_name};
use crate::api::findings::FindingQuery;
use crate::api::grants::{PrincipalGrants, UngrantedRead, counted, principal_grants};
use crate::components::column_heads::ColumnHeads;
use crate::components::grants::{CheckNote, GrantTable};
use crate::components::load_failed::LoadFailed;
use crate::components::time::Timestamp;

/// `/principals/<ARN>`: what an IAM user or role can read, as the policies grant it, and what
/// it did read — unused grants first.
#[component]
pub fn PrincipalPage() -> impl IntoView {
    let arn = use_params_map().with_untracked(|params| params.get("arn").unwrap_or_default());
    let access = Resource::new(move || arn.clone(), principal_grants);
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading the principal…"</p> }>
            {move || Suspend::new(async move {
                match access.await {
                    Ok(access) => view! { <Principal access /> }.into_any(),
                    Err(error) => view! { <LoadFailed what="principal" error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Principal(access: PrincipalGrants) -> impl IntoView {
    let PrincipalGrants {
        principal,
        check,
        idle_days,
        grants,
        other_reads,
    } = access;
    let name = principal_name(&principal).to_string();
    let events = EventQuery {
        principal: Some(principal.clone()),
        ..EventQuery::default()
    };
    let findings = FindingQuery {
        principal: Some(principal.clone()),
        ..FindingQuery::default()
    };
    let unused = grants.iter().filter(|grant| grant.unused()).count();
    let can_read = counted(grants.len(), "secret");
    let summary = match (grants.len(), unused) {
        (0, _) => "The policies Trailkeeper read let it read no secret.".to_string(),
        (1, 1) => format!(
            "It can read 1 secret, and did not read it in the last {idle_days} days (an unused grant)."
        ),
        (_, 0) => format!("It can read {can_read} and read each in the last {idle_days} days."),
        (_, unused) => format!(
            "It can read {can_read}; it did not read {unused} of them in the last {idle_days} days (unused grants)."
        ),
    };
    view! {
        <Title text=name.clone() />
        <h1>{name}</h1>
        <p class="muted wrap" data-testid="principal-arn">{principal.clone()}</p>
        <p>
            <a href=format!("/events?{}", events.to_query_string())>"Its events"</a>
            " · "
            <a href=format!("/findings?{}", findings.to_query_string())>"Its findings"</a>
        </p>
        <section class="panel" aria-labelledby="can-read-heading" data-testid="can-read">
            <h2 id="can-read-heading">"Can read"</h2>
            <CheckNote check />
            <p data-testid="can-read-summary">{summary}</p>
            {(!grants.is_empty()).then(|| view! { <GrantTable grants idle_days by_principal=false /> })}
        </section>
        <section class="panel" aria-labelledby="other-reads-heading" data-testid="other-reads">
            <h2 id="other-reads-heading">"Read without a grant on record"</h2>
            <p class="muted">
                {format!(
                    "Secrets it read in the last {idle_days} days that no stored grant explains: \
                     a principal of another account, a grant since removed, or a policy that \
                     could not be read."
                )}
            </p>
            <OtherReads reads=other_reads />
        </section>
    }
}

#[component]
fn OtherReads(reads: Vec<UngrantedRead>) -> impl IntoView {
    if reads.is_empty() {
        return view! { <p class="muted">"None."</p> }.into_any();
    }
    view! {
        <table class="data">
            <ColumnHeads names=&["Secret", "Reads", "Last read"] />
            <tbody>
                {reads
                    .into_iter()
                    .map(|read| {
                        let name = read.secret_name.clone().unwrap_or_else(|| read.secret_arn.clone());
                        view! {
                            <tr data-secret=read.secret_arn.clone()>
                                <td class="wrap"><a href=format!("/secrets/{}", read.secret_arn)>{name}</a></td>
                                <td>{read.reads}</td>
                                <td class="nowrap"><Timestamp at=read.last_read_at /></td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

//! `/changes`: changes to secrets waiting for a second admin (with `TRAILKEEPER_APPROVALS`
//! on), and what became of them. Another admin approves or rejects each; the person who
//! asked can only withdraw theirs.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::changes::{ApprovalStatus, ChangeApproval, DecideChange, list_change_approvals};
use crate::api::identity::current_identity;
use crate::components::action_outcome::ActionOutcome;
use crate::components::column_heads::ColumnHeads;
use crate::components::load_failed::LoadFailed;
use crate::components::time::Timestamp;

#[component]
pub fn ChangesPage() -> impl IntoView {
    view! {
        <Title text="Changes" />
        <div class="page-head">
            <h1>"Changes"</h1>
        </div>
        <p class="muted">
            "Changes to secrets that wait for a second admin, and what became of them. Nobody approves their own; a request not decided in time expires. Approved, the change goes to AWS as the person who asked it."
        </p>
        <Requested />
    }
}

/// The requests, each decided here, read again after every decision.
#[island(lazy)]
fn Requested() -> impl IntoView {
    let decide = ServerAction::<DecideChange>::new();
    let approvals = Resource::new(move || decide.version().get(), |_| list_change_approvals());
    let me = Resource::new(|| (), |_| current_identity());
    view! {
        <ActionOutcome
            value=decide.value()
            done=|decided: ChangeApproval| {
                format!(
                    "Request {} {}: {}",
                    decided.id,
                    decided.status.as_str(),
                    decided.outcome.unwrap_or(decided.summary),
                )
            }
            testid="decision-outcome"
        />
        <Suspense fallback=|| view! { <p class="muted">"Loading the changes…"</p> }>
            {move || Suspend::new(async move {
                let me = me.await.map(|identity| identity.name).unwrap_or_default();
                match approvals.await {
                    Ok(requests) if requests.is_empty() => {
                        view! {
                            <p class="muted" data-testid="no-changes">
                                "No change has waited for approval. Turn approvals on with TRAILKEEPER_APPROVALS=destructive or all."
                            </p>
                        }
                            .into_any()
                    }
                    Ok(requests) => view! { <Requests requests me decide /> }.into_any(),
                    Err(error) => view! { <LoadFailed what="changes" error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Requests(
    requests: Vec<ChangeApproval>,
    me: String,
    decide: ServerAction<DecideChange>,
) -> impl IntoView {
    view! {
        <table class="data" data-testid="changes">
            <ColumnHeads names=&["Asked", "Secret", "Change and reason", "Status", "Decision"] />
            <tbody>
                {requests
                    .into_iter()
                    .map(|request| {
                        let mine = request.requested_by == me;
                        view! { <Request request mine decide /> }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn Request(
    request: ChangeApproval,
    mine: bool,
    decide: ServerAction<DecideChange>,
) -> impl IntoView {
    let decision = match request.status {
        ApprovalStatus::Pending => {
            let approve = (!mine).then(|| {
                view! {
                    <button type="submit" name="decision" value="approve">
                        "Approve"
                    </button>
                }
            });
            view! {
                <ActionForm action=decide attr:class="filters">
                    <input type="hidden" name="id" value=request.id />
                    <label>
                        "Comment"
                        <input type="text" name="comment" />
                    </label>
                    {approve}
                    <button type="submit" name="decision" value="reject">
                        {if mine { "Withdraw" } else { "Reject" }}
                    </button>
                </ActionForm>
                {mine.then(|| view! { <p class="muted small">"Another admin must approve it."</p> })}
                <p class="muted small">"Expires " <Timestamp at=request.expires_at /></p>
            }
            .into_any()
        }
        _ => view! {
            <p>
                {request.decided_by.clone().unwrap_or_default()}
                " "
                {request.decided_at.map(|at| view! { <Timestamp at /> })}
            </p>
            {request.comment.clone().map(|comment| view! { <p class="muted">{comment}</p> })}
            {request.outcome.clone().map(|outcome| view! { <p class="small">{outcome}</p> })}
        }
        .into_any(),
    };
    view! {
        <tr data-request=request.id data-status=request.status.as_str()>
            <td>
                <Timestamp at=request.requested_at />
                <br />
                {request.requested_by.clone()}
            </td>
            <td>
                <a href=format!("/secrets/{}", request.secret_arn)>{request.secret_name.clone()}</a>
            </td>
            <td>
                {request.summary.clone()}
                <p class="muted small">{request.reason.clone()}</p>
            </td>
            <td>
                <span class=format!("badge status-{}", request.status.as_str())>
                    {request.status.as_str()}
                </span>
            </td>
            <td>{decision}</td>
        </tr>
    }
}

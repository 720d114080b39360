//! Did the rotation land: for each recent rotation of a secret, its consumers before and
//! after, the ones still asking for the old version, failing or gone quiet first.

use leptos::prelude::*;

use crate::AppError;
use crate::api::events::{EventQuery, principal_name};
use crate::api::rotations::{ConsumerVerdict, RotationImpact, RotationOutcome};
use crate::components::column_heads::ColumnHeads;
use crate::components::load_failed::LoadFailed;
use crate::components::time::Timestamp;

#[component]
pub fn RotationImpacts(
    secret_arn: String,
    rotations: Result<Vec<RotationImpact>, AppError>,
) -> impl IntoView {
    let body = match rotations {
        Err(error) => view! { <LoadFailed what="rotation impact" error /> }.into_any(),
        Ok(rotations) if rotations.is_empty() => {
            view! { <p class="muted" data-testid="rotations-none">"No rotation in the last year."</p> }
                .into_any()
        }
        Ok(rotations) => rotations
            .into_iter()
            .map(|rotation| view! { <Rotation secret_arn=secret_arn.clone() rotation /> })
            .collect_view()
            .into_any(),
    };
    view! {
        <section class="panel" id="rotations" aria-labelledby="rotations-heading" data-testid="rotation-impact">
            <h2 id="rotations-heading">"Rotation impact"</h2>
            <p class="muted">
                "Who read the secret in the week before each rotation and after it, and whether \
                 each moved on to the new value."
            </p>
            {body}
        </section>
    }
}

#[component]
fn Rotation(secret_arn: String, rotation: RotationImpact) -> impl IntoView {
    let outcome = match rotation.outcome {
        RotationOutcome::Succeeded => "outcome-succeeded",
        RotationOutcome::Failed | RotationOutcome::Abandoned => "outcome-failed",
    };
    let concerns = rotation
        .consumers
        .iter()
        .filter(|consumer| consumer.verdict.is_concern())
        .count();
    let summary = match (rotation.consumers.len(), concerns) {
        (0, _) => "Nobody read the secret around it.".to_string(),
        (all, 0) => format!("All {all} consumers moved on."),
        (all, concerns) => format!("{concerns} of {all} consumers need a look."),
    };
    let versions = rotation.new_version.clone().map(|new| {
        let old = rotation
            .superseded_version
            .clone()
            .unwrap_or_else(|| "unknown".into());
        view! {
            <p class="muted small">
                "AWSCURRENT moved from " <code>{old}</code> " to " <code>{new}</code>
            </p>
        }
    });
    let events_of = move |principal: &str| {
        let query = EventQuery {
            secret: Some(secret_arn.clone()),
            principal: Some(principal.to_string()),
            event_name: Some("GetSecretValue".into()),
            since: Some(rotation.before_since),
            until: Some(rotation.after_until),
            ..EventQuery::default()
        };
        format!("/events?{}", query.to_query_string())
    };
    view! {
        <article class="rotation" data-testid="rotation">
            <h3>
                <span class=format!("badge {outcome}")>{rotation.outcome.label()}</span>
                " rotation ended " <Timestamp at=rotation.ended_at />
                {rotation.started_at.map(|at| view! { <span class="muted small">" (started " <Timestamp at /> ")"</span> })}
            </h3>
            {rotation.message.clone().map(|message| view! { <p class="muted">"AWS said: " {message}</p> })}
            {versions}
            <p data-testid="rotation-summary">{summary}</p>
            {(!rotation.consumers.is_empty()).then(|| view! {
                <table class="data" data-testid="rotation-consumers">
                    <ColumnHeads names=&["Consumer", "Since the rotation", "Reads before", "Current reads after", "Old-version reads after", "Failures after", "Last read"] />
                    <tbody>
                        {rotation
                            .consumers
                            .iter()
                            .map(|consumer| {
                                let badge = match consumer.verdict {
                                    ConsumerVerdict::StaleVersion | ConsumerVerdict::Failing => "status-stuck",
                                    ConsumerVerdict::StoppedReading => "status-due_soon",
                                    ConsumerVerdict::MovedOn => "status-healthy",
                                    ConsumerVerdict::New => "status-disabled",
                                };
                                view! {
                                    <tr data-principal=consumer.principal.clone()>
                                        <td class="wrap" title=consumer.principal.clone()>
                                            <a href=events_of(&consumer.principal)>
                                                {principal_name(&consumer.principal).to_string()}
                                            </a>
                                        </td>
                                        <td>
                                            <span class=format!("badge {badge}") data-testid="consumer-verdict">
                                                {consumer.verdict.label()}
                                            </span>
                                        </td>
                                        <td>{consumer.reads_before}</td>
                                        <td>{consumer.current_reads_after}</td>
                                        <td>{consumer.stale_reads_after}</td>
                                        <td title=consumer.error_codes_after.join(", ")>{consumer.failures_after}</td>
                                        <td class="nowrap"><Timestamp at=consumer.last_read_at /></td>
                                    </tr>
                                }
                            })
                            .collect_view()}
                    </tbody>
                </table>
            })}
        </article>
    }
}

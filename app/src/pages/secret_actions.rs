//! The secret page's Actions, for admins: what they can change about the secret in AWS (never
//! its value), each with the reason the audit log keeps next to their name.

use leptos::form::ActionForm;
use leptos::prelude::*;

use crate::api::secrets::{ChangeSecret, RECOVERY_DAYS, SecretSummary, SecretVersion};

/// Which actions the secret's state allows, from what the inventory last read.
struct Allowed {
    scheduled: bool,
    rotate: bool,
    roll_back: bool,
    clear_pending: bool,
}

impl Allowed {
    fn of(summary: &SecretSummary, versions: &[SecretVersion]) -> Allowed {
        let holding = |label: &str| {
            versions
                .iter()
                .find(|version| version.labels.iter().any(|held| held == label))
                .map(|version| version.version_id.as_str())
        };
        let scheduled = summary.deleted_at.is_some();
        Allowed {
            scheduled,
            rotate: !scheduled && summary.rotation_enabled,
            roll_back: !scheduled
                && holding("AWSCURRENT").is_some()
                && holding("AWSPREVIOUS").is_some(),
            clear_pending: !scheduled
                && holding("AWSPENDING")
                    .is_some_and(|pending| Some(pending) != holding("AWSCURRENT")),
        }
    }
}

#[component]
pub fn SecretActions(
    summary: SecretSummary,
    versions: Vec<SecretVersion>,
    change: ServerAction<ChangeSecret>,
) -> impl IntoView {
    let allowed = Allowed::of(&summary, &versions);
    let button = |action: &'static str, label: &'static str| {
        view! {
            <button type="submit" name="action" value=action>
                {label}
            </button>
        }
    };
    let name = summary.name.clone();
    let deletion = (!allowed.scheduled).then(|| {
        view! {
            <fieldset class="danger" data-testid="delete-secret">
                <legend>"Schedule deletion"</legend>
                <label>
                    "Restorable for (days)"
                    <input
                        type="number"
                        name="recovery_days"
                        min=*RECOVERY_DAYS.start()
                        max=*RECOVERY_DAYS.end()
                        value=*RECOVERY_DAYS.end()
                    />
                </label>
                <label>
                    {format!("Type {name} to confirm")}
                    <input type="text" name="confirm" autocomplete="off" />
                </label>
                {button("delete", "Schedule deletion")}
                <p class="muted small">
                    "AWS keeps the secret, restorable, for the days given, then deletes it and its versions. Trailkeeper never deletes at once."
                </p>
            </fieldset>
        }
    });
    view! {
        <section class="panel" aria-labelledby="actions-heading" data-testid="secret-actions">
            <h2 id="actions-heading">"Actions"</h2>
            <p class="muted small">
                "Each change goes to AWS at once and is recorded in the audit log with your name and reason. The secret's value is never read or written."
            </p>
            <ActionForm action=change attr:class="filters">
                <input type="hidden" name="id" value=summary.arn.clone() />
                <label class="wide">
                    "Reason"
                    <input type="text" name="reason" placeholder="why, for the audit log" />
                </label>
                {allowed.scheduled.then(|| button("restore", "Restore"))}
                {allowed.rotate.then(|| button("rotate", "Rotate now"))}
                {allowed.roll_back.then(|| button("rollback", "Roll back to the previous version"))}
                {allowed.clear_pending.then(|| button("clear-pending", "Clear the stuck rotation"))}
                {deletion}
            </ActionForm>
        </section>
    }
}

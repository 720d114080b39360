//! The secret page's Actions, for admins: what they can change about the secret in AWS (never
//! its value), each a small form with the reason the audit log keeps next to their name.
//! A change that destroys, takes protection away or widens access asks for the secret's name
//! typed, and says what it will do.

use leptos::form::ActionForm;
use leptos::prelude::*;

use crate::api::admin::{ChangeSecret, RECOVERY_DAYS};
use crate::api::secrets::{Replica, RotationSettings, SecretSummary, SecretVersion};

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

/// What the secret's Actions start from.
pub struct Current {
    pub summary: SecretSummary,
    pub versions: Vec<SecretVersion>,
    pub rotation: RotationSettings,
    pub replicas: Vec<Replica>,
    pub resource_policy: Option<String>,
}

fn submit(action: &'static str, label: &'static str) -> impl IntoView {
    view! {
        <button type="submit" name="action" value=action>
            {label}
        </button>
    }
}

/// One change's form: the secret, the reason, the change's own fields.
#[component]
fn ChangeForm(
    change: ServerAction<ChangeSecret>,
    arn: String,
    testid: &'static str,
    children: Children,
) -> impl IntoView {
    view! {
        <ActionForm action=change attr:class="filters" attr:data-testid=testid>
            <input type="hidden" name="id" value=arn />
            <label class="wide">
                "Reason"
                <input type="text" name="reason" placeholder="why, for the audit log" />
            </label>
            {children()}
        </ActionForm>
    }
}

/// The secret's name typed to confirm `consequence`.
fn confirmation(name: &str, consequence: String) -> impl IntoView {
    view! {
        <label>
            {format!("Type {name} to confirm")}
            <input type="text" name="confirm" autocomplete="off" />
        </label>
        <p class="muted small">{consequence}</p>
    }
}

#[component]
pub fn SecretActions(current: Current, change: ServerAction<ChangeSecret>) -> impl IntoView {
    let Current {
        summary,
        versions,
        rotation,
        replicas,
        resource_policy,
    } = current;
    let allowed = Allowed::of(&summary, &versions);
    let (arn, name) = (summary.arn.clone(), summary.name.clone());
    let form = {
        let arn = arn.clone();
        move |testid: &'static str, children: Children| {
            view! { <ChangeForm change arn=arn.clone() testid children /> }
        }
    };
    let labels = form(
        "labels-form",
        Box::new(move || {
            view! {
                {allowed.scheduled.then(|| submit("restore", "Restore"))}
                {allowed.rotate.then(|| submit("rotate", "Rotate now"))}
                {allowed.roll_back.then(|| submit("rollback", "Roll back to the previous version"))}
                {allowed.clear_pending.then(|| submit("clear-pending", "Clear the stuck rotation"))}
            }
            .into_any()
        }),
    );
    if allowed.scheduled {
        // A secret scheduled for deletion can only be restored.
        return view! {
            <ActionsPanel>{labels}</ActionsPanel>
        }
        .into_any();
    }

    let schedule = rotation
        .schedule_expression
        .clone()
        .or_else(|| {
            rotation
                .automatically_after_days
                .map(|days| format!("rate({days} days)"))
        })
        .unwrap_or_else(|| "rate(30 days)".into());
    let rotation_form = form(
        "rotation-form",
        Box::new(move || {
            view! {
                <label>
                    "Schedule"
                    <input type="text" name="schedule" value=schedule />
                </label>
                <label>
                    "Window (1h–24h)"
                    <input
                        type="text"
                        name="window"
                        placeholder="AWS's default"
                        value=rotation.window.clone().unwrap_or_default()
                    />
                </label>
                <label class="wide">
                    "Rotation function ARN"
                    <input
                        type="text"
                        name="function_arn"
                        placeholder="the one AWS has"
                        value=rotation.lambda_arn.clone().unwrap_or_default()
                    />
                </label>
                <label class="inline">
                    <input type="checkbox" name="immediately" value="true" />
                    "Rotate now too"
                </label>
                {submit("rotation", if rotation.enabled { "Change rotation" } else { "Turn rotation on" })}
            }
            .into_any()
        }),
    );
    let rotation_off = rotation.enabled.then(|| {
        let consequence = format!(
            "AWS stops rotating {name}; its current value stays in use until rotation is turned on again."
        );
        let name = name.clone();
        form(
            "rotation-off-form",
            Box::new(move || {
                view! {
                    <input type="hidden" name="enabled" value="false" />
                    {confirmation(&name, consequence)}
                    {submit("rotation", "Turn rotation off")}
                }
                .into_any()
            }),
        )
    });
    let tags = summary
        .tags
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join("\n");
    let tags_form = form(
        "tags-form",
        Box::new(move || {
            view! {
                <label class="wide">
                    "Tags to set (key=value, one per line)"
                    <textarea name="tags" rows="3">{tags}</textarea>
                </label>
                <label>
                    "Tag keys to remove"
                    <input type="text" name="remove_tags" placeholder="key, key" />
                </label>
                {submit("tags", "Save tags")}
            }
            .into_any()
        }),
    );
    let description = summary.description.clone().unwrap_or_default();
    let kms_key = summary.kms_key_id.clone().unwrap_or_default();
    let update_form = form(
        "update-form",
        Box::new(move || {
            view! {
                <label class="wide">
                    "Description"
                    <input type="text" name="description" value=description />
                </label>
                <label class="wide">
                    "KMS key (ARN, id or alias)"
                    <input type="text" name="kms_key_id" placeholder="aws/secretsmanager" value=kms_key />
                </label>
                {submit("update", "Save description and key")}
            }
            .into_any()
        }),
    );
    let replicate_form = form(
        "replicate-form",
        Box::new(move || {
            view! {
                <label class="wide">
                    "Regions (region=KMS key, comma separated)"
                    <input type="text" name="regions" placeholder="eu-west-1, us-east-2=alias/orders" />
                </label>
                {submit("replicate", "Replicate")}
            }
            .into_any()
        }),
    );
    let replica_removals = replicas
        .into_iter()
        .map(|replica| {
            let region = replica.region;
            let consequence = format!(
                "AWS deletes the replica of {name} in {region}; what reads it there fails."
            );
            let name = name.clone();
            form(
                "remove-replica-form",
                Box::new(move || {
                    view! {
                        <input type="hidden" name="region" value=region.clone() />
                        {confirmation(&name, consequence)}
                        {submit("remove-replica", "Remove this replica")}
                    }
                    .into_any()
                }),
            )
        })
        .collect_view();
    let had_policy = resource_policy.is_some();
    let policy_form = form(
        "policy-form",
        Box::new({
            let name = name.clone();
            move || {
                view! {
                    <label class="wide">
                        "Resource policy (JSON)"
                        <textarea name="policy" rows="8" spellcheck="false">
                            {resource_policy.unwrap_or_default()}
                        </textarea>
                    </label>
                    {confirmation(
                        &name,
                        "AWS validates the policy first, and blocks one that would let anyone use the secret. A policy that opens the secret to another account needs the name typed; the answer says whom it opens it to.".into(),
                    )}
                    {submit("policy", "Save the policy")}
                }
                .into_any()
            }
        }),
    );
    let policy_removal = had_policy.then(|| {
        let consequence = format!(
            "AWS deletes the resource policy of {name}, with whatever it allows and denies."
        );
        let name = name.clone();
        form(
            "remove-policy-form",
            Box::new(move || {
                view! {
                    <input type="hidden" name="remove_policy" value="true" />
                    {confirmation(&name, consequence)}
                    {submit("policy", "Delete the policy")}
                }
                .into_any()
            }),
        )
    });
    let deletion = form(
        "delete-secret",
        Box::new(move || {
            view! {
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
                {confirmation(
                    &name,
                    "AWS keeps the secret, restorable, for the days given, then deletes it and its versions. Trailkeeper never deletes at once.".into(),
                )}
                {submit("delete", "Schedule deletion")}
            }
            .into_any()
        }),
    );
    view! {
        <ActionsPanel>
            {labels}
            <details data-testid="rotation-actions">
                <summary>"Rotation settings"</summary>
                {rotation_form}
                {rotation_off.map(|form| view! { <div class="danger">{form}</div> })}
            </details>
            <details data-testid="label-actions">
                <summary>"Tags, description and KMS key"</summary>
                {tags_form}
                {update_form}
            </details>
            <details data-testid="replication-actions">
                <summary>"Replication"</summary>
                {replicate_form}
                <div class="danger">{replica_removals}</div>
            </details>
            <details data-testid="policy-actions">
                <summary>"Resource policy"</summary>
                {policy_form}
                {policy_removal.map(|form| view! { <div class="danger">{form}</div> })}
            </details>
            <details class="danger" data-testid="deletion-actions">
                <summary>"Schedule deletion"</summary>
                {deletion}
            </details>
        </ActionsPanel>
    }
    .into_any()
}

#[component]
fn ActionsPanel(children: Children) -> impl IntoView {
    view! {
        <section class="panel actions" aria-labelledby="actions-heading" data-testid="secret-actions">
            <h2 id="actions-heading">"Actions"</h2>
            <p class="muted small">
                "Each change goes to AWS at once and is recorded in the audit log with your name and reason. The secret's value is never read or written."
            </p>
            {children()}
        </section>
    }
}

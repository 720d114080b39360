use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use serde::{Deserialize, Serialize};

use crate::AppError;
use crate::api::admin::{ChangeOutcome, ChangeSecret};
use crate::api::events::{AccessReport, EventQuery, principal_name, secret_access};
use crate::api::grants::{SecretReaders, secret_readers};
use crate::api::identity::page_offers_changes;
use crate::api::query;
use crate::api::rotations::{RotationImpact, secret_rotations};
use crate::api::secrets::{
    LabelMove, PolicyExposure, PolicyFlag, SecretChange, SecretDetail, SecretLookup, SecretSummary,
    SecretVersion, account_label, get_secret,
};
use crate::components::access_report::{AccessSection, period};
use crate::components::action_outcome::ActionOutcome;
use crate::components::badges::{FindingsBadge, FlagBadges, StatusBadge};
use crate::components::column_heads::ColumnHeads;
use crate::components::grants::WhoCanRead;
use crate::components::load_failed::LoadFailed;
use crate::components::rotation_impact::RotationImpacts;
use crate::components::through_trailkeeper::ThroughTrailkeeper;
use crate::components::time::Timestamp;
use crate::components::version_timeline::{Milestone, VersionTimeline};
use crate::pages::secret_actions::{Current, SecretActions};

/// `/secrets/<name or ARN>`: one secret in full. Everything AWS wrote (names, tags,
/// descriptions, policies) is shown as text, never as markup.
#[component]
pub fn SecretPage() -> impl IntoView {
    let id = use_params_map().with_untracked(|params| params.get("id").unwrap_or_default());
    let search = query::page_query();
    // Only admins act on the page, so only their page is an island that runs in the browser.
    if page_offers_changes() {
        view! { <ManagedSecret id search /> }.into_any()
    } else {
        view! { <Secret id search changes_made=Signal::stored(0) actions=None /> }.into_any()
    }
}

/// The secret with the admin's Actions, read again after a change went through (a refused
/// one keeps the form as typed).
#[island(lazy)]
fn ManagedSecret(id: String, search: String) -> impl IntoView {
    let change = ServerAction::<ChangeSecret>::new();
    let changes_made = RwSignal::new(0_u32);
    Effect::new(move || {
        if change.value().with(|value| matches!(value, Some(Ok(_)))) {
            changes_made.update(|made| *made += 1);
        }
    });
    view! {
        <ActionOutcome
            value=change.value()
            done=|outcome: ChangeOutcome| outcome.summary
            testid="change-outcome"
        />
        <Secret id search changes_made actions=Some(change) />
    }
}

/// The secret named `id`, read again whenever `changes_made` moves; `search` is the URL
/// query, which picks the Access section's period.
#[component]
fn Secret(
    id: String,
    search: String,
    #[prop(into)] changes_made: Signal<u32>,
    actions: Option<ServerAction<ChangeSecret>>,
) -> impl IntoView {
    let period = StoredValue::new(period(&search));
    let id = StoredValue::new(id);
    // The access report comes with the secret it is about (it needs the secret's ARN), in
    // one resource: an island's data must all be asked for when it is made.
    let lookup = Resource::new(
        move || (id.get_value(), changes_made.get()),
        move |(id, _)| async move {
            Ok::<_, AppError>(match get_secret(id).await? {
                SecretLookup::Found(detail) => {
                    let period = period.get_value().to_query_string();
                    let access = secret_access(detail.summary.arn.clone(), period).await;
                    let rotations = secret_rotations(detail.summary.arn.clone()).await;
                    let readers = secret_readers(detail.summary.arn.clone()).await;
                    Loaded::Found(Box::new(Found {
                        detail: *detail,
                        access,
                        rotations,
                        readers,
                    }))
                }
                SecretLookup::Ambiguous(secrets) => Loaded::Ambiguous(secrets),
                SecretLookup::NotFound => Loaded::NotFound,
            })
        },
    );

    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading the secret…"</p> }>
            {move || Suspend::new(async move {
                match lookup.await {
                    Ok(Loaded::Found(found)) => {
                        let Found { detail, access, rotations, readers } = *found;
                        let access = (access, period.get_value());
                        view! { <Detail detail access rotations readers actions /> }.into_any()
                    }
                    Ok(Loaded::Ambiguous(secrets)) => {
                        view! { <Ambiguous name=id.get_value() secrets /> }.into_any()
                    }
                    Ok(Loaded::NotFound) => {
                        view! {
                            <Title text="No such secret" />
                            <h1>"No such secret"</h1>
                            <p data-testid="secret-not-found">
                                {format!("The inventory has no secret named {:?}. ", id.get_value())}
                                <a href="/secrets">"All secrets"</a>
                            </p>
                        }
                            .into_any()
                    }
                    Err(error) => view! { <LoadFailed what="secret" error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// What the page shows: a secret with its access report, its rotations' impact and who can
/// read it, or why there is none.
#[derive(Clone, Serialize, Deserialize)]
enum Loaded {
    Found(Box<Found>),
    Ambiguous(Vec<SecretSummary>),
    NotFound,
}

#[derive(Clone, Serialize, Deserialize)]
struct Found {
    detail: SecretDetail,
    access: Result<AccessReport, AppError>,
    rotations: Result<Vec<RotationImpact>, AppError>,
    readers: Result<SecretReaders, AppError>,
}

#[component]
fn Ambiguous(name: String, secrets: Vec<SecretSummary>) -> impl IntoView {
    view! {
        <Title text=name.clone() />
        <h1>{name.clone()}</h1>
        <p>{format!("{} secrets have this name. Which one?", secrets.len())}</p>
        <ul data-testid="secret-choices">
            {secrets
                .into_iter()
                .map(|secret| {
                    view! {
                        <li>
                            <a href=format!("/secrets/{}", secret.arn)>{secret.arn.clone()}</a>
                            " "
                            <StatusBadge status=secret.rotation_status />
                        </li>
                    }
                })
                .collect_view()}
        </ul>
    }
}

fn when(at: Option<DateTime<Utc>>, missing: &'static str) -> AnyView {
    match at {
        Some(at) => view! { <Timestamp at /> }.into_any(),
        None => view! { <span class="muted">{missing}</span> }.into_any(),
    }
}

fn or_dash(text: Option<String>) -> AnyView {
    match text {
        Some(text) => view! { <span>{text}</span> }.into_any(),
        None => view! { <span class="muted">"—"</span> }.into_any(),
    }
}

/// The secret; with `actions`, the admin's Actions area too.
#[component]
fn Detail(
    detail: SecretDetail,
    /// Who used it, over which period.
    access: (Result<AccessReport, AppError>, EventQuery),
    /// Its recent rotations and their consumers.
    rotations: Result<Vec<RotationImpact>, AppError>,
    /// Who can read it.
    readers: Result<SecretReaders, AppError>,
    actions: Option<ServerAction<ChangeSecret>>,
) -> impl IntoView {
    let SecretDetail {
        summary,
        created_at,
        last_changed_at,
        rotation,
        primary_region,
        replicas,
        resource_policy,
        policy_flags,
        versions,
        label_history,
        changes,
        first_seen_at,
        last_seen_at,
    } = detail;
    let actions = actions.map(|change| {
        let current = Current {
            summary: summary.clone(),
            versions: versions.clone(),
            rotation: rotation.clone(),
            replicas: replicas.clone(),
            resource_policy: resource_policy.clone(),
        };
        (change, current)
    });
    let gone = summary.gone_since.map(|since| {
        view! {
            <p class="notice error" data-testid="secret-gone">
                "AWS no longer lists this secret (since " <Timestamp at=since />
                "). Its record is kept."
            </p>
        }
    });
    let deletion = summary.deleted_at.map(|at| {
        view! {
            <p class="notice error">"Deletion scheduled (AWS deletion date " <Timestamp at /> ")."</p>
        }
    });
    let milestones: Vec<Milestone> = [
        ("created", created_at),
        ("last changed", last_changed_at),
        ("last rotated", summary.last_rotated_at),
        ("next rotation", summary.next_rotation_at),
    ]
    .into_iter()
    .filter_map(|(what, at)| Some((what, at?)))
    .collect();
    let raw_schedule = rotation.schedule_expression.clone().or_else(|| {
        rotation
            .automatically_after_days
            .map(|days| format!("AutomaticallyAfterDays = {days}"))
    });
    let replication =
        if let Some(primary) = primary_region.filter(|primary| *primary != summary.region) {
            view! { <p>"A replica of the secret in " <strong>{primary}</strong> "."</p> }.into_any()
        } else if replicas.is_empty() {
            view! { <p class="muted">"Not replicated."</p> }.into_any()
        } else {
            view! {
            <table class="data" data-testid="replicas">
                <ColumnHeads names=&["Region", "Status", "KMS key"] />
                <tbody>
                    {replicas
                        .into_iter()
                        .map(|replica| {
                            view! {
                                <tr>
                                    <td>{replica.region}</td>
                                    <td title=replica.status_message>{or_dash(replica.status)}</td>
                                    <td>{or_dash(replica.kms_key_id)}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        }
            .into_any()
        };
    let tags = if summary.tags.is_empty() {
        view! { <p class="muted">"No tags."</p> }.into_any()
    } else {
        view! {
            <dl class="facts" data-testid="secret-tags">
                {summary
                    .tags
                    .iter()
                    .map(|(key, value)| view! { <dt>{key.clone()}</dt><dd>{value.clone()}</dd> })
                    .collect_view()}
            </dl>
        }
        .into_any()
    };

    view! {
        <Title text=summary.name.clone() />
        <p class="breadcrumb">
            <a href="/secrets">"Secrets"</a>
            " / "
            {summary.region.clone()}
        </p>
        <div class="title-with-badges">
            <h1 data-testid="secret-name">{summary.name.clone()}</h1>
            <StatusBadge status=summary.rotation_status />
            <FlagBadges flags=summary.flags.clone() />
            <FindingsBadge secret=summary.clone() />
        </div>
        <p class="muted arn">
            <code>{summary.arn.clone()}</code>
        </p>
        {summary.description.clone().map(|text| view! { <p>{text}</p> })}
        {gone}
        {deletion}
        {actions.map(|(change, current)| view! { <SecretActions current change /> })}
        <div class="cards">
            <section class="panel" aria-labelledby="rotation-heading" data-testid="rotation-card">
                <h2 id="rotation-heading">"Rotation"</h2>
                <p>
                    <StatusBadge status=summary.rotation_status />
                    " "
                    <span data-testid="rotation-reason">{summary.rotation_reason.clone()}</span>
                </p>
                <dl class="facts">
                    <dt>"Enabled"</dt>
                    <dd>{if rotation.enabled { "yes" } else { "no" }}</dd>
                    <dt>"Schedule"</dt>
                    <dd>
                        {or_dash(rotation.schedule.clone())}
                        {raw_schedule.map(|raw| view! { <div class="muted"><code>{raw}</code></div> })}
                    </dd>
                    <dt>"Window"</dt>
                    <dd>{or_dash(rotation.window.clone())}</dd>
                    <dt>"Last rotated"</dt>
                    <dd>{when(summary.last_rotated_at, "never")}</dd>
                    <dt>"Next rotation"</dt>
                    <dd>{when(summary.next_rotation_at, "not scheduled")}</dd>
                    <dt>"Lambda"</dt>
                    <dd class="wrap">{or_dash(rotation.lambda_arn.clone())}</dd>
                </dl>
            </section>
            <section class="panel" aria-labelledby="encryption-heading">
                <h2 id="encryption-heading">"Encryption and ownership"</h2>
                <dl class="facts">
                    <dt>"KMS key"</dt>
                    <dd class="wrap">
                        {summary
                            .kms_key_id
                            .clone()
                            .unwrap_or_else(|| "aws/secretsmanager (the account's default key)".into())}
                    </dd>
                    <dt>"Account"</dt>
                    <dd>
                        {account_label(&summary.account_id, summary.account_name.as_deref())}
                    </dd>
                    <dt>"Managed by"</dt>
                    <dd>{or_dash(summary.owning_service.clone())}</dd>
                    <dt>"Created"</dt>
                    <dd>{when(created_at, "unknown")}</dd>
                    <dt>"Last changed"</dt>
                    <dd>{when(last_changed_at, "unknown")}</dd>
                    <dt>"Last accessed"</dt>
                    <dd>{when(summary.last_accessed_at, "never")}</dd>
                    <dt>"In the inventory"</dt>
                    <dd>
                        "first seen " <Timestamp at=first_seen_at /> ", last seen "
                        <Timestamp at=last_seen_at />
                    </dd>
                </dl>
            </section>
            <section class="panel" aria-labelledby="replication-heading">
                <h2 id="replication-heading">"Replication"</h2>
                {replication}
            </section>
            <section class="panel" aria-labelledby="tags-heading">
                <h2 id="tags-heading">"Tags"</h2>
                {tags}
            </section>
        </div>
        <AccessSection report=access.0 period=access.1 />
        <WhoCanRead readers />
        <RotationImpacts secret_arn=summary.arn.clone() rotations />
        <Policy policy=resource_policy flags=policy_flags />
        <section class="panel" aria-labelledby="timeline-heading">
            <h2 id="timeline-heading">"Version timeline"</h2>
            <VersionTimeline
                versions=versions.clone()
                moves=label_history.clone()
                changes=changes.clone()
                milestones=milestones
                now=last_seen_at
            />
        </section>
        <section class="panel" aria-labelledby="versions-heading">
            <h2 id="versions-heading">"Versions"</h2>
            <Versions versions />
        </section>
        <section class="panel" aria-labelledby="history-heading">
            <h2 id="history-heading">"Changes"</h2>
            <History moves=label_history changes />
        </section>
    }
}

#[component]
fn Policy(policy: Option<String>, flags: Vec<PolicyFlag>) -> impl IntoView {
    let analysis = match (&policy, flags.is_empty()) {
        (None, _) => view! { <p>"No resource policy: only the account's own IAM policies grant access."</p> }
            .into_any(),
        (Some(_), true) => view! {
            <p data-testid="policy-analysis">"No statement opens this secret beyond its own account."</p>
        }
            .into_any(),
        (Some(_), false) => view! {
            <ul class="policy-flags" data-testid="policy-analysis">
                {flags
                    .into_iter()
                    .map(|flag| {
                        let kind = match &flag.exposure {
                            PolicyExposure::Public => "public",
                            PolicyExposure::CrossAccount { .. } => "cross-account",
                        };
                        view! {
                            <li>
                                <span class="badge flag">{kind}</span>
                                " "
                                {flag.reason}
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        }
            .into_any(),
    };
    view! {
        <section class="panel" aria-labelledby="policy-heading">
            <h2 id="policy-heading">"Resource policy"</h2>
            {analysis}
            {policy.map(|policy| view! { <pre class="policy" data-testid="resource-policy">{policy}</pre> })}
        </section>
    }
}

#[component]
fn Versions(versions: Vec<SecretVersion>) -> impl IntoView {
    view! {
        <table class="data" data-testid="versions">
            <ColumnHeads names=&["Version", "Labels", "Created", "Last accessed", "KMS keys"] />
            <tbody>
                {versions
                    .into_iter()
                    .map(|version| {
                        let state = match (&version.gone_since, version.labels.is_empty()) {
                            (Some(_), _) => Some("gone"),
                            (None, true) => Some("deprecated"),
                            (None, false) => None,
                        };
                        view! {
                            <tr data-version=version.version_id.clone()>
                                <td>
                                    <code>{version.version_id.clone()}</code>
                                </td>
                                <td>
                                    {version
                                        .labels
                                        .iter()
                                        .map(|label| view! { <span class="badge label">{label.clone()}</span> })
                                        .collect_view()}
                                    {state.map(|state| view! { <span class="muted">{state}</span> })}
                                </td>
                                <td class="nowrap">{when(version.created_at, "unknown")}</td>
                                <td class="nowrap">{when(version.last_accessed_at, "never")}</td>
                                <td class="wrap">{version.kms_key_ids.join(", ")}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}

/// One line of the changes table: a label move, or a change that moved no label.
enum Line {
    Move(LabelMove),
    Change(SecretChange),
}

impl Line {
    fn at(&self) -> DateTime<Utc> {
        match self {
            Line::Move(change) => change.at,
            Line::Change(change) => change.event_time,
        }
    }
}

/// Who made a change, as people call them, with the full ARN, session and origin on hover;
/// the event itself one click away.
#[component]
fn Actor(change: SecretChange) -> impl IntoView {
    let detail = [
        change.principal.clone(),
        change
            .session_name
            .clone()
            .map(|session| format!("session {session}")),
        change.origin.clone().map(|origin| format!("from {origin}")),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(", ");
    let name = change
        .principal
        .as_deref()
        .map(principal_name)
        .unwrap_or("unknown")
        .to_string();
    view! {
        <span title=detail data-actor=change.principal.clone()>
            {name}
        </span>
        " "
        <a href=format!("/events/{}", change.event_id) class="muted">
            {change.event_name}
        </a>
        {change
            .through_trailkeeper
            .map(|change| view! { <br /> <ThroughTrailkeeper change /> })}
    }
}

#[component]
fn History(moves: Vec<LabelMove>, changes: Vec<SecretChange>) -> impl IntoView {
    if moves.is_empty() && changes.is_empty() {
        return view! { <p class="muted">"No changes observed yet."</p> }.into_any();
    }
    let mut lines: Vec<Line> = moves
        .into_iter()
        .map(Line::Move)
        .chain(changes.into_iter().map(Line::Change))
        .collect();
    lines.sort_by_key(Line::at);
    let version = |version: Option<String>| match version {
        Some(version) => view! { <code>{version}</code> }.into_any(),
        None => view! { <span class="muted">"none"</span> }.into_any(),
    };
    view! {
        <table class="data" data-testid="label-history">
            <ColumnHeads names=&["When", "Change", "From", "To", "By", "Seen by a sync"] />
            <tbody>
                {lines
                    .into_iter()
                    .rev()
                    .map(|line| {
                        let at = line.at();
                        match line {
                            Line::Move(change) => {
                                let by = match change.by {
                                    Some(by) => view! { <Actor change=by /> }.into_any(),
                                    None => view! { <span class="muted">"not in CloudTrail"</span> }
                                        .into_any(),
                                };
                                let seen = match change.observed_at {
                                    Some(observed) => view! { <Timestamp at=observed /> }.into_any(),
                                    None => view! { <span class="muted">"no: CloudTrail only"</span> }
                                        .into_any(),
                                };
                                let label = change.label.clone();
                                view! {
                                    <tr data-label=label>
                                        <td class="nowrap">
                                            <Timestamp at />
                                        </td>
                                        <td>
                                            <span class="badge label">{change.label}</span>
                                        </td>
                                        <td>{version(change.from_version)}</td>
                                        <td>{version(change.to_version)}</td>
                                        <td>{by}</td>
                                        <td class="nowrap">{seen}</td>
                                    </tr>
                                }
                                    .into_any()
                            }
                            Line::Change(change) => {
                                let message = change.message.clone();
                                let name = change.event_name.clone();
                                let kind = name.clone();
                                view! {
                                    <tr data-event=kind>
                                        <td class="nowrap">
                                            <Timestamp at />
                                        </td>
                                        <td colspan="3">
                                            <strong>{name}</strong>
                                            {message.map(|message| view! { ": " {message} })}
                                        </td>
                                        <td>
                                            <Actor change />
                                        </td>
                                        <td class="muted">"CloudTrail"</td>
                                    </tr>
                                }
                                    .into_any()
                            }
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

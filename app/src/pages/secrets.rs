use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::changes::{BulkOutcome, ChangeSecrets};
use crate::api::identity::page_offers_changes;
use crate::api::query;
use crate::api::secrets::{
    DeletedFilter, FlagFilter, RotationStatus, SecretFacets, SecretFlag, SecretListing,
    SecretQuery, SecretSort, SecretSummary, account_label, list_secrets,
};
use crate::components::badges::{FindingsBadge, FlagBadges, StatusBadge};
use crate::components::choice::Choice;
use crate::components::load_failed::LoadFailed;
use crate::components::time::Timestamp;

/// `/secrets`: every secret in every region, filtered, sorted and paged by what the URL says.
#[component]
pub fn SecretsPage() -> impl IntoView {
    let search = query::page_query();
    // Only admins change secrets from the list, so only their list runs in the browser.
    let list = if page_offers_changes() {
        view! { <ManagedSecrets search /> }.into_any()
    } else {
        view! { <SecretsList search bulk=None /> }.into_any()
    };
    view! {
        <Title text="Secrets" />
        <div class="page-head">
            <h1>"Secrets"</h1>
        </div>
        {list}
    }
}

/// The list with the admin's bulk changes, and what became of each.
#[island(lazy)]
fn ManagedSecrets(search: String) -> impl IntoView {
    let bulk = ServerAction::<ChangeSecrets>::new();
    view! {
        <BulkOutcomes value=bulk.value() />
        <SecretsList search bulk=Some(bulk) />
    }
}

/// The list for the URL's query `search`, read again once a `bulk` change went through (the
/// list shows the new tags).
#[component]
fn SecretsList(search: String, bulk: Option<ServerAction<ChangeSecrets>>) -> impl IntoView {
    let query = SecretQuery::parse(&search);
    let asked = query.clone();
    let listing = query::list_resource(
        move || asked.clone().map(|query| query.to_query_string()),
        list_secrets,
    );
    if let Some(bulk) = bulk {
        Effect::new(move || {
            if bulk.value().with(|value| matches!(value, Some(Ok(_)))) {
                listing.refetch();
            }
        });
    }
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading the secrets…"</p> }>
            {move || {
                let query = query.clone().unwrap_or_default();
                Suspend::new(async move {
                    match listing.await {
                        Ok(listing) => view! { <Listing listing query bulk /> }.into_any(),
                        Err(error) => {
                            view! {
                                <Filters query facets=SecretFacets::default() />
                                <LoadFailed what="list of secrets" error />
                            }
                                .into_any()
                        }
                    }
                })
            }}
        </Suspense>
    }
}

pub fn href(query: &SecretQuery) -> String {
    match query.to_query_string() {
        text if text.is_empty() => "/secrets".into(),
        text => format!("/secrets?{text}"),
    }
}

/// Admins' bulk changes: a form whose secrets are the rows ticked in the list.
#[component]
fn BulkForm(bulk: ServerAction<ChangeSecrets>) -> impl IntoView {
    view! {
        <details class="panel actions" data-testid="bulk-actions">
            <summary>"Change the selected secrets"</summary>
            <ActionForm action=bulk attr:id="bulk-change" attr:class="filters">
                <label class="wide">
                    "Reason"
                    <input type="text" name="reason" placeholder="why, for the audit log" />
                </label>
                <label class="wide">
                    "Tags to set (key=value, one per line)"
                    <textarea name="tags" rows="2"></textarea>
                </label>
                <label>
                    "Tag keys to remove"
                    <input type="text" name="remove_tags" placeholder="key, key" />
                </label>
                <button type="submit" name="action" value="tags">
                    "Save tags on the selected"
                </button>
                <button type="submit" name="action" value="rotate">
                    "Rotate the selected now"
                </button>
                <p class="muted small">
                    "Tick secrets in the list. Each is changed on its own, audited with your name and reason; one refused does not stop the others."
                </p>
            </ActionForm>
        </details>
    }
}

/// What became of each secret in a bulk change.
#[component]
fn BulkOutcomes(
    #[prop(into)] value: Signal<Option<Result<Vec<BulkOutcome>, crate::AppError>>>,
) -> impl IntoView {
    move || {
        match value.get()? {
        Ok(outcomes) => Some(
            view! {
                <ul class="notice" role="status" data-testid="bulk-outcomes">
                    {outcomes
                        .into_iter()
                        .map(|outcome| {
                            let (secret, shown) = (outcome.secret.clone(), outcome.secret);
                            let (class, said) = match (outcome.done, outcome.refused) {
                                (Some(done), _) => ("", done),
                                (None, refused) => ("error", refused.unwrap_or_default()),
                            };
                            view! {
                                <li class=class data-secret=secret>
                                    <strong>{shown}</strong>
                                    ": "
                                    {said}
                                </li>
                            }
                        })
                        .collect_view()}
                </ul>
            }
            .into_any(),
        ),
        Err(error) => Some(
            view! { <p class="error" role="alert" data-testid="bulk-outcomes">{error.to_string()}</p> }
                .into_any(),
        ),
    }
    }
}

#[component]
fn Listing(
    listing: SecretListing,
    query: SecretQuery,
    bulk: Option<ServerAction<ChangeSecrets>>,
) -> impl IntoView {
    let SecretListing {
        page,
        matching,
        facets,
    } = listing;
    let first = query.cursor.is_some().then(|| {
        view! {
            <a href=href(&query.first_page())>"First page"</a>
        }
    });
    let next = page.next.map(|cursor| {
        let next = SecretQuery {
            cursor: Some(cursor),
            ..query.clone()
        };
        view! {
            <a href=href(&next) rel="next" data-testid="next-page">
                "Next page"
            </a>
        }
    });
    let table = if page.items.is_empty() {
        view! { <p data-testid="secrets-empty">"No secrets match."</p> }.into_any()
    } else {
        let selectable = bulk.is_some();
        view! { <SecretsTable secrets=page.items query=query.clone() selectable /> }.into_any()
    };
    view! {
        <Filters query facets />
        {bulk.map(|bulk| view! { <BulkForm bulk /> })}
        <p class="muted" data-testid="secrets-matching">
            {match matching {
                1 => "1 secret matches".to_string(),
                count => format!("{count} secrets match"),
            }}
        </p>
        {table}
        <nav class="pager" aria-label="Pages">
            {first}
            {next}
        </nav>
    }
}

/// A plain GET form, so the filters land in the URL and a view can be shared.
#[component]
fn Filters(query: SecretQuery, facets: SecretFacets) -> impl IntoView {
    let status = query.status.map(RotationStatus::as_str).unwrap_or_default();
    let flag = match query.flag {
        None => "",
        Some(FlagFilter::Any) => "any",
        Some(FlagFilter::Flag(flag)) => flag.as_str(),
    };
    let status_options = RotationStatus::ALL
        .into_iter()
        .map(|option| (option.as_str().to_string(), option.label().to_string()))
        .collect();
    let flag_options = std::iter::once(("any".to_string(), "any flag".to_string()))
        .chain(
            SecretFlag::ALL
                .into_iter()
                .map(|option| (option.as_str().to_string(), option.label().to_string())),
        )
        .collect();
    let deleted_options = [
        (DeletedFilter::Only, "only deleted"),
        (DeletedFilter::Hide, "hide deleted"),
        (DeletedFilter::Include, "include gone"),
    ]
    .into_iter()
    .map(|(option, label)| (option.as_str().to_string(), label.to_string()))
    .collect();
    let same = |values: Vec<String>| {
        values
            .into_iter()
            .map(|value| (value.clone(), value))
            .collect()
    };
    let deleted = match query.deleted {
        DeletedFilter::Existing => "",
        other => other.as_str(),
    };
    view! {
        <form class="filters panel" method="get" action="/secrets" role="search">
            <label>
                "Search"
                <input
                    type="search"
                    name="q"
                    placeholder="name, description, tag or team=payments"
                    value=query.search.clone().unwrap_or_default()
                />
            </label>
            <Choice
                label="Account"
                name="account"
                selected=query.account.clone().unwrap_or_default()
                options=facets
                    .accounts
                    .iter()
                    .map(|account| (account.id.clone(), account.label()))
                    .collect()
            />
            <Choice
                label="Region"
                name="region"
                selected=query.region.clone().unwrap_or_default()
                options=same(facets.regions)
            />
            <Choice label="Rotation" name="status" selected=status.to_string() options=status_options />
            <Choice
                label="Managed by"
                name="service"
                selected=query.owning_service.clone().unwrap_or_default()
                options=same(facets.owning_services)
            />
            <Choice
                label="KMS key"
                name="kms_key"
                selected=query.kms_key.clone().unwrap_or_default()
                options=same(facets.kms_keys)
            />
            <Choice label="Deleted" name="deleted" selected=deleted.to_string() options=deleted_options />
            <Choice label="Flags" name="flag" selected=flag.to_string() options=flag_options />
            {(query.sort != SecretSort::Name)
                .then(|| view! { <input type="hidden" name="sort" value=query.sort.as_str() /> })}
            {query.descending.then(|| view! { <input type="hidden" name="order" value="desc" /> })}
            <button type="submit">"Filter"</button>
            <a href="/secrets">"Clear"</a>
        </form>
    }
}

#[component]
fn SecretsTable(
    secrets: Vec<SecretSummary>,
    query: SecretQuery,
    selectable: bool,
) -> impl IntoView {
    let header = |sort: SecretSort, label: &'static str| {
        let active = query.sort == sort;
        // A second click on the sorted column turns the order around.
        let target = SecretQuery {
            sort,
            descending: active && !query.descending,
            cursor: None,
            ..query.clone()
        };
        let aria_sort = match (active, query.descending) {
            (false, _) => "none",
            (true, false) => "ascending",
            (true, true) => "descending",
        };
        let arrow = match (active, query.descending) {
            (false, _) => "",
            (true, false) => " ▲",
            (true, true) => " ▼",
        };
        view! {
            <th scope="col" aria-sort=aria_sort>
                <a href=href(&target)>{label} {arrow}</a>
            </th>
        }
    };
    view! {
        <table class="data secrets" data-testid="secrets">
            <thead>
                <tr>
                    {header(SecretSort::Name, "Name")}
                    {header(SecretSort::Region, "Region")}
                    {header(SecretSort::Status, "Rotation")}
                    {header(SecretSort::LastRotated, "Last rotated")}
                    {header(SecretSort::NextRotation, "Next rotation")}
                    {header(SecretSort::LastAccessed, "Last accessed")}
                    <th scope="col">"Tags"</th>
                    <th scope="col">"Flags"</th>
                    <th scope="col">"Account"</th>
                </tr>
            </thead>
            <tbody>
                {secrets
                    .into_iter()
                    .map(|secret| view! { <SecretRow secret selectable /> })
                    .collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn SecretRow(secret: SecretSummary, selectable: bool) -> impl IntoView {
    let when = |at: Option<chrono::DateTime<chrono::Utc>>| match at {
        Some(at) => view! { <Timestamp at /> }.into_any(),
        None => view! { <span class="muted">"—"</span> }.into_any(),
    };
    let gone = secret.gone_since.map(|since| {
        view! {
            <div class="muted">"Gone from AWS since " <Timestamp at=since /></div>
        }
    });
    let findings = view! { <FindingsBadge secret=secret.clone() /> };
    view! {
        <tr data-arn=secret.arn.clone()>
            <td>
                {selectable
                    .then(|| {
                        view! {
                            <input
                                type="checkbox"
                                class="select"
                                name="secrets[]"
                                form="bulk-change"
                                value=secret.arn.clone()
                                aria-label=format!("Select {}", secret.name)
                            />
                        }
                    })}
                <a href=format!("/secrets/{}", secret.arn)>{secret.name.clone()}</a>
                " "
                {findings}
                {secret.description.map(|text| view! { <div class="muted small">{text}</div> })}
                {gone}
            </td>
            <td class="nowrap">{secret.region}</td>
            <td>
                <StatusBadge status=secret.rotation_status reason=secret.rotation_reason />
            </td>
            <td class="nowrap">{when(secret.last_rotated_at)}</td>
            <td class="nowrap">{when(secret.next_rotation_at)}</td>
            <td class="nowrap">{when(secret.last_accessed_at)}</td>
            <td>
                {secret
                    .tags
                    .into_iter()
                    .map(|(key, value)| view! { <span class="tag">{key} "=" {value}</span> })
                    .collect_view()}
            </td>
            <td>
                <FlagBadges flags=secret.flags />
            </td>
            <td class="nowrap" data-account=secret.account_id.clone()>
                {account_label(&secret.account_id, secret.account_name.as_deref())}
            </td>
        </tr>
    }
}

//! Granted versus used: who the policies let read a secret's value, each with the statements
//! that grant it and whether it read the value lately; unused grants first, with the statement
//! to narrow. The principal page shows the same rows the other way round.

use leptos::prelude::*;

use crate::AppError;
use crate::api::events::principal_name;
use crate::api::grants::{Grant, GrantCheck, GrantReach, SecretReaders, counted};
use crate::components::column_heads::ColumnHeads;
use crate::components::load_failed::LoadFailed;
use crate::components::time::Timestamp;

/// The principal page of an IAM user or role.
pub fn principal_href(principal: &str) -> String {
    // An ARN needs no escaping; a hostile value from a trail must not end the path early.
    let escaped: String = principal
        .chars()
        .map(|c| match c {
            '%' | '?' | '#' | ' ' => format!("%{:02X}", c as u32),
            c if c.is_control() => String::new(),
            c => c.to_string(),
        })
        .collect();
    format!("/principals/{escaped}")
}

#[component]
pub fn WhoCanRead(readers: Result<SecretReaders, AppError>) -> impl IntoView {
    let body = match readers {
        Err(error) => view! { <LoadFailed what="readers" error /> }.into_any(),
        Ok(readers) => {
            let unused = readers.grants.iter().filter(|grant| grant.unused()).count();
            let can_read = counted(readers.grants.len(), "principal");
            let idle_days = readers.idle_days;
            let summary = match (readers.grants.len(), unused) {
                (0, _) if readers.check.is_none() => String::new(),
                (0, _) => "No user or role of the account can read it.".to_string(),
                (1, 1) => format!(
                    "1 principal can read it, and did not in the last {idle_days} days (an unused grant)."
                ),
                (_, 0) => format!("{can_read} can read it; each did in the last {idle_days} days."),
                (_, unused) => format!(
                    "{can_read} can read it; {unused} did not in the last {idle_days} days (unused grants)."
                ),
            };
            view! {
                <CheckNote check=readers.check />
                <p data-testid="readers-summary">{summary}</p>
                {(!readers.grants.is_empty()).then(|| view! {
                    <GrantTable grants=readers.grants idle_days=readers.idle_days by_principal=true />
                })}
            }
            .into_any()
        }
    };
    view! {
        <section class="panel" id="readers" aria-labelledby="readers-heading" data-testid="who-can-read">
            <h2 id="readers-heading">"Who can read"</h2>
            <p class="muted">
                "The account's users and roles that its IAM policies, the secret's resource \
                 policy and its KMS key's policy let call GetSecretValue, and whether each did. \
                 Service control and session policies are not seen: AWS may allow less."
            </p>
            {body}
        </section>
    }
}

/// When the grants were read, or why they are not (yet, or not now).
#[component]
pub fn CheckNote(check: Option<GrantCheck>) -> impl IntoView {
    match check {
        None => view! {
            <p class="muted" data-testid="grants-unchecked">
                "The account's grants have not been read yet: each sync reads them (the role \
                 Trailkeeper uses needs iam:GetAccountAuthorizationDetails and kms:GetKeyPolicy)."
            </p>
        }
        .into_any(),
        Some(GrantCheck {
            checked_at,
            error: Some(error),
            ..
        }) => view! {
            <p class="notice" data-testid="grants-refused">
                "AWS refused the last reading of the grants (" <Timestamp at=checked_at /> "): "
                {error} ". What is shown was read before."
            </p>
        }
        .into_any(),
        Some(GrantCheck {
            checked_at,
            principals,
            ..
        }) => view! {
            <p class="muted small">
                {format!("{principals} users and roles evaluated ")} <Timestamp at=checked_at /> "."
            </p>
        }
        .into_any(),
    }
}

/// Grants, one per row: by principal on a secret's page, by secret on a principal's.
#[component]
pub fn GrantTable(grants: Vec<Grant>, idle_days: i64, by_principal: bool) -> impl IntoView {
    let heads: &'static [&'static str] = if by_principal {
        &["Principal", "Access", "Granted by", "Reads", "Last read"]
    } else {
        &["Secret", "Access", "Granted by", "Reads", "Last read"]
    };
    view! {
        <table class="data" data-testid="grants">
            <ColumnHeads names=heads />
            <tbody>
                {grants
                    .into_iter()
                    .map(|grant| {
                        let who = if by_principal {
                            view! {
                                <a href=principal_href(&grant.principal) title=grant.principal.clone()>
                                    {principal_name(&grant.principal).to_string()}
                                </a>
                            }
                            .into_any()
                        } else {
                            view! {
                                <a href=format!("/secrets/{}", grant.secret_arn) title=grant.secret_arn.clone()>
                                    {grant.secret_name.clone()}
                                </a>
                            }
                            .into_any()
                        };
                        let access = match grant.reach {
                            GrantReach::Yes => view! { <span class="badge status-healthy">{GrantReach::Yes.label()}</span> }.into_any(),
                            GrantReach::Possibly => view! {
                                <span class="badge status-due_soon" title=grant.reasons.join("; ")>
                                    {GrantReach::Possibly.label()}
                                </span>
                                <span class="muted small">{format!(" {}", grant.reasons.join("; "))}</span>
                            }
                            .into_any(),
                        };
                        let used = match grant.last_read_at {
                            Some(at) => view! { <Timestamp at /> }.into_any(),
                            None => view! {
                                <span class="badge status-stuck" data-testid="unused-grant">
                                    {format!("unused for {idle_days} days")}
                                </span>
                            }
                            .into_any(),
                        };
                        let narrowing = grant.unused().then(|| grant.narrowing().map(|statement| view! {
                            <p class="small" data-testid="narrowing">
                                {format!("To narrow: remove this secret from {statement}.")}
                            </p>
                        }));
                        view! {
                            <tr data-principal=grant.principal.clone() data-secret=grant.secret_arn.clone()>
                                <td class="wrap">{who}</td>
                                <td>{access}</td>
                                <td class="wrap">
                                    <ul class="plain">
                                        {grant.granted_by.iter().map(|statement| view! { <li>{statement.clone()}</li> }).collect_view()}
                                    </ul>
                                    {narrowing}
                                </td>
                                <td>{grant.reads}</td>
                                <td class="nowrap">{used}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}

#[cfg(test)]
mod tests {
    use super::principal_href;

    #[test]
    fn a_principal_link_keeps_the_arn_and_escapes_what_would_end_the_path() {
        assert_eq!(
            principal_href("arn:aws:iam::111122223333:role/ops/app"),
            "/principals/arn:aws:iam::111122223333:role/ops/app"
        );
        assert_eq!(
            principal_href("x?y#z 100%\n"),
            "/principals/x%3Fy%23z%20100%25"
        );
    }
}

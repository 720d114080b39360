//! Whether CloudTrail records what Trailkeeper needs, per account × region: the trails
//! `DescribeTrails` shows there (the region's own, multi-region and organisation trails),
//! whether each is logging and when it last delivered (`GetTrailStatus`), and what its event
//! selectors log of Secrets Manager's management events (`GetEventSelectors`) — the reads
//! detection watches above all. Read at each sync, after the region's secrets; the
//! Overview's coverage reads what is stored.

pub mod selectors;

use std::collections::HashMap;

use aws_config::SdkConfig;
use aws_sdk_cloudtrail::types::Trail;
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use trailkeeper_app::api::overview::{Logged, RegionCoverage, TrailCheck, TrailState};

use selectors::{AdvancedSelector, BasicSelector, FieldSelector, Selectors};

/// The trails of one account read so far in a sync, by ARN: a multi-region or organisation
/// trail shows in every region, and is asked about once.
pub type TrailsSeen = HashMap<String, TrailState>;

/// Reads the trails of `account`'s `region` and stores what they log there.
pub async fn check(
    pool: &PgPool,
    config: &SdkConfig,
    account: &str,
    region: &str,
    seen: &mut TrailsSeen,
) -> Result<(), sqlx::Error> {
    let client = crate::aws::cloudtrail(config, region);
    let check = match client
        .describe_trails()
        .include_shadow_trails(true)
        .send()
        .await
    {
        Ok(described) => {
            let mut trails = Vec::new();
            for trail in described.trail_list() {
                let Some(arn) = trail.trail_arn() else {
                    continue;
                };
                if !seen.contains_key(arn) {
                    let state = state_of(config, trail, arn).await;
                    seen.insert(arn.to_string(), state);
                }
                trails.push(seen[arn].clone());
            }
            summarise(trails)
        }
        Err(error) => {
            let (code, message) = crate::aws::said(&error);
            tracing::warn!(%account, %region, ?code, %message, "the trails could not be read");
            TrailCheck {
                checked_at: Utc::now(),
                reads: None,
                writes: None,
                error: Some(refused("DescribeTrails", code, &message)),
                trails: Vec::new(),
            }
        }
    };
    store(pool, account, region, &check).await
}

/// One trail's status and selectors, asked of its home region (where AWS keeps them).
async fn state_of(config: &SdkConfig, trail: &Trail, arn: &str) -> TrailState {
    let home = trail.home_region().map(str::to_string);
    let client = crate::aws::cloudtrail(config, home.as_deref().unwrap_or_default());
    let mut state = TrailState {
        arn: arn.to_string(),
        name: trail.name().unwrap_or(arn).to_string(),
        home_region: home,
        multi_region: trail.is_multi_region_trail().unwrap_or(false),
        organization: trail.is_organization_trail().unwrap_or(false),
        logging: None,
        latest_delivery_at: None,
        latest_delivery_error: None,
        reads: None,
        writes: None,
        problem: None,
    };
    let mut problems = Vec::new();
    match client.get_trail_status().name(arn).send().await {
        Ok(status) => {
            state.logging = status.is_logging();
            state.latest_delivery_at = crate::aws::time(status.latest_delivery_time());
            state.latest_delivery_error = status.latest_delivery_error().map(str::to_string);
        }
        Err(error) => {
            let (code, message) = crate::aws::said(&error);
            problems.push(refused("GetTrailStatus", code, &message));
        }
    }
    match client.get_event_selectors().trail_name(arn).send().await {
        Ok(selected) => {
            let logging = Selectors {
                event_selectors: selected
                    .event_selectors()
                    .iter()
                    .map(|selector| BasicSelector {
                        read_write_type: selector
                            .read_write_type()
                            .map(|kind| kind.as_str().to_string()),
                        include_management_events: selector.include_management_events(),
                        exclude_management_event_sources: selector
                            .exclude_management_event_sources()
                            .to_vec(),
                    })
                    .collect(),
                advanced_event_selectors: selected
                    .advanced_event_selectors()
                    .iter()
                    .map(|selector| AdvancedSelector {
                        name: selector.name().map(str::to_string),
                        field_selectors: selector
                            .field_selectors()
                            .iter()
                            .map(|field| FieldSelector {
                                field: field.field().to_string(),
                                equals: field.equals().to_vec(),
                                starts_with: field.starts_with().to_vec(),
                                ends_with: field.ends_with().to_vec(),
                                not_equals: field.not_equals().to_vec(),
                                not_starts_with: field.not_starts_with().to_vec(),
                                not_ends_with: field.not_ends_with().to_vec(),
                            })
                            .collect(),
                    })
                    .collect(),
            }
            .secrets_manager();
            state.reads = Some(logging.reads);
            state.writes = Some(logging.writes);
        }
        Err(error) => {
            let (code, message) = crate::aws::said(&error);
            problems.push(refused("GetEventSelectors", code, &message));
        }
    }
    if !problems.is_empty() {
        tracing::warn!(trail = %arn, problems = ?problems, "a trail could not be read whole");
        state.problem = Some(problems.join("; "));
    }
    state
}

/// The best the logging trails do: a trail that is stopped logs nothing. When a trail could
/// not be read and the others do not log everything, the answer is unknown.
fn summarise(trails: Vec<TrailState>) -> TrailCheck {
    let logging = || trails.iter().filter(|trail| trail.logging == Some(true));
    let best = |of: fn(&TrailState) -> Option<Logged>| {
        logging().filter_map(of).max().unwrap_or(Logged::None)
    };
    let unread: Vec<String> = trails
        .iter()
        .filter_map(|trail| {
            let problem = trail.problem.as_ref()?;
            Some(format!("{}: {problem}", trail.name))
        })
        .collect();
    let told = |logged: Logged| (logged == Logged::All || unread.is_empty()).then_some(logged);
    TrailCheck {
        checked_at: Utc::now(),
        reads: told(best(|trail| trail.reads)),
        writes: told(best(|trail| trail.writes)),
        error: (!unread.is_empty()).then(|| unread.join("; ")),
        trails,
    }
}

fn refused(operation: &str, code: Option<String>, message: &str) -> String {
    match code {
        Some(code) => format!("CloudTrail {operation} failed with {code}: {message}"),
        None => format!("CloudTrail {operation} failed: {message}"),
    }
}

async fn store(
    pool: &PgPool,
    account: &str,
    region: &str,
    check: &TrailCheck,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO trail_checks (account_id, region, checked_at, reads, writes, error, trails) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (account_id, region) DO UPDATE SET checked_at = EXCLUDED.checked_at, \
             reads = EXCLUDED.reads, writes = EXCLUDED.writes, error = EXCLUDED.error, \
             trails = EXCLUDED.trails",
        account,
        region,
        check.checked_at,
        check.reads.map(Logged::as_str),
        check.writes.map(Logged::as_str),
        check.error,
        serde_json::to_value(&check.trails).expect("trails serialise")
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Every account × region that holds secrets or has sent CloudTrail, with what is known of
/// its trails.
pub async fn coverage(db: &mut PgConnection) -> Result<Vec<RegionCoverage>, sqlx::Error> {
    struct Row {
        account_id: String,
        account_name: Option<String>,
        region: String,
        secrets: i64,
        checked_at: Option<DateTime<Utc>>,
        reads: Option<String>,
        writes: Option<String>,
        error: Option<String>,
        trails: Option<serde_json::Value>,
        newest_event: Option<DateTime<Utc>>,
    }
    let rows = sqlx::query_as!(
        Row,
        r#"WITH places AS (
               SELECT account_id, region FROM secrets WHERE gone_since IS NULL
               UNION SELECT account_id, region FROM trail_coverage
           ), held AS (
               SELECT account_id, region, count(*) AS secrets FROM secrets
               WHERE gone_since IS NULL GROUP BY account_id, region
           )
           SELECT places.account_id AS "account_id!", places.region AS "region!",
               accounts.name AS "account_name?", COALESCE(held.secrets, 0) AS "secrets!",
               checks.checked_at AS "checked_at?", checks.reads, checks.writes, checks.error,
               checks.trails AS "trails?", trail_coverage.newest_event_at AS "newest_event?"
           FROM places
           LEFT JOIN accounts ON accounts.id = places.account_id
           LEFT JOIN held USING (account_id, region)
           LEFT JOIN trail_checks checks USING (account_id, region)
           LEFT JOIN trail_coverage USING (account_id, region)
           WHERE places.account_id IS NOT NULL AND places.region IS NOT NULL
           ORDER BY accounts.name NULLS LAST, places.account_id, places.region"#
    )
    .fetch_all(&mut *db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| RegionCoverage {
            account_id: row.account_id,
            account_name: row.account_name,
            region: row.region,
            secrets: row.secrets,
            trails: row.checked_at.map(|checked_at| TrailCheck {
                checked_at,
                reads: row.reads.as_deref().and_then(Logged::parse),
                writes: row.writes.as_deref().and_then(Logged::parse),
                error: row.error,
                trails: row
                    .trails
                    .and_then(|trails| serde_json::from_value(trails).ok())
                    .unwrap_or_default(),
            }),
            newest_event: row.newest_event,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trail(name: &str, logging: Option<bool>, reads: Option<Logged>) -> TrailState {
        let problem = logging
            .is_none()
            .then(|| "CloudTrail GetTrailStatus failed with AccessDenied".to_string());
        TrailState {
            arn: format!("arn:aws:cloudtrail:eu-west-1:111111111111:trail/{name}"),
            name: name.into(),
            home_region: Some("eu-west-1".into()),
            multi_region: true,
            organization: false,
            logging,
            latest_delivery_at: None,
            latest_delivery_error: None,
            reads,
            writes: reads,
            problem,
        }
    }

    #[test]
    fn a_stopped_trail_logs_nothing_however_it_is_configured() {
        let check = summarise(vec![
            trail("stopped", Some(false), Some(Logged::All)),
            trail("writes", Some(true), Some(Logged::None)),
        ]);
        assert_eq!(check.reads, Some(Logged::None));
        assert_eq!(check.error, None);
    }

    #[test]
    fn the_best_logging_trail_counts() {
        let check = summarise(vec![
            trail("partial", Some(true), Some(Logged::Partly)),
            trail("whole", Some(true), Some(Logged::All)),
        ]);
        assert_eq!(check.reads, Some(Logged::All));
    }

    #[test]
    fn a_trail_that_could_not_be_read_leaves_a_gap_unknown() {
        let check = summarise(vec![
            trail("unreadable", None, None),
            trail("writes", Some(true), Some(Logged::None)),
        ]);
        assert_eq!(check.reads, None);
        assert!(check.error.unwrap().contains("unreadable"));
        // …but not a whole answer another trail gives.
        let check = summarise(vec![
            trail("unreadable", None, None),
            trail("whole", Some(true), Some(Logged::All)),
        ]);
        assert_eq!(check.reads, Some(Logged::All));
    }

    #[test]
    fn no_trail_logs_nothing() {
        let check = summarise(Vec::new());
        assert_eq!(check.reads, Some(Logged::None));
        assert_eq!(check.writes, Some(Logged::None));
    }
}

//! Granted versus used, read from the store: the readers each sync stored beside the value
//! reads CloudTrail recorded within the idle period.

use chrono::{DateTime, Duration, Utc};
use sqlx::PgConnection;
use trailkeeper_app::AppError;
use trailkeeper_app::api::grants::{
    Grant, GrantCheck, GrantReach, PrincipalGrants, SecretReaders, UngrantedRead, unused_first,
};

/// IAM's longest ARN: a longer "principal" names nobody.
const LONGEST_PRINCIPAL: usize = 2048;

/// The principal a page or a request asks about, as given; refused when it cannot name one.
pub fn principal_named(principal: &str) -> Result<&str, AppError> {
    let problem = if principal.is_empty() {
        "a principal's ARN is needed"
    } else if principal.len() > LONGEST_PRINCIPAL {
        "a principal's ARN is at most 2048 characters"
    } else if principal.chars().any(char::is_control) {
        "a principal's ARN holds no control characters"
    } else {
        return Ok(principal);
    };
    Err(AppError::Invalid {
        parameter: Some("principal".into()),
        message: problem.into(),
    })
}

#[derive(sqlx::FromRow)]
struct GrantRow {
    principal: String,
    secret_arn: String,
    secret_name: String,
    reach: String,
    granted_by: Vec<String>,
    reasons: Vec<String>,
    last_read_at: Option<DateTime<Utc>>,
    reads: i64,
}

impl From<GrantRow> for Grant {
    fn from(row: GrantRow) -> Grant {
        Grant {
            principal: row.principal,
            secret_arn: row.secret_arn,
            secret_name: row.secret_name,
            // The table's check allows only the two.
            reach: GrantReach::parse(&row.reach).unwrap_or(GrantReach::Possibly),
            granted_by: row.granted_by,
            reasons: row.reasons,
            last_read_at: row.last_read_at,
            reads: row.reads,
        }
    }
}

#[derive(sqlx::FromRow)]
struct CheckRow {
    account_id: String,
    checked_at: DateTime<Utc>,
    principals: i32,
    error: Option<String>,
}

impl From<CheckRow> for GrantCheck {
    fn from(row: CheckRow) -> GrantCheck {
        GrantCheck {
            account_id: row.account_id,
            checked_at: row.checked_at,
            principals: row.principals,
            error: row.error,
        }
    }
}

/// Who can read `secret_arn`, with each one's successful reads since `idle_days` before `now`.
pub async fn secret_readers(
    db: &mut PgConnection,
    secret_arn: &str,
    idle_days: i64,
    now: DateTime<Utc>,
) -> Result<SecretReaders, sqlx::Error> {
    let since = now - Duration::days(idle_days);
    let check: Option<CheckRow> = sqlx::query_as(
        "SELECT c.account_id, c.checked_at, c.principals, c.error FROM grant_checks c \
         JOIN secrets s ON s.account_id = c.account_id WHERE s.arn = $1",
    )
    .bind(secret_arn)
    .fetch_optional(&mut *db)
    .await?;
    let mut grants = grants_where(db, Side::Secret, secret_arn, since).await?;
    unused_first(&mut grants, |grant| grant.principal.clone());
    Ok(SecretReaders {
        check: check.map(GrantCheck::from),
        idle_days,
        grants,
    })
}

/// What `principal` can read and what it read since `idle_days` before `now`.
pub async fn principal_grants(
    db: &mut PgConnection,
    principal: &str,
    idle_days: i64,
    now: DateTime<Utc>,
) -> Result<PrincipalGrants, sqlx::Error> {
    let since = now - Duration::days(idle_days);
    let check: Option<CheckRow> = match account_of(principal) {
        Some(account) => {
            sqlx::query_as(
                "SELECT account_id, checked_at, principals, error FROM grant_checks \
                 WHERE account_id = $1",
            )
            .bind(account)
            .fetch_optional(&mut *db)
            .await?
        }
        None => None,
    };
    let mut grants = grants_where(db, Side::Principal, principal, since).await?;
    unused_first(&mut grants, |grant| grant.secret_name.clone());
    let other_reads: Vec<UngrantedRead> =
        sqlx::query_as::<_, (String, Option<String>, i64, DateTime<Utc>)>(
            "SELECT e.secret_arn, max(s.name), count(*), max(e.event_time) \
         FROM events e LEFT JOIN secrets s ON s.arn = e.secret_arn \
         WHERE e.principal = $1 AND e.event_name = 'GetSecretValue' AND e.error_code IS NULL \
           AND e.event_time >= $2 AND e.secret_arn IS NOT NULL \
           AND NOT EXISTS (SELECT 1 FROM secret_readers r \
                           WHERE r.principal = $1 AND r.secret_arn = e.secret_arn) \
         GROUP BY e.secret_arn ORDER BY max(e.event_time) DESC",
        )
        .bind(principal)
        .bind(since)
        .fetch_all(&mut *db)
        .await?
        .into_iter()
        .map(
            |(secret_arn, secret_name, reads, last_read_at)| UngrantedRead {
                secret_arn,
                secret_name,
                reads,
                last_read_at,
            },
        )
        .collect();
    Ok(PrincipalGrants {
        principal: principal.to_string(),
        check: check.map(GrantCheck::from),
        idle_days,
        grants,
        other_reads,
    })
}

/// Which side of the grants is asked about.
#[derive(Clone, Copy)]
enum Side {
    Secret,
    Principal,
}

impl Side {
    /// Its column in `secret_readers` and `events`.
    fn column(self) -> &'static str {
        match self {
            Side::Secret => "secret_arn",
            Side::Principal => "principal",
        }
    }

    fn other(self) -> Side {
        match self {
            Side::Secret => Side::Principal,
            Side::Principal => Side::Secret,
        }
    }
}

/// The stored grants of `value` (a secret's ARN or a principal), each with its successful
/// value reads since `since`.
async fn grants_where(
    db: &mut PgConnection,
    side: Side,
    value: &str,
    since: DateTime<Utc>,
) -> Result<Vec<Grant>, sqlx::Error> {
    let (asked, other) = (side.column(), side.other().column());
    let query = format!(
        "SELECT r.principal, r.secret_arn, s.name AS secret_name, r.reach, r.granted_by, \
             r.reasons, used.last_read_at, COALESCE(used.reads, 0) AS reads \
         FROM secret_readers r JOIN secrets s ON s.arn = r.secret_arn \
         LEFT JOIN (SELECT {other}, max(event_time) AS last_read_at, count(*) AS reads \
                    FROM events WHERE {asked} = $1 AND event_name = 'GetSecretValue' \
                      AND error_code IS NULL AND event_time >= $2 \
                    GROUP BY {other}) used ON used.{other} = r.{other} \
         WHERE r.{asked} = $1"
    );
    Ok(sqlx::query_as::<_, GrantRow>(&query)
        .bind(value)
        .bind(since)
        .fetch_all(db)
        .await?
        .into_iter()
        .map(Grant::from)
        .collect())
}

/// The account of an IAM or STS ARN (`arn:aws:iam::111122223333:role/app`).
fn account_of(principal: &str) -> Option<&str> {
    let account = principal.strip_prefix("arn:")?.split(':').nth(3)?;
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then_some(account)
}

#[cfg(test)]
mod tests {
    use super::{account_of, principal_named};

    #[test]
    fn a_principal_names_its_account_only_in_a_well_formed_arn() {
        assert_eq!(
            account_of("arn:aws:iam::111122223333:role/app"),
            Some("111122223333")
        );
        assert_eq!(
            account_of("arn:aws-cn:iam::111122223333:user/ops/ana"),
            Some("111122223333")
        );
        assert_eq!(account_of("arn:aws:iam::1111:role/app"), None);
        assert_eq!(account_of("secretsmanager.amazonaws.com"), None);
        assert_eq!(account_of("arn:aws:iam::'; DROP TABLE x;--:role/a"), None);
    }

    #[test]
    fn a_principal_that_cannot_be_an_arn_is_refused_with_why() {
        assert!(principal_named("arn:aws:iam::111122223333:role/app").is_ok());
        for hostile in [
            "",
            "arn:aws:iam::1:role/a\nforged log line",
            &"a".repeat(2049),
        ] {
            let refused = principal_named(hostile).unwrap_err().to_string();
            assert!(refused.contains("principal's ARN"), "{refused}");
        }
    }
}

//! Which secret an event names. CloudTrail names a secret by ARN, partial ARN or name, and
//! an event may arrive before a sync has seen its secret; both ingest and sync resolve
//! references by the one rule of the `secret_references` view (migration 0012).

use sqlx::PgPool;

/// The secret each distinct `(secret_ref, region, account_id)` of `references` (a query)
/// names, by the rule of the `secret_references` view (migration 0012): the references
/// that resolve, each with its `arn`.
pub(crate) fn resolved(references: &str) -> String {
    format!(
        "SELECT DISTINCT ON (r.secret_ref, r.region, r.account_id) \
             r.secret_ref, r.region, r.account_id, v.arn \
         FROM ({references}) r \
         JOIN secret_references v ON v.reference = r.secret_ref \
             AND (v.region IS NULL OR (v.region = r.region AND v.account_id = r.account_id)) \
         ORDER BY r.secret_ref, r.region, r.account_id, v.preference, \
             v.gone_since IS NULL DESC, v.last_seen_at DESC"
    )
}

/// Resolves the events stored before a sync found the secret they name, by the same rule
/// as ingest. Returns how many events now have their secret.
pub async fn resolve_waiting(pool: &PgPool) -> Result<u64, sqlx::Error> {
    resolve(pool, None).await
}

/// Resolves the waiting events that name a secret by one of `references` (names and partial
/// ARNs an event's full ARN just taught), without reading the other waiting events.
pub async fn resolve_waiting_naming(
    pool: &PgPool,
    references: &[String],
) -> Result<u64, sqlx::Error> {
    resolve(pool, Some(references)).await
}

async fn resolve(pool: &PgPool, references: Option<&[String]>) -> Result<u64, sqlx::Error> {
    let naming = if references.is_some() {
        "AND secret_ref = ANY($1)"
    } else {
        ""
    };
    let sql = format!(
        "WITH refs AS ({}) \
         UPDATE events e SET secret_arn = refs.arn FROM refs \
         WHERE e.secret_arn IS NULL AND e.secret_ref = refs.secret_ref \
           AND COALESCE(e.region, '') = COALESCE(refs.region, '') \
           AND COALESCE(e.account_id, '') = COALESCE(refs.account_id, '')",
        resolved(&format!(
            "SELECT DISTINCT secret_ref, region, account_id FROM events \
             WHERE secret_arn IS NULL AND secret_ref IS NOT NULL {naming}"
        ))
    );
    let mut query = sqlx::query(&sql);
    if let Some(references) = references {
        query = query.bind(references);
    }
    Ok(query.execute(pool).await?.rows_affected())
}

/// The other ways events name the secret of a full ARN: its partial ARN and its name.
pub fn other_names(arn: &str) -> [String; 2] {
    let partial = &arn[..arn.len().saturating_sub(7)];
    let name = partial
        .split_once(":secret:")
        .map_or(partial, |(_, name)| name);
    [partial.to_string(), name.to_string()]
}

//! Which secret an event names. CloudTrail names a secret by ARN, partial ARN or name, and
//! an event may arrive before a sync has seen its secret; both ingest and sync resolve
//! references by the one rule of the `secret_references` view (migration 0012).

use sqlx::PgPool;

/// The secret each distinct `(secret_ref, region, account_id)` of `references` (a query)
/// names, by the rule of the `secret_references` view (migration 0012): the references
/// that resolve, each with its `arn`. A reference that is an inventory secret's own ARN
/// (nearly every one, where CloudTrail writes the full ARN) is the rule's first preference,
/// so it is answered by that one lookup instead of the view's six.
pub(crate) fn resolved(references: &str) -> String {
    format!(
        "WITH named AS MATERIALIZED ( \
             SELECT r.secret_ref, r.region, r.account_id, s.arn AS known \
             FROM ({references}) r LEFT JOIN secrets s ON s.arn = r.secret_ref) \
         SELECT secret_ref, region, account_id, known AS arn FROM named \
         WHERE known IS NOT NULL \
         UNION ALL ( \
         SELECT DISTINCT ON (r.secret_ref, r.region, r.account_id) \
             r.secret_ref, r.region, r.account_id, v.arn \
         FROM named r \
         JOIN secret_references v ON v.reference = r.secret_ref \
             AND (v.region IS NULL OR (v.region = r.region AND v.account_id = r.account_id)) \
         WHERE r.known IS NULL \
         ORDER BY r.secret_ref, r.region, r.account_id, v.preference, \
             v.gone_since IS NULL DESC, v.last_seen_at DESC)"
    )
}

/// Resolves the events stored before a sync found the secret they name, by the same rule
/// as ingest. Returns how many events now have their secret.
pub async fn resolve_waiting(pool: &PgPool) -> Result<u64, sqlx::Error> {
    resolve(pool, None).await
}

/// Resolves the waiting events that name one of the secrets whose full ARNs events just
/// taught (`learned`, rows of `event_secret_arns`) by its partial ARN or name, without
/// reading the other waiting events.
pub async fn resolve_waiting_naming(pool: &PgPool, learned: &[String]) -> Result<u64, sqlx::Error> {
    resolve(pool, Some(learned)).await
}

async fn resolve(pool: &PgPool, learned: Option<&[String]>) -> Result<u64, sqlx::Error> {
    // The other ways of naming a learned ARN are the table's own (migration 0021).
    let naming = if learned.is_some() {
        "AND secret_ref IN ( \
             SELECT left(arn, length(arn) - 7) FROM event_secret_arns WHERE arn = ANY($1) \
             UNION ALL SELECT name FROM event_secret_arns WHERE arn = ANY($1))"
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
    if let Some(learned) = learned {
        query = query.bind(learned);
    }
    Ok(query.execute(pool).await?.rows_affected())
}

//! Routing: each outbox row, once, becomes deliveries — one per channel a matching rule names
//! for rules that send at once, or an item in the channel's collecting digest for rules that
//! send digests. Rows are claimed with `FOR UPDATE SKIP LOCKED` and marked routed in the same
//! transaction, so several servers on one database route each alert once.

use sqlx::PgPool;

/// Outbox rows routed per transaction.
const ROUTE_BATCH: i64 = 500;

/// Routes the waiting outbox rows; returns how many deliveries it made or added to.
pub async fn route_waiting(pool: &PgPool) -> Result<u64, sqlx::Error> {
    let mut made = 0;
    loop {
        let mut tx = pool.begin().await?;
        let waiting = sqlx::query_scalar!(
            "SELECT id FROM alert_outbox WHERE routed_at IS NULL ORDER BY id \
             LIMIT $1 FOR UPDATE SKIP LOCKED",
            ROUTE_BATCH
        )
        .fetch_all(&mut *tx)
        .await?;
        if waiting.is_empty() {
            return Ok(made);
        }
        // Which enabled channels each alert goes to, through which rule (the lowest-numbered
        // when several send it the same way), at once or as a digest. The statements on this
        // transaction's own table are checked when they run, not when they are built.
        sqlx::query(
            "CREATE TEMPORARY TABLE routes ON COMMIT DROP AS \
             SELECT DISTINCT ON (o.id, rc.channel_id, r.digest_minutes IS NULL) \
                    o.id AS outbox_id, rc.channel_id, r.id AS rule_id, r.digest_minutes, \
                    gen_random_uuid() AS delivery_id \
             FROM alert_outbox o \
             JOIN findings f ON f.id = o.finding_id \
             JOIN alert_rules r ON r.enabled \
                  AND severity_rank(o.severity) >= severity_rank(r.min_severity) \
                  AND (cardinality(r.kinds) = 0 OR f.kind = ANY (r.kinds)) \
                  AND (r.secret_pattern IS NULL \
                       OR COALESCE(f.secret_name, '') LIKE glob_to_like(r.secret_pattern) \
                       OR COALESCE(f.secret_arn, '') LIKE glob_to_like(r.secret_pattern)) \
                  AND (r.principal_pattern IS NULL \
                       OR COALESCE(f.principal, '') LIKE glob_to_like(r.principal_pattern)) \
                  AND (r.secret_tag IS NULL OR EXISTS ( \
                       SELECT 1 FROM secrets s WHERE s.arn = f.secret_arn \
                       AND s.tags ? split_part(r.secret_tag, '=', 1) \
                       AND (strpos(r.secret_tag, '=') = 0 \
                            OR s.tags ->> split_part(r.secret_tag, '=', 1) \
                               = substr(r.secret_tag, strpos(r.secret_tag, '=') + 1)))) \
             JOIN alert_rule_channels rc ON rc.rule_id = r.id \
             JOIN alert_channels c ON c.id = rc.channel_id AND c.enabled \
             WHERE o.id = ANY ($1) \
             ORDER BY o.id, rc.channel_id, r.digest_minutes IS NULL, r.id",
        )
        .bind(&waiting)
        .execute(&mut *tx)
        .await?;
        // At once: a delivery per alert and channel.
        sqlx::query(
            "INSERT INTO alert_deliveries (id, channel_id, rule_id, kind) \
             SELECT delivery_id, channel_id, rule_id, 'alert' FROM routes \
             WHERE digest_minutes IS NULL",
        )
        .execute(&mut *tx)
        .await?;
        made += sqlx::query(
            "INSERT INTO alert_delivery_items (delivery_id, outbox_id) \
             SELECT delivery_id, outbox_id FROM routes WHERE digest_minutes IS NULL",
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        // Digests: the rule's collecting digest for the channel, made when there is none;
        // it goes when its period ends.
        sqlx::query(
            "INSERT INTO alert_deliveries (channel_id, rule_id, kind, status, next_attempt_at) \
             SELECT DISTINCT channel_id, rule_id, 'digest', 'collecting', \
                    now() + make_interval(mins => digest_minutes) \
             FROM routes r WHERE digest_minutes IS NOT NULL AND NOT EXISTS ( \
                 SELECT 1 FROM alert_deliveries d WHERE d.status = 'collecting' \
                 AND d.kind = 'digest' AND d.channel_id = r.channel_id \
                 AND d.rule_id = r.rule_id)",
        )
        .execute(&mut *tx)
        .await?;
        made += sqlx::query(
            "INSERT INTO alert_delivery_items (delivery_id, outbox_id) \
             SELECT d.id, r.outbox_id FROM routes r JOIN alert_deliveries d \
                 ON d.status = 'collecting' AND d.kind = 'digest' \
                 AND d.channel_id = r.channel_id AND d.rule_id = r.rule_id \
             WHERE r.digest_minutes IS NOT NULL ON CONFLICT DO NOTHING",
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query!(
            "UPDATE alert_outbox SET routed_at = now() WHERE id = ANY ($1)",
            &waiting
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
    }
}

//! The `events` table's monthly partitions: made as months appear, dropped whole when they
//! fall out of the retention period (`TRAILKEEPER_RETENTION_DAYS`).

use chrono::{DateTime, TimeZone, Utc};
use sqlx::PgPool;

/// The year and month a partition's name (`events_y2026m12`, made by migration 0017's
/// function) stands for.
fn month_of(name: &str) -> Option<(i32, u32)> {
    let rest = name.strip_prefix("events_y")?;
    let (year, month) = rest.split_once('m')?;
    Some((year.parse().ok()?, month.parse().ok()?))
}

/// The first instant of the month and of the next.
fn bounds(year: i32, month: u32) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let start = Utc.with_ymd_and_hms(year, month, 1, 0, 0, 0).single()?;
    let (next_year, next_month) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    let end = Utc
        .with_ymd_and_hms(next_year, next_month, 1, 0, 0, 0)
        .single()?;
    Some((start, end))
}

/// The month's partition, made if missing (by migration 0017's function: making tables is
/// the owner's, not the serving role's). Two ingests making the same one at once is
/// harmless: the loser finds it there (42P07), or loses the race for its row type in the
/// catalog (23505).
pub async fn create(pool: &PgPool, year: i32, month: u32) -> Result<(), sqlx::Error> {
    let created = sqlx::query!(
        "SELECT trailkeeper_create_events_partition($1, $2)",
        year,
        i32::try_from(month).expect("a month is 1 to 12"),
    )
    .execute(pool)
    .await;
    match created {
        Err(sqlx::Error::Database(error))
            if matches!(error.code().as_deref(), Some("42P07" | "23505")) =>
        {
            Ok(())
        }
        other => other.map(drop),
    }
}

/// Drops every partition whose whole month ended before `cutoff`; returns their names.
pub async fn drop_before(pool: &PgPool, cutoff: DateTime<Utc>) -> Result<Vec<String>, sqlx::Error> {
    let partitions = sqlx::query_scalar!(
        r#"SELECT child.relname::text AS "name!" FROM pg_inherits
           JOIN pg_class child ON child.oid = pg_inherits.inhrelid
           WHERE pg_inherits.inhparent = 'events'::regclass ORDER BY 1"#
    )
    .fetch_all(pool)
    .await?;
    let mut dropped = Vec::new();
    for partition in partitions {
        let expired = month_of(&partition)
            .and_then(|(year, month)| bounds(year, month))
            .is_some_and(|(_, end)| end <= cutoff);
        if expired {
            sqlx::query!("SELECT trailkeeper_drop_events_partition($1)", partition)
                .execute(pool)
                .await?;
            dropped.push(partition);
        }
    }
    Ok(dropped)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(year: i32, month: u32) -> String {
        format!("events_y{year:04}m{month:02}")
    }

    #[test]
    fn names_and_months_round_trip_and_december_ends_in_january() {
        assert_eq!(month_of(&name(2026, 12)), Some((2026, 12)));
        assert_eq!(month_of("events_staging"), None);
        let (start, end) = bounds(2026, 12).unwrap();
        assert_eq!(start.to_rfc3339(), "2026-12-01T00:00:00+00:00");
        assert_eq!(end.to_rfc3339(), "2027-01-01T00:00:00+00:00");
    }
}

//! The URL queries behind every list (secrets, events, findings, deliveries): a page's
//! address and the API's query parameters are the same text, read and written here, and a
//! value a parameter does not accept is an error that names the parameter.

use std::fmt;

use chrono::{DateTime, Utc};
use leptos::prelude::{Resource, WithUntracked};
use leptos_router::params::ParamsMap;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::AppError;

/// A list page's data: `fetch` (a server function) called with the URL's query as text, or
/// the URL's own error without asking the server.
pub fn list_resource<T, F, Fut>(
    query: impl Fn() -> Result<String, QueryError> + Send + Sync + 'static,
    fetch: F,
) -> Resource<Result<T, AppError>>
where
    T: Clone + Send + Sync + Serialize + DeserializeOwned + 'static,
    F: Fn(String) -> Fut + Copy + Send + Sync + 'static,
    Fut: Future<Output = Result<T, AppError>> + Send + 'static,
{
    Resource::new(query, move |query| async move { fetch(query?).await })
}

/// The default and largest page of a list.
pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 1000;

/// A query parameter a list does not understand, named with what it accepts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryError(pub String);

impl fmt::Display for QueryError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl std::error::Error for QueryError {}

/// An AWS account id: exactly 12 digits.
pub fn is_account_id(value: &str) -> bool {
    value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit())
}

/// A 12-digit AWS account id.
pub(crate) fn account(name: &str, value: &str) -> Result<String, QueryError> {
    if is_account_id(value) {
        Ok(value.to_string())
    } else {
        Err(invalid(name, value, "a 12-digit AWS account id"))
    }
}

/// `name=value` is not one of the values the parameter `accepted`.
pub(crate) fn invalid(name: &str, value: &str, accepted: impl fmt::Display) -> QueryError {
    QueryError(format!(
        "{name}={value:?} is not valid; it accepts {accepted}"
    ))
}

/// A parameter's RFC 3339 time.
pub(crate) fn time(name: &str, value: &str) -> Result<DateTime<Utc>, QueryError> {
    DateTime::parse_from_rfc3339(value)
        .map(|time| time.with_timezone(&Utc))
        .map_err(|_| invalid(name, value, "an RFC 3339 time such as 2026-01-01T00:00:00Z"))
}

/// A page size from 1 to [`MAX_LIMIT`].
pub(crate) fn limit(name: &str, value: &str) -> Result<u32, QueryError> {
    value
        .parse()
        .ok()
        .filter(|limit| (1..=MAX_LIMIT).contains(limit))
        .ok_or_else(|| invalid(name, value, format_args!("a number from 1 to {MAX_LIMIT}")))
}

/// A span whose start is not before its end matches nothing: say so rather than show an
/// empty list.
pub(crate) fn in_order(
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
) -> Result<(), QueryError> {
    match (since, until) {
        (Some(since), Some(until)) if since >= until => Err(QueryError(format!(
            "since ({}) must be before until ({})",
            since.to_rfc3339(),
            until.to_rfc3339()
        ))),
        _ => Ok(()),
    }
}

/// The decoded `name=value` pairs of a URL query (without the `?`).
pub(crate) fn pairs(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

/// The `name=value` pairs of a page's URL query, as the router parsed them.
pub(crate) fn params_pairs(params: &ParamsMap) -> Vec<(String, String)> {
    params
        .into_iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
}

/// The current page's URL query (without the `?`), for an island to read its list by: the
/// router that parsed it runs on the server only.
pub(crate) fn page_query() -> String {
    let pairs = leptos_router::hooks::use_query_map().with_untracked(params_pairs);
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.extend_pairs(pairs);
    query.finish()
}

/// Borrows a pair from [`pairs`] as the lists' `from_pairs` take it.
pub(crate) fn as_strs((name, value): &(String, String)) -> (&str, &str) {
    (name, value)
}

/// The URL query of the parameters that have a value, in the order given.
pub(crate) fn write<'a>(
    parameters: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (name, value) in parameters {
        if let Some(value) = value {
            query.append_pair(name, value);
        }
    }
    query.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_parameter_and_what_it_accepts() {
        assert_eq!(
            limit("limit", "0").unwrap_err().0,
            "limit=\"0\" is not valid; it accepts a number from 1 to 1000"
        );
        assert_eq!(limit("limit", "1000"), Ok(1000));
        assert!(
            time("since", "yesterday")
                .unwrap_err()
                .0
                .starts_with("since=\"yesterday\"")
        );
        let later = time("since", "2026-11-02T10:00:00Z").unwrap();
        let earlier = time("until", "2026-11-01T10:00:00+00:00").unwrap();
        assert!(in_order(Some(later), Some(earlier)).is_err());
        assert!(in_order(Some(earlier), Some(later)).is_ok());
    }

    #[test]
    fn a_written_query_reads_back_the_same_pairs() {
        let text = write([
            ("q", Some("team=a&b")),
            ("region", None),
            ("sort", Some("name")),
        ]);
        assert_eq!(text, "q=team%3Da%26b&sort=name");
        assert_eq!(
            pairs(&text),
            [
                ("q".to_string(), "team=a&b".to_string()),
                ("sort".to_string(), "name".to_string())
            ]
        );
    }
}

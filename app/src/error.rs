//! One error for everything the server answers, on both sides of the wire: server functions
//! return it to the pages, and the JSON API turns it into its status and `{"error": …}` body.
//! Internal failures reach people as a short message with a request id; the detail (SQL, AWS,
//! paths) goes only to the server's log under that id.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use leptos::server_fn::{Bytes, Encodes};
use serde::{Deserialize, Serialize};

use crate::api::query::QueryError;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// Nobody is signed in, or the credential is not valid.
    #[error("{0}")]
    Unauthorized(String),
    /// Signed in, but with a role that may not do this.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// The request clashes with what is stored (a name taken, a state that moved on).
    #[error("{0}")]
    Conflict(String),
    /// A value given is not valid; `parameter` names it when one parameter is at fault.
    #[error("{message}")]
    Invalid {
        parameter: Option<String>,
        message: String,
    },
    /// The request's body is larger than this route reads.
    #[error("{0}")]
    TooLarge(String),
    /// AWS refused or failed a call, in AWS's own words.
    #[error("AWS answered {code}: {message}")]
    Aws { code: String, message: String },
    /// The store cannot be reached or read right now.
    #[error(
        "the store cannot be read right now; the server log has the details (request {request_id})"
    )]
    Unavailable { request_id: String },
    /// A bug or a failure nobody can act on from here.
    #[error("internal error; the server log has the details (request {request_id})")]
    Internal { request_id: String },
    /// The call did not reach the server function, or its answer did not come back.
    #[error("{0}")]
    Transport(String),
}

impl AppError {
    /// A value not valid, without naming one parameter.
    pub fn invalid(message: impl Into<String>) -> AppError {
        AppError::Invalid {
            parameter: None,
            message: message.into(),
        }
    }

    /// The HTTP status the JSON API answers with.
    pub fn status(&self) -> u16 {
        match self {
            AppError::Unauthorized(_) => 401,
            AppError::Forbidden(_) => 403,
            AppError::NotFound(_) => 404,
            AppError::Conflict(_) => 409,
            AppError::Invalid { .. } => 400,
            AppError::TooLarge(_) => 413,
            AppError::Aws { .. } => 502,
            AppError::Unavailable { .. } => 503,
            AppError::Internal { .. } | AppError::Transport(_) => 500,
        }
    }
}

impl From<QueryError> for AppError {
    fn from(error: QueryError) -> AppError {
        AppError::invalid(error.0)
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(error: ServerFnErrorErr) -> AppError {
        AppError::Transport(error.to_string())
    }

    /// Serialised on the server as a server function's answer, which then carries the
    /// error's own status (a refusal is not a server failure).
    fn ser(&self) -> Bytes {
        #[cfg(feature = "ssr")]
        if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(
                http::StatusCode::from_u16(self.status())
                    .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR),
            );
        }
        JsonEncoding::encode(self).unwrap_or_else(|error| {
            Bytes::from(serde_json::json!({ "Transport": error.to_string() }).to_string())
        })
    }
}

/// The body of every error the JSON API returns.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ApiError {
    /// What went wrong, for people.
    #[cfg_attr(feature = "ssr", schema(example = "sign in required"))]
    pub error: String,
}

#[cfg(feature = "ssr")]
mod server {
    use std::fmt::Display;
    use std::hash::{BuildHasher, RandomState};

    use axum::Json;
    use axum::extract::rejection::JsonRejection;
    use axum::http::StatusCode;
    use axum::response::{IntoResponse, Response};

    use super::{ApiError, AppError};

    impl AppError {
        /// A failure people cannot act on: logged in full under a new request id, shown as
        /// that id only.
        pub fn internal(doing: &str, detail: impl Display) -> AppError {
            let request_id = request_id();
            tracing::error!(%request_id, error = %detail, "{doing} failed");
            AppError::Internal { request_id }
        }

        /// The store failed: logged in full under a new request id, shown as that id only.
        pub fn store(detail: impl Display) -> AppError {
            let request_id = request_id();
            tracing::error!(%request_id, error = %detail, "the store failed");
            AppError::Unavailable { request_id }
        }
    }

    /// A short id that finds one failure in the log.
    fn request_id() -> String {
        format!(
            "{:016x}",
            RandomState::new().hash_one(std::time::SystemTime::now())
        )
    }

    impl From<sqlx::Error> for AppError {
        fn from(error: sqlx::Error) -> AppError {
            AppError::store(error)
        }
    }

    /// A JSON body that does not read, in axum's words (which name the field at fault).
    impl From<JsonRejection> for AppError {
        fn from(rejection: JsonRejection) -> AppError {
            AppError::invalid(rejection.body_text())
        }
    }

    impl IntoResponse for AppError {
        fn into_response(self) -> Response {
            let status =
                StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let body = ApiError {
                error: self.to_string(),
            };
            (status, Json(body)).into_response()
        }
    }

    /// Turns a unique-constraint clash into the error people should see, as
    /// realworld-axum-sqlx's `on_constraint` does; every other failure stays the store's.
    pub trait ResultExt<T> {
        fn on_constraint(self, name: &str, clash: impl FnOnce() -> AppError)
        -> Result<T, AppError>;
    }

    impl<T> ResultExt<T> for Result<T, sqlx::Error> {
        fn on_constraint(
            self,
            name: &str,
            clash: impl FnOnce() -> AppError,
        ) -> Result<T, AppError> {
            self.map_err(|error| match &error {
                sqlx::Error::Database(database) if database.constraint() == Some(name) => clash(),
                _ => AppError::store(error),
            })
        }
    }
}

#[cfg(feature = "ssr")]
pub use server::ResultExt;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_error_has_its_own_status() {
        assert_eq!(
            AppError::Unauthorized("sign in required".into()).status(),
            401
        );
        assert_eq!(AppError::invalid("limit must be 1 to 1000").status(), 400);
        assert_eq!(
            AppError::Unavailable {
                request_id: "1".into()
            }
            .status(),
            503
        );
    }

    #[test]
    fn an_internal_error_shows_its_request_id_and_nothing_else() {
        let error = AppError::Internal {
            request_id: "00ab".into(),
        };
        assert_eq!(
            error.to_string(),
            "internal error; the server log has the details (request 00ab)"
        );
    }

    #[test]
    fn errors_cross_the_wire_unchanged() {
        let error = AppError::Invalid {
            parameter: Some("limit".into()),
            message: "limit must be 1 to 1000".into(),
        };
        assert_eq!(AppError::de(error.ser()), error);
    }
}

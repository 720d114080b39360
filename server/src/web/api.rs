//! The JSON API under `/api/v1/`, for automation: it authenticates with
//! `Authorization: Bearer TOKEN` (or a browser session) and answers JSON only. Its OpenAPI
//! document is generated from the handlers and types below.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Extension, FromRef, FromRequest, FromRequestParts, Path, RawQuery, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;
use sqlx::PgPool;
use trailkeeper_app::access::{Credential, Identity};
use trailkeeper_app::api::admin::{ChangeOutcome, ChangeRequest, ReplicaRegion, TrailkeeperChange};
use trailkeeper_app::api::alerts::{
    AlertRule, Channel, ChannelChange, ChannelCreated, ChannelKind, Delivery, DeliveryAttempt,
    DeliveryKind, DeliveryPage, DeliveryStatus, NewAlertRule, NewChannel,
};
use trailkeeper_app::api::changes::{ApprovalDecision, ApprovalStatus, ChangeApproval};
use trailkeeper_app::api::events::{
    AccessReport, EventPage, EventQuery, EventRecord, EventSummary, PrincipalAccess,
};
use trailkeeper_app::api::findings::{
    Finding, FindingDetail, FindingKind, FindingPage, FindingStatus, NewSuppression, Severity,
    Suppression, TriageAction, TriageEntry,
};
use trailkeeper_app::api::grants::{
    Grant, GrantCheck, GrantReach, PrincipalGrants, SecretReaders, UngrantedRead,
};
use trailkeeper_app::api::rotations::{
    ConsumerVerdict, RotationConsumer, RotationImpact, RotationOutcome,
};
use trailkeeper_app::api::secrets::{
    LabelMove, PolicyExposure, PolicyFlag, Replica, RotationSettings, RotationStatus, SecretDetail,
    SecretFlag, SecretPage, SecretQuery, SecretSummary, SecretVersion,
};
use trailkeeper_app::error::ApiError;
use trailkeeper_app::{AppError, Role};
use utoipa::openapi::Required;
use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use super::access::ClientAddress;
use super::replica;
use crate::audit::{Action, Entry};
use crate::db::Reader;
use crate::detect::{DetectionSettings, settings};
use crate::events::export::csv_line;
use crate::events::read as events;
use crate::findings::triage::Actor;
use crate::ingest::after_ingest;
use crate::ingest::formats;
use crate::ingest::load::{prepare, store_unit};
use crate::inventory::grants::read as grants;
use crate::inventory::read;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Trailkeeper API",
        description = "Metadata and audit trail of AWS Secrets Manager secrets. Every request \
                       needs `Authorization: Bearer TOKEN` with a token made by \
                       `trailkeeper token create`; the token's role decides what it may do."
    ),
    // Each route's own entry is added where the routes are declared (`web::server_routes`);
    // the access report, the rotations and the readers are served by the secret's route, as a name may
    // hold slashes.
    paths(access, rotations, readers),
    components(schemas(
        AccessReport,
        PrincipalAccess,
        RotationImpact,
        RotationConsumer,
        SecretReaders,
        Grant,
        GrantReach,
        GrantCheck,
        PrincipalGrants,
        UngrantedRead,
        RotationOutcome,
        ConsumerVerdict,
        IngestSummary,
        EventPage,
        EventRecord,
        EventSummary,
        Me,
        ApiError,
        SecretPage,
        SecretSummary,
        SecretDetail,
        ChangeRequest,
        ChangeOutcome,
        ReplicaRegion,
        ChangeApproval,
        ApprovalStatus,
        ApprovalDecision,
        TrailkeeperChange,
        RotationStatus,
        RotationSettings,
        SecretFlag,
        PolicyFlag,
        PolicyExposure,
        Replica,
        SecretVersion,
        LabelMove,
        Finding,
        FindingPage,
        FindingDetail,
        FindingKind,
        FindingStatus,
        Severity,
        TriageAction,
        TriageEntry,
        Suppression,
        NewSuppression,
        DetectionSettings,
        Channel,
        ChannelKind,
        NewChannel,
        ChannelCreated,
        ChannelChange,
        AlertRule,
        NewAlertRule,
        Delivery,
        DeliveryKind,
        DeliveryStatus,
        DeliveryAttempt,
        DeliveryPage
    )),
    modifiers(&BearerAuthentication),
    security(("bearer" = []))
)]
pub struct ApiDocument;

struct BearerAuthentication;

impl Modify for BearerAuthentication {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
    }
}

/// Who the request authenticated as.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// The user's or the token's name.
    #[schema(example = "ci-exporter")]
    pub name: String,
    /// `viewer`, `auditor` or `admin`.
    #[schema(value_type = String, example = "auditor")]
    pub role: trailkeeper_app::Role,
    /// `token` for an API token, `session` for a browser session.
    #[schema(value_type = String, example = "token")]
    pub credential: Credential,
    /// What it may see: accounts, tags (`key=value`) and name prefixes (`prefix*`); absent
    /// when it sees everything its role allows.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = json!(["team=payments"]))]
    pub scope: Option<Vec<String>>,
}

/// The time span of an events query: every events path takes it.
const TIME_FILTERS: [(&str, &str); 3] = [
    ("since", "Events at or after this time (RFC 3339)"),
    ("until", "Events before this time (RFC 3339)"),
    (
        "range",
        "Instead of since/until, a span ending now: `1h`, `24h`, `7d`, `30d`, `90d`, `all` \
         (default)",
    ),
];

/// The rest of the explorer's filters: the events list and its exports take them.
const EVENT_FILTERS: [(&str, &str); 9] = [
    ("secret", "A secret's name, partial ARN or ARN"),
    (
        "principal",
        "A principal's ARN (an assumed role's role ARN), or part of it, or a session name",
    ),
    ("event_name", "Such as `DescribeSecret` or `RotationFailed`"),
    (
        "source_ip",
        "An address or CIDR block, such as `10.0.0.0/8`",
    ),
    (
        "error_code",
        "`any`, `none`, or an error code such as `AccessDenied`",
    ),
    ("access", "`read` or `write`"),
    ("user_agent", "Part of the user agent"),
    ("account", "The account the event was delivered to"),
    ("region", "The event's region"),
];

/// Adds the filters above to each path that takes them, so the list and both exports are
/// described by one table (as `EventQuery::parse` reads them all the same way).
pub fn describe_event_filters(openapi: &mut utoipa::openapi::OpenApi) {
    let filtered: [(&str, &[(&str, &str)]); 4] = [
        ("/api/v1/events", &EVENT_FILTERS),
        ("/api/v1/events/export.csv", &EVENT_FILTERS),
        ("/api/v1/events/export.jsonl", &EVENT_FILTERS),
        ("/api/v1/secrets/{id}/access", &[]),
    ];
    for (path, filters) in filtered {
        let Some(item) = openapi.paths.paths.get_mut(path) else {
            continue;
        };
        item.parameters.get_or_insert_with(Vec::new).extend(
            TIME_FILTERS
                .iter()
                .chain(filters)
                .map(|(name, description)| {
                    ParameterBuilder::new()
                        .name(*name)
                        .parameter_in(ParameterIn::Query)
                        .required(Required::False)
                        .description(Some(*description))
                        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                        .build()
                }),
        );
    }
}

/// Who am I, and with which role.
#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "identity",
    responses(
        (status = 200, description = "The caller's identity", body = Me),
        (status = 401, description = "No valid token or session", body = ApiError),
    )
)]
pub async fn me(Extension(identity): Extension<Identity>) -> Json<Me> {
    Json(Me {
        name: identity.name,
        role: identity.role,
        credential: identity.credential,
        scope: identity.scope.as_ref().map(|scope| scope.terms()),
    })
}

/// Secrets, filtered and sorted as on the Secrets page, one page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/secrets",
    tag = "inventory",
    params(
        ("q" = Option<String>, Query, description = "Part of the name, description, tag key or value; `key=value` matches a tag"),
        ("account" = Option<String>, Query, description = "Only this AWS account (12 digits)"),
        ("region" = Option<String>, Query, description = "Only this region"),
        ("status" = Option<RotationStatus>, Query, description = "Only this rotation status"),
        ("service" = Option<String>, Query, description = "Only secrets managed by this AWS service"),
        ("kms_key" = Option<String>, Query, description = "Only this KMS key (`aws/secretsmanager` for the default key)"),
        ("deleted" = Option<String>, Query, description = "`existing` (default: what AWS still has), `only` (scheduled for deletion or gone), `include` (everything), `hide` (neither)"),
        ("flag" = Option<String>, Query, description = "`any`, or one of `public_policy`, `cross_account`, `scheduled_deletion`, `replica`"),
        ("sort" = Option<String>, Query, description = "`name` (default), `region`, `status`, `last_rotated`, `next_rotation`, `last_accessed`"),
        ("order" = Option<String>, Query, description = "`asc` (default) or `desc`"),
        ("cursor" = Option<String>, Query, description = "The `next` of the previous page"),
        ("limit" = Option<u32>, Query, description = "Page size, 1 to 1000 (default 50)"),
    ),
    responses(
        (status = 200, description = "One page of secrets", body = SecretPage),
        (status = 400, description = "A parameter or the cursor is not valid", body = ApiError),
        (status = 401, description = "No valid token or session", body = ApiError),
    )
)]
pub async fn list_secrets(
    reader: Reader,
    RawQuery(query): RawQuery,
) -> Result<Json<SecretPage>, AppError> {
    let query = SecretQuery::parse(query.as_deref().unwrap_or_default())?;
    let mut db = reader.read().await.map_err(AppError::from)?;
    Ok(Json(read::list(&mut db, &query).await?))
}

/// One secret by name or ARN, with its versions and label history.
#[utoipa::path(
    get,
    path = "/api/v1/secrets/{id}",
    tag = "inventory",
    params(("id" = String, Path, description = "The secret's ARN, or its name when that is unique")),
    responses(
        (status = 200, description = "The secret", body = SecretDetail),
        (status = 401, description = "No valid token or session", body = ApiError),
        (status = 404, description = "No such secret", body = ApiError),
        (status = 409, description = "The name belongs to several secrets; use an ARN", body = ApiError),
    )
)]
pub async fn secret(
    reader: Reader,
    Extension(identity): Extension<Identity>,
    Extension(ClientAddress(address)): Extension<ClientAddress>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    let mut db = reader.read().await.map_err(AppError::from)?;
    let found = read::find(&mut db, &id).await;
    // A name may itself end in `/access` or `/rotations`: the secret wins, else it is the
    // secret's report.
    if let (Err(_), Some(secret)) = (&found, id.strip_suffix("/access")) {
        let detail = read::find(&mut db, secret).await?;
        drop(db);
        let query = query.as_deref().unwrap_or_default();
        return access(&reader, &identity, &address, &detail.summary.arn, query).await;
    }
    if let (Err(_), Some(secret)) = (&found, id.strip_suffix("/rotations")) {
        let detail = read::find(&mut db, secret).await?;
        return rotations(&mut db, &detail.summary.arn).await;
    }
    if let (Err(_), Some(secret)) = (&found, id.strip_suffix("/readers")) {
        let detail = read::find(&mut db, secret).await?;
        return readers(&mut db, &detail.summary.arn).await;
    }
    Ok(Json(found?).into_response())
}

/// The secret's recent rotations (the newest five within a year), each with its consumers:
/// who read the secret in the week before and after it, and whether each moved on to the
/// new value, kept asking for the old version, started failing or stopped reading.
#[utoipa::path(
    get,
    path = "/api/v1/secrets/{id}/rotations",
    tag = "inventory",
    params(("id" = String, Path, description = "The secret's ARN, or its name when that is unique")),
    responses(
        (status = 200, description = "The rotations, newest first", body = Vec<RotationImpact>),
        (status = 404, description = "No such secret", body = ApiError),
    )
)]
async fn rotations(db: &mut sqlx::PgConnection, arn: &str) -> Result<Response, AppError> {
    let impacts = crate::events::rotations::rotation_impact(db, arn, chrono::Utc::now())
        .await
        .map_err(AppError::from)?;
    Ok(Json(impacts).into_response())
}

/// Who the account's policies let read the secret's value (each with the statements that
/// grant it), and whether each read it within the idle period (`unused_grant_days`).
#[utoipa::path(
    get,
    path = "/api/v1/secrets/{id}/readers",
    tag = "inventory",
    params(("id" = String, Path, description = "The secret's ARN, or its name when that is unique")),
    responses(
        (status = 200, description = "Who can read it, unused grants first", body = SecretReaders),
        (status = 404, description = "No such secret", body = ApiError),
    )
)]
async fn readers(db: &mut sqlx::PgConnection, arn: &str) -> Result<Response, AppError> {
    let idle_days = settings::in_force(&mut *db)
        .await
        .map_err(AppError::from)?
        .unused_grant_days;
    let readers = grants::secret_readers(db, arn, idle_days, chrono::Utc::now())
        .await
        .map_err(AppError::from)?;
    Ok(Json(readers).into_response())
}

/// What an IAM user or role can read (each secret with the statements that grant it and its
/// reads within the idle period), and what it read that no grant explains.
#[utoipa::path(
    get,
    path = "/api/v1/principals/{arn}",
    tag = "inventory",
    params(("arn" = String, Path, description = "The principal's ARN (`arn:aws:iam::111122223333:role/app`)")),
    responses(
        (status = 200, description = "What it can read and did", body = PrincipalGrants),
        (status = 400, description = "Not a principal's ARN", body = ApiError),
        (status = 401, description = "No valid token or session", body = ApiError),
    )
)]
pub async fn principal(
    reader: Reader,
    Path(arn): Path<String>,
) -> Result<Json<PrincipalGrants>, AppError> {
    let principal = grants::principal_named(&arn)?;
    let mut db = reader.read().await.map_err(AppError::from)?;
    let idle_days = settings::in_force(&mut *db)
        .await
        .map_err(AppError::from)?
        .unused_grant_days;
    Ok(Json(
        grants::principal_grants(&mut db, principal, idle_days, chrono::Utc::now())
            .await
            .map_err(AppError::from)?,
    ))
}

/// Who used a secret over a period: per principal, reads, writes, errors, first and last
/// use, sources and clients; as CSV with `format=csv` (role `auditor`, recorded in the audit
/// log, as every export is).
#[utoipa::path(
    get,
    path = "/api/v1/secrets/{id}/access",
    tag = "events",
    params(
        ("id" = String, Path, description = "The secret's ARN, or its name when that is unique"),
        ("format" = Option<String>, Query, description = "`json` (default) or `csv`"),
    ),
    responses(
        (status = 200, description = "The access report", body = AccessReport),
        (status = 400, description = "A parameter is not valid", body = ApiError),
        (status = 403, description = "A CSV export needs the auditor role", body = ApiError),
        (status = 404, description = "No such secret", body = ApiError),
    )
)]
async fn access(
    reader: &Reader,
    identity: &Identity,
    address: &str,
    arn: &str,
    text: &str,
) -> Result<Response, AppError> {
    let csv = form_urlencoded::parse(text.as_bytes())
        .any(|(name, value)| name == "format" && value == "csv");
    let query = EventQuery::parse(text)?;
    if csv {
        if !identity.role.includes(Role::Auditor) {
            return Err(AppError::Forbidden(
                "exporting needs the auditor role".into(),
            ));
        }
        Entry::new(
            &identity.name,
            Action::EventsExported,
            format!("exported the access report of {arn} as csv"),
        )
        .detail(json!({ "format": "csv", "secret": arn, "query": query.to_query_string() }))
        .from_address(Some(address))
        .record(reader.pool())
        .await
        .map_err(AppError::from)?;
    }
    let mut db = reader.read().await.map_err(AppError::from)?;
    let report = events::access_report(&mut db, arn, &query, chrono::Utc::now())
        .await
        .map_err(AppError::from)?;
    if !csv {
        return Ok(Json(report).into_response());
    }
    let mut body = csv_line(&[
        "principal",
        "principal_account",
        "events",
        "reads",
        "writes",
        "errors",
        "first_at",
        "last_at",
        "sources",
        "user_agents",
        "error_codes",
    ]);
    for access in &report.principals {
        body.extend(csv_line(&[
            access.principal.clone(),
            access.principal_account.clone().unwrap_or_default(),
            access.events.to_string(),
            access.reads.to_string(),
            access.writes.to_string(),
            access.errors.to_string(),
            access.first_at.to_rfc3339(),
            access.last_at.to_rfc3339(),
            access.sources.join(" "),
            access.user_agents.join("; "),
            access.error_codes.join(" "),
        ]));
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"trailkeeper-access-report.csv\"",
            ),
        ],
        body,
    )
        .into_response())
}

/// CloudTrail events about Secrets Manager, newest first, filtered as in the explorer, one
/// page at a time; each with its derived fields and its whole record. Takes the explorer's
/// filters (see `EventFilterParameters`) and these:
#[utoipa::path(
    get,
    path = "/api/v1/events",
    tag = "events",
    params(
        ("event_id" = Option<String>, Query, description = "CloudTrail's eventID"),
        ("cursor" = Option<String>, Query, description = "The `next` of the previous page"),
        ("limit" = Option<u32>, Query, description = "Page size, 1 to 1000 (default 50)"),
    ),
    responses(
        (status = 200, description = "One page of events", body = EventPage),
        (status = 400, description = "A parameter or the cursor is not valid", body = ApiError),
        (status = 401, description = "No valid token or session", body = ApiError),
    )
)]
pub async fn list_events(
    reader: Reader,
    RawQuery(query): RawQuery,
) -> Result<Json<EventPage>, AppError> {
    let query = EventQuery::parse(query.as_deref().unwrap_or_default())?;
    let mut db = reader.read().await.map_err(AppError::from)?;
    let (items, next) = events::list(&mut db, &query, chrono::Utc::now()).await?;
    Ok(Json(EventPage { items, next }))
}

/// What an ingest did with the records it was given: the same figures as
/// `trailkeeper ingest` prints.
#[derive(Debug, Serialize, ToSchema)]
pub struct IngestSummary {
    /// The detected format, such as `CloudTrail log file, gzip`.
    #[schema(example = "CloudTrail log file, gzip")]
    pub format: String,
    pub records: u64,
    /// Stored for the first time.
    pub new: u64,
    /// Already stored (each event is stored once).
    pub duplicates: u64,
    /// Records of other services than Secrets Manager.
    pub skipped: u64,
    /// Records set aside in the quarantine, each with a reason.
    pub quarantined: u64,
}

/// Ingests CloudTrail records posted as the body, in any format `trailkeeper ingest` reads
/// (a CloudTrail log file, a JSON array, JSON Lines, EventBridge events, a LookupEvents
/// response), plain or gzip, up to 256 MiB. Role `admin`; recorded in the audit log.
#[utoipa::path(
    post,
    path = "/api/v1/ingest",
    tag = "events",
    request_body(content = String, description = "CloudTrail records in any accepted format, plain or gzip", content_type = "application/octet-stream"),
    responses(
        (status = 200, description = "What became of the records", body = IngestSummary),
        (status = 400, description = "The body is not CloudTrail records in any accepted format; it was quarantined", body = ApiError),
        (status = 403, description = "The admin role is needed", body = ApiError),
        (status = 413, description = "The body is larger than 256 MiB", body = ApiError),
    )
)]
pub async fn ingest(
    State(pool): State<PgPool>,
    State(limits): State<Arc<IngestLimits>>,
    requester: Requester,
    body: axum::body::Body,
) -> Result<Json<IngestSummary>, AppError> {
    let bytes = axum::body::to_bytes(body, super::MAX_INGEST_BODY)
        .await
        .map_err(|error| {
            AppError::TooLarge(format!("the body could not be read whole: {error}"))
        })?;
    let origin = format!("POST /api/v1/ingest by {}", requester.name);
    let unit = {
        // Decompressing and typing is CPU work: on the blocking pool, a few files at a time.
        let _turn = limits
            .parsing
            .acquire()
            .await
            .map_err(|error| AppError::internal("waiting to read a posted body", error))?;
        let (bytes, max_file_bytes) = (bytes.clone(), limits.max_file_bytes);
        tokio::task::spawn_blocking(move || {
            let contents = formats::read(&bytes, max_file_bytes).map_err(|error| error.to_string());
            prepare(&origin, contents)
        })
        .await
        .map_err(|error| AppError::internal("reading a posted body", error))?
    };
    let summary = store_unit(&pool, unit, None)
        .await
        .map_err(AppError::from)?;
    after_ingest(&pool).await.map_err(AppError::from)?;
    Entry::new(
        &requester.name,
        Action::EventsIngested,
        format!(
            "ingested {} bytes through the API: {}",
            bytes.len(),
            summary.describe()
        ),
    )
    .detail(json!({
        "bytes": bytes.len(),
        "records": summary.records,
        "new": summary.new,
        "duplicates": summary.duplicates,
        "quarantined": summary.quarantined,
    }))
    .from_address(Some(&requester.address))
    .record(&pool)
    .await
    .map_err(AppError::from)?;
    match summary.format {
        Ok(format) => Ok(Json(IngestSummary {
            format,
            records: summary.records,
            new: summary.new,
            duplicates: summary.duplicates,
            skipped: summary.skipped,
            quarantined: summary.quarantined,
        })),
        Err(reason) => Err(AppError::invalid(format!(
            "the body was quarantined: {reason}"
        ))),
    }
}

/// What `POST /api/v1/ingest` may hold: no file's content past `max_file_bytes`, and only
/// [`IngestLimits::PARSING_AT_ONCE`] bodies being decompressed and typed at a time.
pub struct IngestLimits {
    pub max_file_bytes: u64,
    parsing: tokio::sync::Semaphore,
}

impl IngestLimits {
    pub const PARSING_AT_ONCE: usize = 2;

    pub fn new(max_file_bytes: u64) -> IngestLimits {
        IngestLimits {
            max_file_bytes,
            parsing: tokio::sync::Semaphore::new(Self::PARSING_AT_ONCE),
        }
    }
}

/// Who made an API request and from where, as the audit log records a change.
pub struct Requester {
    pub name: String,
    pub address: String,
}

impl Requester {
    pub fn actor(&self) -> Actor<'_> {
        Actor {
            name: &self.name,
            address: Some(&self.address),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Requester {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Requester, AppError> {
        let name = parts
            .extensions
            .get::<Identity>()
            .ok_or_else(|| AppError::Unauthorized("sign in required".into()))?
            .name
            .clone();
        let address = parts
            .extensions
            .get::<ClientAddress>()
            .map(|ClientAddress(address)| address.clone())
            .unwrap_or_default();
        Ok(Requester { name, address })
    }
}

/// The store as the requester may read it: their scope's part of it.
impl<S: Send + Sync> FromRequestParts<S> for Reader
where
    PgPool: FromRef<S>,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Reader, AppError> {
        let identity = parts
            .extensions
            .get::<Identity>()
            .ok_or_else(|| AppError::Unauthorized("sign in required".into()))?;
        Ok(replica::for_request(
            Reader::within(PgPool::from_ref(state), identity.scope.clone()),
            parts,
        ))
    }
}

/// A JSON request body; one that does not read is refused as every error is, naming what is
/// wrong with it.
#[derive(FromRequest)]
#[from_request(via(Json), rejection(AppError))]
pub struct Body<T>(pub T);

/// This document.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API"))
)]
pub async fn openapi_document() -> Json<&'static utoipa::openapi::OpenApi> {
    // Built once from the route table: it cannot change while the process runs.
    static DOCUMENT: std::sync::LazyLock<utoipa::openapi::OpenApi> =
        std::sync::LazyLock::new(super::api_document);
    Json(&DOCUMENT)
}

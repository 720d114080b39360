//! Who may reach which page and server function. These tables are the one place that say so:
//! the server's request path enforces it for every route (and refuses a route it does not
//! list), server functions check it again when a page calls them in-process, and the
//! navigation uses it to hide what a role cannot open.

use leptos::server_fn::ServerFn;
use serde::{Deserialize, Serialize};

use crate::Role;
use crate::api::admin::{ChangeSecret, MayChangeSecrets};
use crate::api::alerts::{
    AddAlertChannel, AddAlertRule, ChangeAlertChannel, EnableAlertChannel, ListAlerts,
    RemoveAlertRule, RetryAlertDelivery, TestAlertChannel,
};
use crate::api::audit::GetAuditLog;
use crate::api::changes::{ChangeSecrets, DecideChange, ListChangeApprovals};
use crate::api::events::{GetEvent, ListEvents, SecretAccess};
use crate::api::findings::{
    AddSuppression, GetFinding, ListFindings, ListSuppressions, RemoveSuppression, TriageFinding,
};
use crate::api::grants::{PrincipalGrantsFn, SecretReadersFn};
use crate::api::identity::{CurrentIdentity, SignInMethodsFn};
use crate::api::overview::GetOverview;
use crate::api::rotations::SecretRotations;
use crate::api::secrets::{GetSecret, ListSecrets};
use crate::api::settings::{GetDetectionSettings, PreviewDetectionSettings, SaveDetectionSettings};
use crate::api::users::{AddUser, ChangeUser, ListUsers};
use crate::scope::Scope;

/// What a route asks of the requester.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not.
    Public,
    /// A signed-in user or an API token with at least this role.
    Role(Role),
    /// At least this role, and unscoped: what covers the whole estate (alert routing,
    /// settings, the audit log, users) is not for people limited to part of it.
    Estate(Role),
}

impl Access {
    /// The role it needs; `None` when public.
    pub fn role(self) -> Option<Role> {
        match self {
            Access::Public => None,
            Access::Role(role) | Access::Estate(role) => Some(role),
        }
    }
}

/// Who is asking, as the server established it for this request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub name: String,
    pub role: Role,
    pub credential: Credential,
    /// What part of the estate they may see and act on; `None`: all of it.
    pub scope: Option<Scope>,
}

/// The client's address as the server saw the connection, set on every request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientAddress(pub String);

/// Who is asking and from where: what the audit log records of a change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub identity: Identity,
    pub address: Option<String>,
}

/// How the requester proved who they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Credential {
    /// A browser session of a user who signed in.
    Session,
    /// An API token (`Authorization: Bearer`).
    Token,
}

/// What happens to a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Nobody is signed in.
    SignInRequired,
    /// Signed in, with a role below the one needed.
    Forbidden {
        needed: Role,
    },
    /// The role suffices, but the route covers the whole estate and their access is scoped.
    OutsideScope,
}

pub fn decide(access: Access, identity: Option<&Identity>) -> Decision {
    let Some(needed) = access.role() else {
        return Decision::Allow;
    };
    match identity {
        None => Decision::SignInRequired,
        Some(identity) if !identity.role.includes(needed) => Decision::Forbidden { needed },
        Some(identity) if matches!(access, Access::Estate(_)) && identity.scope.is_some() => {
            Decision::OutsideScope
        }
        Some(_) => Decision::Allow,
    }
}

impl Decision {
    /// Why a signed-in person is refused, in their words.
    pub fn refusal(self) -> Option<String> {
        match self {
            Decision::Forbidden { needed } => Some(format!("this needs the {needed} role")),
            Decision::OutsideScope => {
                Some("this covers the whole estate and your access is scoped to part of it".into())
            }
            Decision::Allow | Decision::SignInRequired => None,
        }
    }
}

/// A page in the navigation.
#[derive(Clone, Copy, Debug)]
pub struct Section {
    pub path: &'static str,
    pub label: &'static str,
    pub access: Access,
}

/// The navigation, in order.
pub const SECTIONS: [Section; 9] = [
    section("/", "Overview", Access::Role(Role::Viewer)),
    section("/secrets", "Secrets", Access::Role(Role::Viewer)),
    section("/events", "Events", Access::Role(Role::Viewer)),
    section("/findings", "Findings", Access::Role(Role::Viewer)),
    section("/alerts", "Alerts", Access::Estate(Role::Auditor)),
    section("/settings", "Settings", Access::Estate(Role::Admin)),
    section("/changes", "Changes", Access::Estate(Role::Admin)),
    section("/audit", "Audit log", Access::Estate(Role::Admin)),
    section("/users", "Users", Access::Estate(Role::Admin)),
];

const fn section(path: &'static str, label: &'static str, access: Access) -> Section {
    Section {
        path,
        label,
        access,
    }
}

/// Pages outside the navigation, and the sign-in page, the only public one.
const OTHER_PAGES: [(&str, Access); 5] = [
    ("/login", Access::Public),
    ("/secrets/{*id}", Access::Role(Role::Viewer)),
    ("/principals/{*arn}", Access::Role(Role::Viewer)),
    ("/events/{id}", Access::Role(Role::Viewer)),
    ("/findings/{id}", Access::Role(Role::Viewer)),
];

/// Who may call each server function, keyed by the function itself (its `ServerFn::PATH`),
/// so a rule cannot name an endpoint that is not there. Only the sign-in page's own
/// question (how can I sign in here?) is public.
const SERVER_FUNCTIONS: [(&str, Access); 37] = [
    rule::<CurrentIdentity>(Role::Viewer),
    (<SignInMethodsFn as ServerFn>::PATH, Access::Public),
    rule::<GetOverview>(Role::Viewer),
    estate::<GetAuditLog>(Role::Admin),
    rule::<ListSecrets>(Role::Viewer),
    rule::<GetSecret>(Role::Viewer),
    rule::<ChangeSecret>(Role::Admin),
    rule::<MayChangeSecrets>(Role::Viewer),
    estate::<ListChangeApprovals>(Role::Admin),
    estate::<DecideChange>(Role::Admin),
    rule::<ChangeSecrets>(Role::Admin),
    rule::<ListEvents>(Role::Viewer),
    rule::<GetEvent>(Role::Viewer),
    rule::<SecretAccess>(Role::Viewer),
    rule::<SecretRotations>(Role::Viewer),
    rule::<SecretReadersFn>(Role::Viewer),
    rule::<PrincipalGrantsFn>(Role::Viewer),
    rule::<ListFindings>(Role::Viewer),
    rule::<GetFinding>(Role::Viewer),
    rule::<TriageFinding>(Role::Auditor),
    rule::<ListSuppressions>(Role::Viewer),
    estate::<AddSuppression>(Role::Auditor),
    estate::<RemoveSuppression>(Role::Auditor),
    rule::<GetDetectionSettings>(Role::Viewer),
    estate::<SaveDetectionSettings>(Role::Admin),
    estate::<PreviewDetectionSettings>(Role::Admin),
    estate::<ListAlerts>(Role::Auditor),
    estate::<AddAlertChannel>(Role::Admin),
    estate::<TestAlertChannel>(Role::Admin),
    estate::<EnableAlertChannel>(Role::Admin),
    estate::<ChangeAlertChannel>(Role::Admin),
    estate::<RetryAlertDelivery>(Role::Admin),
    estate::<AddAlertRule>(Role::Admin),
    estate::<RemoveAlertRule>(Role::Admin),
    estate::<ListUsers>(Role::Admin),
    estate::<AddUser>(Role::Admin),
    estate::<ChangeUser>(Role::Admin),
];

const fn rule<F: ServerFn>(role: Role) -> (&'static str, Access) {
    (F::PATH, Access::Role(role))
}

const fn estate<F: ServerFn>(role: Role) -> (&'static str, Access) {
    (F::PATH, Access::Estate(role))
}

/// What a route (as registered: `/secrets/{name}`, not `/secrets/db-password`) asks of the
/// requester; `None` for a route this table does not know, which the server refuses.
pub fn required(route: &str) -> Option<Access> {
    SECTIONS
        .iter()
        .find(|section| section.path == route)
        .map(|section| section.access)
        .or_else(|| {
            OTHER_PAGES
                .iter()
                .chain(&SERVER_FUNCTIONS)
                .find(|(path, _)| *path == route)
                .map(|(_, access)| *access)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn someone(role: Role) -> Identity {
        Identity {
            name: "someone".into(),
            role,
            credential: Credential::Session,
            scope: None,
        }
    }

    #[test]
    fn roles_below_the_needed_one_are_forbidden_and_nobody_must_sign_in() {
        let admin_only = Access::Role(Role::Admin);
        assert_eq!(decide(admin_only, None), Decision::SignInRequired);
        assert_eq!(
            decide(admin_only, Some(&someone(Role::Auditor))),
            Decision::Forbidden {
                needed: Role::Admin
            }
        );
        assert_eq!(
            decide(admin_only, Some(&someone(Role::Admin))),
            Decision::Allow
        );
        assert_eq!(decide(Access::Public, None), Decision::Allow);
    }

    #[test]
    fn estate_wide_routes_refuse_scoped_people_whatever_their_role() {
        let audit_log = required("/audit").unwrap();
        let scoped_admin = Identity {
            scope: Some("team=payments".parse().unwrap()),
            ..someone(Role::Admin)
        };
        assert_eq!(
            decide(audit_log, Some(&scoped_admin)),
            Decision::OutsideScope
        );
        assert_eq!(
            decide(audit_log, Some(&someone(Role::Admin))),
            Decision::Allow
        );
        let secrets = required("/secrets").unwrap();
        assert_eq!(decide(secrets, Some(&scoped_admin)), Decision::Allow);
    }

    #[test]
    fn unknown_routes_have_no_access_rule() {
        assert_eq!(required("/audit"), Some(Access::Estate(Role::Admin)));
        assert_eq!(required("/login"), Some(Access::Public));
        assert_eq!(required("/api/not-a-function"), None);
    }
}

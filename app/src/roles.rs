//! Who may do what. The server enforces roles; the pages only use them to hide what a role
//! cannot use.

use serde::{Deserialize, Serialize};

/// Each role includes everything the roles before it may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Browses secrets, versions, rotation status and events.
    Viewer,
    /// A viewer who also triages findings and makes exports and reports.
    Auditor,
    /// An auditor who also manages alert channels, settings, users, and acts on AWS.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Auditor, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
        }
    }

    /// True when this role may do what `required` may.
    pub fn includes(self, required: Role) -> bool {
        self >= required
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == value)
            .ok_or_else(|| format!("{value:?} is not a role; use viewer, auditor or admin"))
    }
}

#[cfg(test)]
mod tests {
    use super::Role;

    #[test]
    fn each_role_includes_the_ones_below_it_and_no_more() {
        assert!(Role::Admin.includes(Role::Auditor));
        assert!(Role::Auditor.includes(Role::Viewer));
        assert!(Role::Auditor.includes(Role::Auditor));
        assert!(!Role::Viewer.includes(Role::Auditor));
        assert!(!Role::Auditor.includes(Role::Admin));
    }

    #[test]
    fn roles_parse_from_their_names_only() {
        assert_eq!("auditor".parse::<Role>(), Ok(Role::Auditor));
        assert_eq!(
            "Admin".parse::<Role>().unwrap_err(),
            "\"Admin\" is not a role; use viewer, auditor or admin"
        );
    }
}

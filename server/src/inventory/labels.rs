//! Staging label moves: which label left which version for which, between two observations
//! of a secret's versions. The store keeps every move; the version timeline draws them.

use std::collections::{BTreeMap, BTreeSet};

/// Version id → the staging labels on it.
pub type Labels = BTreeMap<String, Vec<String>>;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelMove {
    pub label: String,
    /// `None`: the label was on no version before (or this is the first observation).
    pub from: Option<String>,
    /// `None`: the label is on no version now.
    pub to: Option<String>,
}

/// The moves that turn `before` into `after`, label by label in name order. AWS keeps a
/// label on one version at a time; if a peer reports it on several, each is paired in turn.
pub fn moves(before: &Labels, after: &Labels) -> Vec<LabelMove> {
    let (before, after) = (holders(before), holders(after));
    let names: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    let mut moves = Vec::new();
    for label in names {
        let empty = BTreeSet::new();
        let was = before.get(label).unwrap_or(&empty);
        let is = after.get(label).unwrap_or(&empty);
        let mut left = was.difference(is).cloned();
        let mut arrived = is.difference(was).cloned();
        loop {
            match (left.next(), arrived.next()) {
                (None, None) => break,
                (from, to) => moves.push(LabelMove {
                    label: label.clone(),
                    from,
                    to,
                }),
            }
        }
    }
    moves
}

/// Label → the versions that carry it.
fn holders(labels: &Labels) -> BTreeMap<String, BTreeSet<String>> {
    let mut holders: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (version, names) in labels {
        for name in names {
            holders
                .entry(name.clone())
                .or_default()
                .insert(version.clone());
        }
    }
    holders
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &[&str])]) -> Labels {
        pairs
            .iter()
            .map(|(version, names)| {
                (
                    version.to_string(),
                    names.iter().map(|name| name.to_string()).collect(),
                )
            })
            .collect()
    }

    fn moved(label: &str, from: Option<&str>, to: Option<&str>) -> LabelMove {
        LabelMove {
            label: label.into(),
            from: from.map(Into::into),
            to: to.map(Into::into),
        }
    }

    #[test]
    fn a_rotation_moves_current_and_previous_and_drops_pending() {
        let before = labels(&[
            ("v1", &["AWSCURRENT"]),
            ("v0", &["AWSPREVIOUS"]),
            ("v2", &["AWSPENDING"]),
        ]);
        let after = labels(&[
            ("v2", &["AWSCURRENT"]),
            ("v1", &["AWSPREVIOUS"]),
            ("v0", &[]),
        ]);
        assert_eq!(
            moves(&before, &after),
            [
                moved("AWSCURRENT", Some("v1"), Some("v2")),
                moved("AWSPENDING", Some("v2"), None),
                moved("AWSPREVIOUS", Some("v0"), Some("v1")),
            ]
        );
        assert_eq!(moves(&after, &after), [], "nothing moved, nothing recorded");
    }

    #[test]
    fn the_first_observation_places_every_label() {
        let after = labels(&[("v1", &["AWSCURRENT", "blue"])]);
        assert_eq!(
            moves(&Labels::new(), &after),
            [
                moved("AWSCURRENT", None, Some("v1")),
                moved("blue", None, Some("v1")),
            ]
        );
    }
}

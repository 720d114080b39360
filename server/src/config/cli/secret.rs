//! `trailkeeper secret`: an admin's changes to a secret from the command line.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::ApprovalArgs;

#[derive(Debug, Subcommand)]
pub enum SecretCommand {
    /// Rotate the secret now (its rotation must be configured).
    Rotate {
        #[command(flatten)]
        change: ChangeArgs,
        /// Only test the rotation function (RotateImmediately=false).
        #[arg(long)]
        test_only: bool,
    },
    /// Move AWSCURRENT back to the version holding AWSPREVIOUS.
    Rollback {
        #[command(flatten)]
        change: ChangeArgs,
    },
    /// Clear a stuck rotation: AWSPENDING off the version that is not current.
    ClearPending {
        #[command(flatten)]
        change: ChangeArgs,
    },
    /// Schedule the secret's deletion, restorable for the recovery window.
    Delete {
        #[command(flatten)]
        change: ChangeArgs,
        /// Days AWS keeps it restorable.
        #[arg(
            long,
            value_name = "DAYS",
            default_value = "30",
            value_parser = clap::value_parser!(i64).range(7..=30)
        )]
        recovery_days: i64,
        /// The secret's name again, to confirm.
        #[arg(long, value_name = "NAME")]
        confirm: Option<String>,
    },
    /// Call off the secret's scheduled deletion.
    Restore {
        #[command(flatten)]
        change: ChangeArgs,
    },
    /// Turn rotation on or change its schedule, window or function (--schedule), or turn it
    /// off (--off, confirmed with --confirm).
    Rotation {
        #[command(flatten)]
        change: ChangeArgs,
        /// rate(N days), rate(N hours) or cron(minutes hours day month weekday year).
        #[arg(long, value_name = "SCHEDULE", required_unless_present = "off")]
        schedule: Option<String>,
        /// The rotation window, 1h to 24h.
        #[arg(long, value_name = "HOURS", conflicts_with = "off")]
        window: Option<String>,
        /// The rotation function's ARN (default: the one the secret has).
        #[arg(long, value_name = "ARN", conflicts_with = "off")]
        function_arn: Option<String>,
        /// Rotate at once too, rather than only testing the rotation function.
        #[arg(long, conflicts_with = "off")]
        rotate_now: bool,
        /// Turn rotation off.
        #[arg(long, conflicts_with = "schedule")]
        off: bool,
        /// The secret's name again, to confirm turning rotation off.
        #[arg(long, value_name = "NAME")]
        confirm: Option<String>,
    },
    /// Add, change or remove tags.
    Tag {
        #[command(flatten)]
        change: ChangeArgs,
        /// A tag to add or change; repeat for more.
        #[arg(long = "tag", value_name = "KEY=VALUE")]
        tags: Vec<String>,
        /// The key of a tag to remove; repeat for more.
        #[arg(long = "remove-tag", value_name = "KEY")]
        remove_tags: Vec<String>,
    },
    /// Change the description or the KMS key (never the value).
    Update {
        #[command(flatten)]
        change: ChangeArgs,
        #[arg(long, value_name = "TEXT")]
        description: Option<String>,
        /// The KMS key's ARN, id or alias.
        #[arg(long, value_name = "KEY")]
        kms_key_id: Option<String>,
    },
    /// Replicate the secret to regions.
    Replicate {
        #[command(flatten)]
        change: ChangeArgs,
        /// A region, with its KMS key after `=` when not the region's default; repeat for more.
        #[arg(long = "region", value_name = "REGION[=KMS_KEY]", required = true)]
        regions: Vec<String>,
    },
    /// Delete the secret's replica in a region.
    RemoveReplica {
        #[command(flatten)]
        change: ChangeArgs,
        #[arg(long, value_name = "REGION")]
        region: String,
        /// The secret's name again, to confirm.
        #[arg(long, value_name = "NAME")]
        confirm: Option<String>,
    },
    /// Replace the resource policy with the JSON in a file (validated by AWS first, public
    /// policies blocked), or delete it (--remove).
    Policy {
        #[command(flatten)]
        change: ChangeArgs,
        /// The policy document.
        #[arg(long, value_name = "PATH", required_unless_present = "remove")]
        file: Option<PathBuf>,
        /// Delete the resource policy.
        #[arg(long, conflicts_with = "file")]
        remove: bool,
        /// The secret's name again, to confirm deleting the policy or widening who may use
        /// the secret.
        #[arg(long, value_name = "NAME")]
        confirm: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct ChangeArgs {
    /// The secret's name, or its ARN.
    pub secret: String,
    /// Why: recorded in the audit log with the change.
    #[arg(long, value_name = "TEXT")]
    pub reason: String,
    #[command(flatten)]
    pub approvals: ApprovalArgs,
    /// The external id the member accounts' roles require, if any (as for sync).
    #[arg(
        long,
        env = "TRAILKEEPER_ORG_EXTERNAL_ID",
        value_name = "ID",
        hide_env_values = true
    )]
    pub org_external_id: Option<String>,
}

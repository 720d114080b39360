//! Who can read each secret, as the account's policies grant it: the evaluator over IAM's
//! identity policies, permissions boundaries, the secret's resource policy and its KMS key's
//! policy.

pub mod evaluate;
pub mod fetch;

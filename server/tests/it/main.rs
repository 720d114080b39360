//! Trailkeeper's integration tests, in one binary so the server links once: each module is
//! one area, run against the real parts (a PostgreSQL made for the run, the AWS API peer,
//! real HTTP and SMTP receivers, the `trailkeeper` binary itself). `make test` provides the
//! database and the peer.

mod common;

mod access;
mod accounts;
mod admin;
mod alert_delivery;
mod alerts;
mod approvals;
mod attribution;
mod aws_peer;
mod bulk;
mod cli;
mod detection;
mod embedded_postgres;
mod events;
mod findings;
mod grants;
mod iam_policies;
mod identity;
mod ingest;
mod inventory;
mod no_secret_values;
mod parse;
mod policy;
mod query_data;
mod replica;
mod scopes;
mod secrets;
mod several_servers;
mod sources;
mod trails;
mod users;
mod web;

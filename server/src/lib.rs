//! Trailkeeper's server: storage, AWS access, the web layer, and the commands that run them.
//! Data flows one way: sources → normalise → store → detect → alert; the web layer reads the
//! store.

pub mod activity;
pub mod admin;
pub mod alert;
pub mod application;
pub mod audit;
pub mod auth;
pub mod aws;
pub mod config;
pub mod db;
pub mod detect;
pub mod events;
pub mod findings;
pub mod ingest;
pub mod inventory;
pub mod web;

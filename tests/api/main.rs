//! End-to-end tests: real HTTP against hookrelay served in-process, a real
//! Postgres database per test, real receivers on 127.0.0.1.

mod autodisable;
mod bad_requests;
mod browser;
mod catalog;
mod console;
mod container;
mod deliveries;
mod delivery;
mod docs;
mod endpoint;
mod fanout;
mod faults;
mod helpers;
mod ingest;
mod isolation;
mod openapi;
mod operations;
mod otel;
mod plans;
mod rate_limit;
mod scheduler;
mod scheduler_storm;
mod screens;
mod sealing;
mod security;
mod startup;
mod tenant_deletion;
mod tenant_lanes;
mod tenants;
mod webhook_state;
mod webhooks;

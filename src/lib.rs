//! svcscope: tells which Windows server services the hosts on a network talk to.
//!
//! The pipeline, one module per stage:
//!
//! ```text
//!  capture ──batches──▶ decode ─▶ flow ─▶ classify ─▶ aggregate ─▶ report
//!  (own thread)           │         │ slot    │ picks, relabels
//!                         │      inspect (registry of per-flow inspectors) ─▶ wire (parsers)
//!                         └──────── tracker (one classifier worker) ─┘
//!                                   ended flows ─▶ flow::FlowSink ─▶ report::flows (records), report::ipfix
//! ```
//!
//! Each module imports only those below it: `cli` → `pipeline` and `extract` (the second read of `analyze --write-service`) → `tracker` and `report` (side by
//! side: ended flows reach the flow records through a `flow::FlowSink` the pipeline hands the
//! tracker) → `select` (which flows `analyze` counts) → `aggregate`, `classify` → `flow` → `inspect` → `wire`, `capture` → `decode`,
//! `catalog`, and the ground floor, `bounded` (capped tables) and `time` (trace time). `pipeline`
//! owns the threads and channels; `metrics` is the `/metrics` server of a live capture, which
//! asks the pipeline for snapshots; `catalog` is the data classification consults.

pub mod aggregate;
pub mod bounded;
pub mod capture;
pub mod catalog;
pub mod classify;
pub mod cli;
pub mod decode;
pub mod extract;
pub mod flow;
pub mod hash;
pub mod inspect;
pub mod metrics;
pub mod pipeline;
pub mod report;
pub mod select;
pub mod time;
pub mod tracker;
pub mod wire;

#[cfg(test)]
mod testing;

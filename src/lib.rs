//! svcscope: tells which Windows server services the hosts on a network talk to.
//!
//! The pipeline, one module per stage:
//!
//! ```text
//! capture ──batches──▶ decode ─▶ flow table ─▶ classify ─▶ aggregate ─▶ report
//! (capture.rs,          (decode.rs) (flow.rs)   (classify.rs) (aggregate.rs) (report/)
//!  its own thread)
//! ```
//!
//! `pipeline.rs` owns the threads and channels; `catalog.rs` is the data every stage consults.

pub mod catalog;
pub mod decode;

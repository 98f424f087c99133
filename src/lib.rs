//! svcscope: tells which Windows server services the hosts on a network talk to.
//!
//! The pipeline, one module per stage:
//!
//! ```text
//!  capture ──batches──▶ decode ─▶ flow ─▶ classify ─▶ aggregate ─▶ report
//!  (own thread)         └──────── tracker (one classifier worker) ─┘
//! ```
//!
//! `pipeline` owns the threads and channels; `catalog` is the data classification consults;
//! `bounded` holds the capped tables the stages learn into; `wire` holds pure protocol parsers (SMB
//! and its security blobs) for the inspectors; `cli` is the command line over all of it.

pub mod aggregate;
pub mod bounded;
pub mod capture;
pub mod catalog;
pub mod classify;
pub mod cli;
pub mod decode;
pub mod flow;
pub mod inspect;
pub mod pipeline;
pub mod report;
pub mod time;
pub mod tracker;
pub mod wire;

#[cfg(test)]
mod testing;

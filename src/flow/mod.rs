//! Flows as data: the portal's setup procedures as step sequences a support engineer can read.
//!
//! A flow file (TOML) lists steps with stable ids; a step lists actions aimed at what a person
//! sees (labels, roles, texts), with values taken from variables (`{tin}`,
//! `{generated.password}`, `{captured.temp_user_id}`). The defaults are embedded in the binary;
//! `--flow FILE` runs one from disk instead.

mod load;
mod model;
pub mod vars;

pub use load::{builtin, from_file, parse, recorded, BUILTIN};
pub use model::{Action, Ends, Flow, Step, NOT_ACCESS_MANAGER, PENDING_APPROVAL};
pub use vars::Vars;

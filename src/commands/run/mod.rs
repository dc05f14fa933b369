//! What every flow run shares: the run's lifecycle (`lifecycle`), the run of its steps with the
//! browser and mailbox (`drive`), the User-ID retry (`user_id`) and the mailbox a continued run
//! reads (`mailbox`).

mod drive;
mod lifecycle;
mod mailbox;
mod user_id;

pub use drive::*;
pub use lifecycle::*;
pub use mailbox::*;
pub use user_id::*;

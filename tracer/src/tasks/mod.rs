//! What tracer knows about tasks. [`TaskModel`] is the history of every process and thread an
//! event stream (live or replayed) showed: who created whom, what each ran, how long it lived and
//! how it ended; the tree and the exports are drawn from it. [`TaskTable`] is the lean live view
//! that resolves `/proc/<n>` lookups as they happen.
mod ancestry;
mod coverage;
mod lookup;
mod model;

#[cfg(test)]
mod identity_tests;
#[cfg(test)]
mod tests;

pub use ancestry::Ancestry;
pub use coverage::Coverage;
pub use lookup::TaskTable;
pub use model::{End, Observed, Process, ProcessKey, Start, TaskModel, Thread, ThreadKey};

//! Every file tracer writes: `-o` recordings, JSON files, `tracer export`'s trace and `tracer
//! run --events-to`. tracer runs as root, often in directories other users can write to, so
//! each is created here and only here: the directory is opened step by step the way
//! `fs.protected_symlinks` would allow ([`open_dir`]), the file is created exclusively with mode
//! 0600 or renamed into place over what `--force` replaces ([`create`]), rotation renames and
//! removes relative to that directory ([`rotate`]), all through the one set of `*at` calls in
//! [`at`].
pub mod at;
pub mod create;
pub mod open_dir;
pub mod rotate;

pub use create::{CreateError, Created, create, remove_if_ours};
pub use open_dir::open_dir;

//! `tracer top`: a live, full-screen view of the machine's tasks fed by events rather than by
//! polling `/proc`: the process tree with the processes just born and just gone, the churn per
//! comm, and what tracer itself saw and lost. The [`model`] is fed by the drain (or a replay)
//! and drawn by the [`screen`] thread from [`snapshot`]s, through [`render`].
pub mod input;
pub mod model;
pub mod render;
pub mod rows;
pub mod screen;
pub mod seed;
pub mod snapshot;
pub mod terminal;
pub mod users;
mod window;

#[cfg(test)]
mod tests;

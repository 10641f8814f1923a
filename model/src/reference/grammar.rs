//! The reference grammar of distribution/reference, shared by every engine.
//! (Filled in with the engines: parsing, normalization, the exact error texts.)

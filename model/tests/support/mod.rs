//! What the law tests share: store and request generators, the law catalog, the enumeration.
#![allow(dead_code)]

pub mod check;
pub mod enumerate;
pub mod follow;
pub mod laws;
pub mod spec;
pub mod strategies;

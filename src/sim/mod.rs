//! The physics of MCIA, free of reinforcement-learning words: radio links, compute, background load and
//! task arrivals. Every function here is a pure formula of SPEC section 4 with its unit test beside it;
//! [`crate::env`] composes them into a step.

pub mod compute;
pub mod lanes;
pub mod load;
pub mod radio;
pub mod shares;
pub mod tasks;
pub mod trace;

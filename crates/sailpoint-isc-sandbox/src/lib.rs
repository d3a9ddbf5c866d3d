//! Simulated ISC tenant (work in progress).

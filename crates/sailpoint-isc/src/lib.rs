//! Ergonomic SailPoint ISC client (work in progress).

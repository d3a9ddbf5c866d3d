//! Low-level client for SailPoint Identity Security Cloud account aggregation, generated
//! by `cargo xtask generate` from `openapi/*.yaml` with progenitor.
//!
//! One module per API version of `openapi/apis.yaml`, each with a `Client`, its `types`, the
//! documented error bodies by status (`errors`), operation metadata (`operations`, including
//! which operations are experimental), the version's facts (`API`) and the enum values the spec
//! documents (`known_values`). [`ApiVersion`] names a version; its constants and
//! [`ApiVersion::all`] are generated from the same list, so a new version needs no code here.
//!
//! Most users want the `sailpoint-isc` crate, which adds authentication, retries, streamed
//! uploads and waiting. This crate is the generated layer underneath: the files under
//! `src/generated/` are never edited by hand.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod context;
mod hooks;
mod timestamp;
mod version;

#[rustfmt::skip]
// progenitor copies the spec's `termsOfService` URL into a doc comment as is.
#[allow(missing_docs, clippy::all, clippy::pedantic, unused_imports, rustdoc::bare_urls)]
mod generated;

pub use context::RequestContext;
pub use generated::*;
pub use hooks::accept_value;
pub use timestamp::{EPOCH_MILLIS_THRESHOLD, InvalidTimestamp, Timestamp};
pub use version::{ApiSpec, ApiVersion, Operation, UnknownApiVersion};

//! netlab: the three ICE connection kinds (host, server reflexive, relayed) shown with the
//! sample calling app and coturn, on small networks of Linux network namespaces.
//! See docs/connection-kinds.md.

pub mod coturn;
pub mod lab;
/// The calling app's own "did media flow for the whole call" check, shared source so the
/// lab judges a call exactly as the app's tests do (without linking libwebrtc).
#[path = "../../native/call/src/media_flow.rs"]
pub mod media_flow;
pub mod netcheck;
pub mod run;
pub mod scenario;
pub mod stun;
pub mod summary;
pub mod topo;

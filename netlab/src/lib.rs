//! netlab: the three ICE connection kinds (host, server reflexive, relayed) shown with the
//! sample calling app and coturn, on small networks of Linux network namespaces.
//! See docs/connection-kinds.md.

pub mod coturn;
pub mod lab;
pub mod netcheck;
pub mod run;
pub mod scenario;
pub mod stun;
pub mod summary;
pub mod topo;

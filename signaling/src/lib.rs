//! The signaling server of mobilertc: rooms of peers relaying offers, answers, ICE
//! candidates and chat over HTTP long-polling. The protocol (v1) is docs/signaling.md.
//!
//! ```no_run
//! let server = mobilertc_signaling::spawn_background(
//!     "127.0.0.1:0".parse().unwrap(),
//!     mobilertc_signaling::Config::default(),
//! )?;
//! println!("signaling at {}", server.url());
//! # Ok::<(), std::io::Error>(())
//! ```

mod config;
mod conn;
mod error;
mod http;
mod hub;
mod ice;
mod limits;
pub mod protocol;
mod redis_store;
mod store;
#[doc(hidden)]
pub mod testing;
mod tls;

pub use config::{Config, ConfigError};
pub use error::ApiError;
pub use http::{spawn_background, spawn_background_with, BackgroundServer, Server};
pub use ice::{turn_credential, turn_username, IceConfig};
pub use tls::{Tls, TlsSource};

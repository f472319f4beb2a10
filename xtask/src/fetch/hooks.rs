//! Step 5 lives in [`super::sync::runhooks`]; this module only names it so the step list
//! reads like the pipeline (`gclient runhooks` runs DEPS hooks: toolchains, sysroots, …).
pub use super::sync::runhooks;

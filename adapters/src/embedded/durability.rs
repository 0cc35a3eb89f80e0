//! [`Synchronous`]: when an acknowledged write of an embedded engine reaches the disk. One
//! setting, with one meaning, for every durable embedded engine.

use serde::Deserialize;

/// The `synchronous` option of every durable embedded engine: what an acknowledged write
/// survives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Synchronous {
    /// The write is fsynced before it is acknowledged: it survives a power loss.
    #[default]
    Full,
    /// The write has reached the operating system when it is acknowledged: it survives a crash
    /// of the process (`kill -9`), not of the machine. Faster.
    Normal,
}

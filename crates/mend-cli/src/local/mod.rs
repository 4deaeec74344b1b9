//! `mend serve` as the laptop's one holder of the key: the local socket, its serving side
//! (`agent`) and the commands' side (`client`).

pub mod agent;
pub mod client;
/// The protocol itself is mend-node's (serve's journal answers `Query` there).
pub use mend_node::local_socket as wire;

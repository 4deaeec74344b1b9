//! `mend serve` as the laptop's one holder of the key: the local socket, its serving side
//! (`agent`) and the commands' side (`client`).

pub mod agent;
pub mod client;
pub mod wire;

//! End-to-end tests: the real `mend` binary in temporary homes.

mod util;

mod attacks;
mod dates;
mod errors;
mod hostile;
mod install;
mod journal;
mod notifications;
mod practices;
mod relays;
mod removal;
mod safety;
mod service;
mod serving;
mod settings;
mod stranger;
mod sync;
mod terminal;

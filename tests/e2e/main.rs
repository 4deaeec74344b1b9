//! End-to-end tests: the real `mend` binary in temporary homes.

mod util;

mod attacks;
mod dates;
mod errors;
mod hostile;
mod journal;
mod practices;
mod relays;
mod removal;
mod safety;
mod serving;
mod stranger;
mod sync;
mod terminal;

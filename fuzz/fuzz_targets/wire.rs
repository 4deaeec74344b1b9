//! The wire decoder: never panics; whatever decodes re-encodes to a message that decodes the same.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mend_sync::{decode, encode, frame_len, Request, Response};

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = decode::<Request>(data) {
        assert_eq!(decode::<Request>(&encode(&r)).unwrap(), r);
    }
    if let Ok(r) = decode::<Response>(data) {
        assert_eq!(decode::<Response>(&encode(&r)).unwrap(), r);
    }
    if data.len() >= 4 {
        let _ = frame_len([data[0], data[1], data[2], data[3]]);
    }
});

//! The data file container: a header, then length-prefixed sealed records.
//!
//! ```text
//! "MENDDAT\0" (8) | version (1) | record kind (1) | journal id (16) | records...
//! record: length (u32 LE) | sealed bytes (nonce 24 | ciphertext | tag 16)
//! ```
//! Decoding is pure (bytes in, records out) so it is tested without files.

use mend_crypto::{JournalId, RecordKind, SEAL_OVERHEAD};

pub const DATA_MAGIC: &[u8; 8] = b"MENDDAT\0";
pub const DATA_VERSION: u8 = 1;
pub const DATA_HEADER_LEN: usize = 26;
/// Version 2 of the header, for logs: version 1's, then the tag of the snapshot the log
/// follows (16 bytes), which its first record also binds.
pub const LOG_VERSION: u8 = 2;
pub const LOG_HEADER_LEN: usize = DATA_HEADER_LEN + mend_crypto::TAG_LEN;
/// One record is never larger than 256 MiB.
pub const RECORD_MAX_LEN: usize = 256 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataHeader {
    pub kind: RecordKind,
    pub journal_id: JournalId,
    /// Of a log (header version 2): the tag of the snapshot it follows.
    pub follows: Option<[u8; mend_crypto::TAG_LEN]>,
}

/// The header: version 1, or version 2 when it names the snapshot a log follows.
pub fn encode_header(h: &DataHeader) -> Vec<u8> {
    let mut out = Vec::with_capacity(LOG_HEADER_LEN);
    out.extend_from_slice(DATA_MAGIC);
    out.push(if h.follows.is_some() {
        LOG_VERSION
    } else {
        DATA_VERSION
    });
    out.push(h.kind as u8);
    out.extend_from_slice(&h.journal_id.0);
    if let Some(tag) = &h.follows {
        out.extend_from_slice(tag);
    }
    out
}

/// Frame one sealed record for appending.
pub(crate) fn frame(sealed: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + sealed.len());
    out.extend_from_slice(&(sealed.len() as u32).to_le_bytes());
    out.extend_from_slice(sealed);
    out
}

/// A decoded data file.
#[derive(Debug)]
pub struct Decoded<'a> {
    pub header: DataHeader,
    pub records: Vec<&'a [u8]>,
    /// Bytes up to the end of the last whole record.
    pub valid_len: usize,
    /// Bytes of a torn final record (power lost mid-append) that were dropped; 0 if none.
    pub torn_bytes: usize,
}

/// Split a data file into its records. A final record cut short is reported as torn, never as
/// an error, and never takes earlier records with it; anything else malformed is an error.
pub fn decode_records(bytes: &[u8]) -> Result<Decoded<'_>, String> {
    if bytes.len() < DATA_HEADER_LEN || &bytes[..8] != DATA_MAGIC {
        return Err("not a Mend data file (bad or missing header)".into());
    }
    let (follows, mut pos) = match bytes[8] {
        DATA_VERSION => (None, DATA_HEADER_LEN),
        LOG_VERSION if bytes.len() >= LOG_HEADER_LEN => (
            Some(
                bytes[DATA_HEADER_LEN..LOG_HEADER_LEN]
                    .try_into()
                    .expect("16 bytes"),
            ),
            LOG_HEADER_LEN,
        ),
        LOG_VERSION => return Err("a header cut short".into()),
        other => {
            return Err(format!(
                "data file version {other} is not supported (this build reads \
                 {DATA_VERSION} and {LOG_VERSION})"
            ))
        }
    };
    let kind = RecordKind::from_byte(bytes[9])
        .ok_or_else(|| format!("unknown record kind {}", bytes[9]))?;
    let journal_id = JournalId(bytes[10..26].try_into().expect("16 bytes"));
    let mut records = Vec::new();
    let mut torn_bytes = 0;
    while pos < bytes.len() {
        let rest = &bytes[pos..];
        if rest.len() < 4 {
            torn_bytes = rest.len();
            break;
        }
        let len = u32::from_le_bytes(rest[..4].try_into().expect("4 bytes")) as usize;
        if len == 0 && rest.iter().all(|b| *b == 0) {
            // A zero-filled tail: the file grew but the data never reached the disk.
            torn_bytes = rest.len();
            break;
        }
        if !(SEAL_OVERHEAD..=RECORD_MAX_LEN).contains(&len) {
            return Err(format!("record at byte {pos} has impossible length {len}"));
        }
        if rest.len() - 4 < len {
            torn_bytes = rest.len();
            break;
        }
        records.push(&rest[4..4 + len]);
        pos += 4 + len;
    }
    Ok(Decoded {
        header: DataHeader {
            kind,
            journal_id,
            follows,
        },
        records,
        valid_len: bytes.len() - torn_bytes,
        torn_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(records: &[&[u8]]) -> Vec<u8> {
        let mut out = encode_header(&DataHeader {
            kind: RecordKind::SharedLog,
            journal_id: JournalId([7; 16]),
            follows: None,
        })
        .to_vec();
        for r in records {
            out.extend(frame(r));
        }
        out
    }

    #[test]
    fn decodes_whole_files() {
        let a = [1u8; 50];
        let b = [2u8; 60];
        let bytes = file(&[&a, &b]);
        let d = decode_records(&bytes).unwrap();
        assert_eq!(d.records, vec![&a[..], &b[..]]);
        assert_eq!(d.torn_bytes, 0);
        assert_eq!(d.header.kind, RecordKind::SharedLog);
    }

    #[test]
    fn every_cut_of_the_last_record_is_torn_not_fatal() {
        let a = [1u8; 50];
        let b = [2u8; 60];
        let whole = file(&[&a, &b]);
        let first_end = DATA_HEADER_LEN + 4 + 50;
        for cut in first_end + 1..whole.len() {
            let d = decode_records(&whole[..cut]).unwrap();
            assert_eq!(d.records, vec![&a[..]], "cut at {cut}");
            assert_eq!(d.valid_len, first_end);
            assert_eq!(d.torn_bytes, cut - first_end);
        }
        let mut zero_tail = whole.clone();
        zero_tail.extend([0u8; 100]);
        assert_eq!(decode_records(&zero_tail).unwrap().records.len(), 2);
    }

    #[test]
    fn damage_that_is_not_a_torn_tail_is_an_error() {
        let whole = file(&[&[1u8; 50]]);
        let mut bad_len = whole.clone();
        bad_len[DATA_HEADER_LEN..DATA_HEADER_LEN + 4].copy_from_slice(&3u32.to_le_bytes());
        assert!(decode_records(&bad_len).is_err());
        let mut bad_magic = whole.clone();
        bad_magic[0] = b'X';
        assert!(decode_records(&bad_magic).is_err());
        let mut bad_version = whole;
        bad_version[8] = 9;
        assert!(decode_records(&bad_version).is_err());
    }
}

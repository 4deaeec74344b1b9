//! Compressed Automerge chunks from outside, inflated within a budget.
//!
//! Automerge inflates a compressed change (chunk type 2) and a document's deflated columns
//! without any bound: a few kilobytes from a peer can become gigabytes in memory (a
//! decompression bomb). Here a compressed change is inflated by Mend, at most up to what is
//! left of the batch's budget, and handed to Automerge uncompressed; a document's deflated
//! columns are inflated the same way (and dropped) before Automerge is let near it. The budget
//! grows with the bytes that arrived ([`budget_for`]): honest compressed journal data inflates
//! a few times over, never hundreds.

use std::io::Read;

use sha2::Digest;

/// The inflated bytes a batch of `wire` bytes may hold: 200 times its size, at least 16 MiB
/// and at most 256 MiB.
pub(crate) fn budget_for(wire: usize) -> usize {
    wire.saturating_mul(200).clamp(16 << 20, 256 << 20)
}

/// Inflate raw deflate `data`, taking at most `budget` bytes from it; `None` past the budget
/// or for data that does not inflate.
fn inflate(data: &[u8], budget: &mut usize) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let limit = u64::try_from(*budget).ok()?.saturating_add(1);
    flate2::read::DeflateDecoder::new(data)
        .take(limit)
        .read_to_end(&mut out)
        .ok()?;
    if out.len() > *budget {
        return None;
    }
    *budget -= out.len();
    Some(out)
}

fn uleb(input: &mut &[u8]) -> Option<u64> {
    leb128::read::unsigned(input).ok()
}

fn take<'a>(input: &mut &'a [u8], n: u64) -> Option<&'a [u8]> {
    let n = usize::try_from(n).ok()?;
    let head = input.get(..n)?;
    *input = &input[n..];
    Some(head)
}

/// A compressed change chunk (`chunk`, header included) as the uncompressed change chunk it
/// stands for, inflated within `budget`. `None`: it does not inflate, or not within the budget.
pub(crate) fn compressed_change(
    chunk: &[u8],
    header_len: usize,
    budget: &mut usize,
) -> Option<Vec<u8>> {
    let body = inflate(chunk.get(header_len..)?, budget)?;
    // magic | checksum (first 4 bytes of SHA-256 over type, length, body) | type 1 | length | body
    let mut typed = vec![1u8];
    leb128::write::unsigned(&mut typed, body.len() as u64).ok()?;
    let mut hasher = sha2::Sha256::new();
    hasher.update(&typed);
    hasher.update(&body);
    let checksum = hasher.finalize();
    let mut out = Vec::with_capacity(8 + typed.len() + body.len());
    out.extend_from_slice(&chunk[..4]);
    out.extend_from_slice(&checksum[..4]);
    out.extend_from_slice(&typed);
    out.extend_from_slice(&body);
    Some(out)
}

/// Whether a document chunk's deflated columns all inflate within `budget` (which they use
/// up). Read as Automerge's document format lays them out: actors, heads, the change columns'
/// and the operation columns' specifications, then their data.
pub(crate) fn document_fits(chunk: &[u8], header_len: usize, budget: &mut usize) -> bool {
    document_columns(chunk.get(header_len..).unwrap_or_default(), budget).is_some()
}

fn document_columns(mut body: &[u8], budget: &mut usize) -> Option<()> {
    const DEFLATE: u64 = 0b1000;
    let actors = uleb(&mut body)?;
    for _ in 0..actors {
        let n = uleb(&mut body)?;
        take(&mut body, n)?;
    }
    let heads = uleb(&mut body)?;
    take(&mut body, heads.checked_mul(32)?)?;
    let mut specs = Vec::new();
    for _ in 0..2 {
        let count = uleb(&mut body)?;
        if count > 1024 {
            return None;
        }
        for _ in 0..count {
            specs.push((uleb(&mut body)?, uleb(&mut body)?));
        }
    }
    for (spec, len) in specs {
        let data = take(&mut body, len)?;
        if spec & DEFLATE != 0 {
            inflate(data, budget)?;
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::{transaction::Transactable, AutoCommit, Change, ROOT};

    #[test]
    fn a_compressed_change_inflated_here_is_the_change_automerge_reads() {
        let mut doc = AutoCommit::new();
        doc.put(ROOT, "text", "words ".repeat(200)).unwrap();
        doc.commit();
        let mut change = doc.get_last_local_change().unwrap();
        let compressed = change.bytes().into_owned();
        assert_eq!(compressed[8], 2, "Automerge compresses a change this size");
        let mut len = &compressed[9..];
        leb128::read::unsigned(&mut len).unwrap();
        let header = compressed.len() - len.len();
        let mut budget = 1 << 20;
        let plain = compressed_change(&compressed, header, &mut budget).unwrap();
        let read = Change::from_bytes(plain).unwrap();
        assert_eq!(read.hash(), change.hash());
        assert!(budget < 1 << 20);
        // Within a budget too small, it is refused.
        let mut small = 100;
        assert!(compressed_change(&compressed, header, &mut small).is_none());
    }

    #[test]
    fn a_documents_deflated_columns_are_counted_against_the_budget() {
        let mut doc = AutoCommit::new();
        for i in 0..2000 {
            doc.put(ROOT, format!("k{i}"), "the same words again ".repeat(4))
                .unwrap();
        }
        doc.commit();
        let saved = doc.save();
        let mut len = &saved[9..];
        leb128::read::unsigned(&mut len).unwrap();
        let header = saved.len() - len.len();
        let mut budget = 64 << 20;
        assert!(document_fits(&saved, header, &mut budget));
        assert!(budget < 64 << 20, "some column was deflated and counted");
        let mut small = 1000;
        assert!(!document_fits(&saved, header, &mut small));
    }
}

//! The on-disk format of segment files: a 16-byte file header (magic, version, segment id)
//! followed by checksummed records.
//!
//! ```text
//! file header: "SLUICESG" | version u32 LE | segment id u32 LE
//! record:      magic 0xB5 | kind u8 | body_len u32 LE | crc32 u32 LE | body
//!              crc32 covers kind, body_len and body
//! kind 1 msg:       seq u64 | ts i64 | subj_len u16 | hdr_len u32 (u32::MAX = none) | subj | hdr | payload
//! kind 2 tombstone: seq u64              (one message removed; lives in that message's segment)
//! kind 3 floor:     floor u64 | last_seq u64 | last_ts i64   (every seq below floor removed)
//! ```
//!
//! The per-record magic byte lets recovery resynchronise after a corrupt stretch.

/// Magic at the start of every segment file.
pub(crate) const SEG_MAGIC: &[u8; 8] = b"SLUICESG";
/// Segment format version; bump on any incompatible change.
pub(crate) const SEG_VERSION: u32 = 1;
/// Length of the segment file header.
pub(crate) const SEG_HEADER_LEN: u64 = 16;
/// First byte of every record.
const REC_MAGIC: u8 = 0xB5;
/// Length of a record header.
pub(crate) const REC_HEADER_LEN: usize = 10;
/// Larger body lengths are treated as corruption, not as a record to wait for.
const MAX_BODY: u32 = 1 << 31;

const KIND_MSG: u8 = 1;
const KIND_TOMBSTONE: u8 = 2;
const KIND_FLOOR: u8 = 3;
const NO_HEADERS: u32 = u32::MAX;
const MSG_FIXED: usize = 8 + 8 + 2 + 4;

/// A decoded record, borrowing from the read buffer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Record<'a> {
    Msg {
        seq: u64,
        ts: i64,
        subject: &'a [u8],
        headers: Option<&'a [u8]>,
        payload: &'a [u8],
    },
    Tombstone {
        seq: u64,
    },
    Floor {
        floor: u64,
        last_seq: u64,
        last_ts: i64,
    },
}

/// Result of decoding at one position.
#[derive(Debug)]
pub(crate) enum Decoded<'a> {
    /// A whole, valid record and its total length.
    Ok(Record<'a>, usize),
    /// The buffer ends inside the record.
    Incomplete,
    /// Not a valid record here.
    Bad,
}

/// The header every segment file starts with.
pub(crate) fn segment_header(id: u32) -> [u8; SEG_HEADER_LEN as usize] {
    let mut h = [0u8; SEG_HEADER_LEN as usize];
    h[..8].copy_from_slice(SEG_MAGIC);
    h[8..12].copy_from_slice(&SEG_VERSION.to_le_bytes());
    h[12..16].copy_from_slice(&id.to_le_bytes());
    h
}

/// Whether `h` is a valid header for segment `id`.
pub(crate) fn check_segment_header(h: &[u8], id: u32) -> bool {
    h.len() >= SEG_HEADER_LEN as usize && h[..16] == segment_header(id)
}

fn begin(buf: &mut Vec<u8>, kind: u8) -> usize {
    let start = buf.len();
    buf.extend_from_slice(&[REC_MAGIC, kind, 0, 0, 0, 0, 0, 0, 0, 0]);
    start
}

fn finish(buf: &mut [u8], start: usize) {
    let body_len = (buf.len() - start - REC_HEADER_LEN) as u32;
    buf[start + 2..start + 6].copy_from_slice(&body_len.to_le_bytes());
    let mut h = crc32fast::Hasher::new();
    h.update(&buf[start + 1..start + 6]);
    h.update(&buf[start + REC_HEADER_LEN..]);
    let crc = h.finalize();
    buf[start + 6..start + 10].copy_from_slice(&crc.to_le_bytes());
}

/// Appends a message record; the caller has checked that the lengths fit.
pub(crate) fn encode_msg(
    buf: &mut Vec<u8>,
    seq: u64,
    ts: i64,
    subject: &[u8],
    headers: Option<&[u8]>,
    payload: &[u8],
) {
    let start = begin(buf, KIND_MSG);
    buf.extend_from_slice(&seq.to_le_bytes());
    buf.extend_from_slice(&ts.to_le_bytes());
    buf.extend_from_slice(&(subject.len() as u16).to_le_bytes());
    let hdr_len = headers.map_or(NO_HEADERS, |h| h.len() as u32);
    buf.extend_from_slice(&hdr_len.to_le_bytes());
    buf.extend_from_slice(subject);
    if let Some(h) = headers {
        buf.extend_from_slice(h);
    }
    buf.extend_from_slice(payload);
    finish(buf, start);
}

/// Appends a tombstone for `seq`.
pub(crate) fn encode_tombstone(buf: &mut Vec<u8>, seq: u64) {
    let start = begin(buf, KIND_TOMBSTONE);
    buf.extend_from_slice(&seq.to_le_bytes());
    finish(buf, start);
}

/// Appends a floor record: everything below `floor` is removed; `last_seq`/`last_ts` keep
/// the stream's last sequence when no message record holds it any more.
pub(crate) fn encode_floor(buf: &mut Vec<u8>, floor: u64, last_seq: u64, last_ts: i64) {
    let start = begin(buf, KIND_FLOOR);
    buf.extend_from_slice(&floor.to_le_bytes());
    buf.extend_from_slice(&last_seq.to_le_bytes());
    buf.extend_from_slice(&last_ts.to_le_bytes());
    finish(buf, start);
}

/// Record length of a message, for size checks before encoding.
pub(crate) fn msg_record_len(subject: &[u8], headers: Option<&[u8]>, payload: &[u8]) -> u64 {
    (REC_HEADER_LEN + MSG_FIXED + subject.len() + headers.map_or(0, <[u8]>::len) + payload.len())
        as u64
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn parse_body(kind: u8, body: &[u8]) -> Option<Record<'_>> {
    match kind {
        KIND_MSG => {
            let seq = u64_at(body, 0)?;
            let ts = u64_at(body, 8)? as i64;
            let slen = usize::from(u16::from_le_bytes(body.get(16..18)?.try_into().ok()?));
            let hlen = u32_at(body, 18)?;
            let subject = body.get(MSG_FIXED..MSG_FIXED + slen)?;
            let rest = body.get(MSG_FIXED + slen..)?;
            let (headers, payload) = if hlen == NO_HEADERS {
                (None, rest)
            } else {
                let h = usize::try_from(hlen).ok()?;
                (Some(rest.get(..h)?), rest.get(h..)?)
            };
            Some(Record::Msg {
                seq,
                ts,
                subject,
                headers,
                payload,
            })
        }
        KIND_TOMBSTONE if body.len() == 8 => Some(Record::Tombstone {
            seq: u64_at(body, 0)?,
        }),
        KIND_FLOOR if body.len() == 24 => Some(Record::Floor {
            floor: u64_at(body, 0)?,
            last_seq: u64_at(body, 8)?,
            last_ts: u64_at(body, 16)? as i64,
        }),
        _ => None,
    }
}

/// Decodes the record at the start of `buf`.
pub(crate) fn decode(buf: &[u8]) -> Decoded<'_> {
    if buf.is_empty() {
        return Decoded::Incomplete;
    }
    if buf[0] != REC_MAGIC {
        return Decoded::Bad;
    }
    if buf.len() < REC_HEADER_LEN {
        return Decoded::Incomplete;
    }
    let Some(body_len) = u32_at(buf, 2) else {
        return Decoded::Incomplete;
    };
    if body_len > MAX_BODY {
        return Decoded::Bad;
    }
    let total = REC_HEADER_LEN + body_len as usize;
    if buf.len() < total {
        return Decoded::Incomplete;
    }
    let mut h = crc32fast::Hasher::new();
    h.update(&buf[1..6]);
    h.update(&buf[REC_HEADER_LEN..total]);
    if Some(h.finalize()) != u32_at(buf, 6) {
        return Decoded::Bad;
    }
    match parse_body(buf[1], &buf[REC_HEADER_LEN..total]) {
        Some(rec) => Decoded::Ok(rec, total),
        None => Decoded::Bad,
    }
}

/// How a scan of a byte region ended.
#[derive(Debug, Default)]
pub(crate) struct ScanOutcome {
    /// End of the last valid record (relative to the region): bytes past it are a torn tail.
    pub(crate) valid_end: usize,
    /// Corrupt stretches followed by valid records, `(start, end)` relative to the region.
    pub(crate) corrupt: Vec<(usize, usize)>,
}

/// Walks every record in `region`, calling `f(offset, len, record)`. A bad stretch followed
/// by a valid record is skipped and reported; a bad or incomplete stretch reaching the end
/// is a torn tail, reported through `valid_end`.
pub(crate) fn scan<'a>(
    region: &'a [u8],
    mut f: impl FnMut(usize, usize, Record<'a>),
) -> ScanOutcome {
    let mut out = ScanOutcome::default();
    let mut pos = 0;
    while pos < region.len() {
        match decode(&region[pos..]) {
            Decoded::Ok(rec, n) => {
                f(pos, n, rec);
                pos += n;
                out.valid_end = pos;
            }
            Decoded::Incomplete | Decoded::Bad => {
                let next = (pos + 1..region.len()).find(|q| {
                    region[*q] == REC_MAGIC && matches!(decode(&region[*q..]), Decoded::Ok(..))
                });
                match next {
                    Some(q) => {
                        out.corrupt.push((pos, q));
                        pos = q;
                    }
                    None => break,
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_resync() {
        let mut buf = Vec::new();
        encode_msg(&mut buf, 7, -3, b"a.b", Some(b"NATS/1.0\r\n\r\n"), b"hello");
        let first = buf.len();
        encode_tombstone(&mut buf, 7);
        encode_floor(&mut buf, 5, 9, 11);
        encode_msg(&mut buf, 8, 1, b"c", None, b"");
        let mut seen = Vec::new();
        let out = scan(&buf, |_, _, r| seen.push(format!("{r:?}")));
        assert_eq!(seen.len(), 4);
        assert_eq!(out.valid_end, buf.len());
        // Corrupt the first record: it is skipped, the rest survive.
        let mut bad = buf.clone();
        bad[first - 1] ^= 0xff;
        let mut n = 0;
        let out = scan(&bad, |_, _, _| n += 1);
        assert_eq!(n, 3);
        assert_eq!(out.corrupt, vec![(0, first)]);
        // A torn tail is reported through valid_end.
        let torn = &buf[..buf.len() - 3];
        let out = scan(torn, |_, _, _| {});
        assert!(out.valid_end < torn.len() && out.corrupt.is_empty());
    }
}

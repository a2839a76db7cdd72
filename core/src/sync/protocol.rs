//! The sync wire protocol, version 4: one request and one response per round trip, encoded
//! with postcard (compact binary; automerge changes travel as raw bytes, never base64).
//! Version 2 (from 1): pulls may carry a saved document as one chunk instead of its changes.
//! Version 3 (from 2): pushes may carry a saved document too (a record the server has never
//! acknowledged goes as its stored bytes), and a device catching up names the documents it
//! holds ([`SyncRequest::held`]) so the server does not send them back.
//! Version 4 (from 3): a device names the record format it reads
//! ([`SyncRequest::record_format`]) and a pulled document sent as exactly one saved document
//! may come with its record already read ([`SyncResponse::records`]), so a device new to it
//! stores the bytes and the rows without loading the document.
//! A server also reads version 2 and 3 requests and answers each in its own version (phones
//! are updated later than servers).
//! Both directions are capped at [`MAX_MESSAGE_BYTES`]; big pushes and pulls come in pages.
//! Pure data and codec: no I/O, no storage. See `docs/adr/003-sync-protocol.md`.

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The protocol version spoken by this code.
pub const PROTOCOL_VERSION: u16 = 4;
/// The oldest request version a server still answers (in that version).
pub const OLDEST_REQUEST_VERSION: u16 = 2;
/// Most [`SyncRequest::held`] entries in one request (1 MiB of digests).
pub const MAX_HELD: usize = 65_536;
/// Largest encoded request or response.
pub const MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;
/// Room left for the envelope when filling a message with changes.
pub const ENVELOPE_RESERVE: usize = 64 * 1024;
/// First bytes of every message: "FGS" and the protocol version.
const MAGIC: [u8; 3] = *b"FGS";

/// The new automerge changes of one document, in causal order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocChanges {
    /// Record id.
    pub doc: String,
    /// Record kind (`inspection`, `hazard`, …).
    pub kind: String,
    /// Automerge chunks: raw changes (`Change::raw_bytes`) and saved documents
    /// (`Automerge::save`). In pulls the server sends a document new to the device whole, as
    /// its snapshot then the changes after it; in pushes a record the server has never
    /// acknowledged goes as the saved document the device stores.
    pub changes: Vec<Vec<u8>>,
}

impl DocChanges {
    /// Encoded size, roughly (for paging).
    pub fn approx_size(&self) -> usize {
        self.doc.len()
            + self.kind.len()
            + 8
            + self.changes.iter().map(|c| c.len() + 5).sum::<usize>()
    }
}

/// Device → server: what the device has that the server may lack, and where its pull is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRequest {
    /// The server epoch the device last saw (`None` before its first sync). A different epoch
    /// means the server's history was replaced (restore): the device resends and repulls.
    pub epoch: Option<String>,
    /// The position in the server's log up to which the device has pulled.
    pub cursor: u64,
    /// Changes to store, per document.
    pub pushes: Vec<DocChanges>,
    /// The most bytes of changes the device wants in this response (capped by the server).
    pub max_pull_bytes: u32,
    /// While catching up (no cursor yet, or more pages waiting), the [`held_digest`] of every
    /// document the device holds, at most [`MAX_HELD`]: a document the server would send
    /// whole is left out when the device holds it at exactly the same heads (the fixture
    /// documents a new phone imported, or its own records coming back). Empty otherwise.
    pub held: Vec<[u8; 16]>,
    /// The [`RECORD_FORMAT`](crate::hydrate::RECORD_FORMAT) the device reads shipped records
    /// in (0: none, as in versions 2 and 3): the server sends records only in this format.
    pub record_format: u32,
}

/// A version 3 request: the same without `record_format`.
#[derive(Debug, Clone, Deserialize)]
struct SyncRequestV3 {
    epoch: Option<String>,
    cursor: u64,
    pushes: Vec<DocChanges>,
    max_pull_bytes: u32,
    held: Vec<[u8; 16]>,
}

/// A version 2 request: the same without `held`.
#[derive(Debug, Clone, Deserialize)]
struct SyncRequestV2 {
    epoch: Option<String>,
    cursor: u64,
    pushes: Vec<DocChanges>,
    max_pull_bytes: u32,
}

/// Names a document at some heads for [`SyncRequest::held`]: the first 16 bytes of
/// SHA-256 over the id, a zero byte, and the heads sorted. 128 bits: a collision (which would
/// leave out a document the device lacks) is as likely as guessing a token.
pub fn held_digest(doc: &str, heads: &[automerge::ChangeHash]) -> [u8; 16] {
    use sha2::{Digest, Sha256};
    let mut sorted: Vec<&automerge::ChangeHash> = heads.iter().collect();
    sorted.sort();
    let mut h = Sha256::new();
    h.update(doc.as_bytes());
    h.update([0u8]);
    for head in sorted {
        h.update(head.as_ref());
    }
    let mut out = [0u8; 16];
    out.copy_from_slice(&h.finalize()[..16]);
    out
}

/// Whether `raw` is an automerge document chunk: magic (4 bytes), checksum (4), then the chunk
/// type, 0 for a document (1 and 2 are changes).
pub fn is_document_chunk(raw: &[u8]) -> bool {
    raw.len() > 8 && raw[..4] == [0x85, 0x6f, 0x4a, 0x83] && raw[8] == 0
}

/// Whether `raw` is exactly one whole automerge document chunk whose checksum holds: the
/// chunk length covers every byte after the header, and the checksum (bytes 4..8) is the start
/// of SHA-256 over the chunk type, length and data, as automerge checks on load. A device
/// that takes a shipped record stores the document without loading it: this is what it checks
/// instead (damage on the way shows here; a document the server saved is otherwise sound).
pub fn document_checksum_ok(raw: &[u8]) -> bool {
    use sha2::{Digest, Sha256};
    if !is_document_chunk(raw) {
        return false;
    }
    let mut at = 9;
    let mut len: u64 = 0;
    for shift in (0..64).step_by(7) {
        let Some(&byte) = raw.get(at) else {
            return false;
        };
        at += 1;
        len |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            break;
        }
        if shift >= 63 {
            return false;
        }
    }
    let whole = usize::try_from(len)
        .ok()
        .and_then(|l| at.checked_add(l))
        .is_some_and(|end| end == raw.len());
    whole && Sha256::digest(&raw[8..])[..4] == raw[4..8]
}

/// The heads a saved-document chunk names in its header, read without loading it: magic (4
/// bytes), checksum (4), chunk type (1), chunk length, the actors (a count, then each one's
/// length and bytes), then the heads (a count, then 32 bytes each); numbers are unsigned
/// LEB128. `None` if it is not a document chunk, the bytes end early or a number is malformed.
pub fn document_heads(raw: &[u8]) -> Option<Vec<automerge::ChangeHash>> {
    fn uleb(raw: &[u8], at: &mut usize) -> Option<usize> {
        let mut value: u64 = 0;
        for shift in (0..64).step_by(7) {
            let byte = *raw.get(*at)?;
            *at += 1;
            value |= u64::from(byte & 0x7f).checked_shl(shift)?;
            if byte & 0x80 == 0 {
                return usize::try_from(value).ok();
            }
        }
        None
    }
    if !is_document_chunk(raw) {
        return None;
    }
    let mut at = 9;
    uleb(raw, &mut at)?; // chunk length
    for _ in 0..uleb(raw, &mut at)? {
        let len = uleb(raw, &mut at)?;
        at = at.checked_add(len).filter(|&end| end <= raw.len())?;
    }
    let count = uleb(raw, &mut at)?;
    let mut heads = Vec::with_capacity(count.min(raw.len() / 32));
    for _ in 0..count {
        let end = at.checked_add(32)?;
        heads.push(automerge::ChangeHash::try_from(raw.get(at..end)?).ok()?);
        at = end;
    }
    Some(heads)
}

/// Why the server refused a document's changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RefusalReason {
    /// The user may not write this document (outside their scope, or a kind their role may not
    /// write). Guessing ids tells nothing: unknown and forbidden look the same.
    Forbidden,
    /// A change's actor is not this device's.
    ForeignActor,
    /// The bytes are not valid automerge changes, or the document they make is not a valid
    /// record of its kind.
    Invalid,
    /// Too many changes or bytes for one document in one request.
    TooLarge,
}

/// The server's answer about one pushed document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PushOutcome {
    /// Durably stored (or already there). `missing_deps`: the server lacks changes these
    /// depend on (it lost them): the device must resend the document's whole history.
    Stored {
        /// Whether the server lacks dependencies of the pushed changes.
        missing_deps: bool,
    },
    /// Refused; nothing of this document was stored.
    Refused {
        /// Why.
        reason: RefusalReason,
    },
}

/// One pushed document's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushAck {
    /// Record id.
    pub doc: String,
    /// What happened to its changes.
    pub outcome: PushOutcome,
}

/// Server → device: acknowledgements (sent only after the pushes were committed durably) and
/// the changes in the device's scope after its cursor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncResponse {
    /// The server's history epoch.
    pub epoch: String,
    /// The request's epoch differed: the device must forget what it believes the server has
    /// (resend everything, pull from 0). The server sends no changes with a reset.
    pub reset: bool,
    /// One per pushed document, same order.
    pub acks: Vec<PushAck>,
    /// Changes in scope after the cursor, grouped by document, in log order.
    pub pulled: Vec<DocChanges>,
    /// The new cursor (everything up to it has been sent or is out of scope).
    pub cursor: u64,
    /// More changes wait after `cursor`: ask again.
    pub more: bool,
    /// Empty, or one per entry of `pulled`: the record its document makes, encoded by
    /// [`Record::encode`](crate::hydrate::Record::encode) in the request's `record_format`,
    /// where that document is sent as exactly one saved document (no changes after it) whose
    /// record the server stored with it. A device that does not hold the record yet may take
    /// it instead of reading the document (after checking the document's checksum).
    pub records: Vec<Option<Vec<u8>>>,
}

/// A version 2 or 3 response: the same without `records` (borrowed, for encoding).
#[derive(Serialize)]
struct SyncResponseV3<'a> {
    epoch: &'a str,
    reset: bool,
    acks: &'a [PushAck],
    pulled: &'a [DocChanges],
    cursor: u64,
    more: bool,
}

fn encode<T: Serialize>(value: &T, version: u16) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(1024);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&version.to_le_bytes());
    let body = postcard::to_allocvec(value)
        .map_err(|e| Error::invalid("sync message", format!("cannot encode: {e}")))?;
    out.extend_from_slice(&body);
    if out.len() > MAX_MESSAGE_BYTES {
        return Err(Error::invalid(
            "sync message",
            format!(
                "{} bytes is over the {MAX_MESSAGE_BYTES}-byte limit",
                out.len()
            ),
        ));
    }
    Ok(out)
}

/// The version of a message and its body (bounded: refuses over-size, foreign, truncated).
fn envelope(bytes: &[u8]) -> Result<(u16, &[u8])> {
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(Error::invalid("sync message", "over the size limit"));
    }
    let Some(rest) = bytes.strip_prefix(&MAGIC) else {
        return Err(Error::invalid(
            "sync message",
            "not a Firegrid sync message",
        ));
    };
    if rest.len() < 2 {
        return Err(Error::invalid("sync message", "truncated"));
    }
    Ok((u16::from_le_bytes([rest[0], rest[1]]), &rest[2..]))
}

fn wrong_version(version: u16) -> Error {
    Error::invalid(
        "sync message",
        format!("protocol {version}; this side speaks {PROTOCOL_VERSION}"),
    )
}

fn body<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T> {
    let (value, tail) = postcard::take_from_bytes(body)
        .map_err(|e| Error::invalid("sync message", format!("malformed: {e}")))?;
    if !tail.is_empty() {
        return Err(Error::invalid("sync message", "trailing bytes"));
    }
    Ok(value)
}

impl SyncRequest {
    /// Encodes for the wire.
    pub fn encode(&self) -> Result<Vec<u8>> {
        encode(self, PROTOCOL_VERSION)
    }
    /// Decodes from the wire (bounded: refuses over-size, foreign, truncated input).
    pub fn decode(bytes: &[u8]) -> Result<SyncRequest> {
        Self::decode_versioned(bytes).map(|(r, _)| r)
    }
    /// Decodes a request of this version or of an older one the server still answers, and
    /// says which version it was (the response goes back in it).
    pub fn decode_versioned(bytes: &[u8]) -> Result<(SyncRequest, u16)> {
        let (version, rest) = envelope(bytes)?;
        let request = match version {
            PROTOCOL_VERSION => body(rest)?,
            3 => {
                let v3: SyncRequestV3 = body(rest)?;
                SyncRequest {
                    epoch: v3.epoch,
                    cursor: v3.cursor,
                    pushes: v3.pushes,
                    max_pull_bytes: v3.max_pull_bytes,
                    held: v3.held,
                    record_format: 0,
                }
            }
            2 => {
                let v2: SyncRequestV2 = body(rest)?;
                SyncRequest {
                    epoch: v2.epoch,
                    cursor: v2.cursor,
                    pushes: v2.pushes,
                    max_pull_bytes: v2.max_pull_bytes,
                    held: Vec::new(),
                    record_format: 0,
                }
            }
            v => return Err(wrong_version(v)),
        };
        Ok((request, version))
    }
}

impl SyncResponse {
    /// Encodes for the wire.
    pub fn encode(&self) -> Result<Vec<u8>> {
        encode(self, PROTOCOL_VERSION)
    }
    /// Encodes in the version the request came in (versions 2 and 3 answer alike, without
    /// `records`).
    pub fn encode_version(&self, version: u16) -> Result<Vec<u8>> {
        match version {
            PROTOCOL_VERSION => encode(self, version),
            v if (OLDEST_REQUEST_VERSION..PROTOCOL_VERSION).contains(&v) => encode(
                &SyncResponseV3 {
                    epoch: &self.epoch,
                    reset: self.reset,
                    acks: &self.acks,
                    pulled: &self.pulled,
                    cursor: self.cursor,
                    more: self.more,
                },
                version,
            ),
            _ => Err(wrong_version(version)),
        }
    }
    /// Decodes from the wire.
    pub fn decode(bytes: &[u8]) -> Result<SyncResponse> {
        let (version, rest) = envelope(bytes)?;
        if version != PROTOCOL_VERSION {
            return Err(wrong_version(version));
        }
        body(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> SyncRequest {
        SyncRequest {
            epoch: Some("ep1".into()),
            cursor: 42,
            pushes: vec![DocChanges {
                doc: "insp.1".into(),
                kind: "inspection".into(),
                changes: vec![vec![0x85, 0x6f, 0x4a, 0x83], vec![1, 2, 3]],
            }],
            max_pull_bytes: 1 << 20,
            held: vec![[0xab; 16]],
            record_format: 1,
        }
    }

    #[test]
    fn messages_round_trip_and_have_a_stable_encoding() {
        let bytes = request().encode().unwrap();
        assert_eq!(SyncRequest::decode(&bytes).unwrap(), request());
        // Snapshot of the wire format: a change here breaks old clients on purpose.
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "464753040001036570312a0106696e73702e310a696e7370656374696f6e0204856f4a830301020380804001abababababababababababababababab01"
        );
        let resp = SyncResponse {
            epoch: "ep1".into(),
            reset: false,
            acks: vec![PushAck {
                doc: "insp.1".into(),
                outcome: PushOutcome::Refused {
                    reason: RefusalReason::Forbidden,
                },
            }],
            pulled: vec![DocChanges {
                doc: "insp.2".into(),
                kind: "inspection".into(),
                changes: vec![vec![9; 3]],
            }],
            cursor: 7,
            more: true,
            records: vec![Some(vec![1, 0, 0, 0, 7])],
        };
        assert_eq!(SyncResponse::decode(&resp.encode().unwrap()).unwrap(), resp);
    }

    fn unhex(hex: &str) -> Vec<u8> {
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn older_requests_are_read_and_answered_in_their_version() {
        // `request()` as protocol 3 wrote it (no `record_format`), and as protocol 2 (no
        // `held` either): the snapshots of those versions.
        let v3 = "464753030001036570312a0106696e73702e310a696e7370656374696f6e0204856f4a830301020380804001abababababababababababababababab";
        let v2 = "464753020001036570312a0106696e73702e310a696e7370656374696f6e0204856f4a8303010203808040";
        let old = [
            (
                v3,
                3,
                SyncRequest {
                    record_format: 0,
                    ..request()
                },
            ),
            (
                v2,
                2,
                SyncRequest {
                    held: vec![],
                    record_format: 0,
                    ..request()
                },
            ),
        ];
        let without = SyncResponse {
            epoch: "ep1".into(),
            reset: false,
            acks: vec![],
            pulled: vec![],
            cursor: 7,
            more: false,
            records: vec![],
        };
        let v4 = without.encode().unwrap();
        let resp = SyncResponse {
            records: vec![Some(vec![1, 0, 0, 0])],
            ..without
        };
        for (hex, version, expected) in old {
            let (req, v) = SyncRequest::decode_versioned(&unhex(hex)).unwrap();
            assert_eq!((v, req), (version, expected));
            let answer = resp.encode_version(version).unwrap();
            assert_eq!(answer[..5], [b'F', b'G', b'S', version as u8, 0]);
            // A version 4 device refuses it. The body is version 4's without `records` (its
            // last byte when empty): records are never sent to an older device.
            assert!(SyncResponse::decode(&answer).is_err());
            assert_eq!(answer[5..], v4[5..v4.len() - 1]);
        }
        assert!(resp.encode_version(1).is_err());
        assert!(resp.encode_version(PROTOCOL_VERSION + 1).is_err());
    }

    #[test]
    fn a_saved_documents_checksum_is_checked_without_loading_it() {
        use automerge::transaction::Transactable;
        let mut doc = automerge::AutoCommit::new();
        doc.put(automerge::ROOT, "a", "x".repeat(200)).unwrap();
        doc.commit();
        let saved = doc.save();
        assert!(document_checksum_ok(&saved));
        // Every cut, every damaged byte, a trailing byte, a change chunk: refused, no panic.
        for end in 0..saved.len() {
            assert!(!document_checksum_ok(&saved[..end]), "cut at {end}");
        }
        for at in 4..saved.len() {
            let mut bad = saved.clone();
            bad[at] ^= 0x10;
            assert!(!document_checksum_ok(&bad), "damage at {at}");
        }
        let mut longer = saved.clone();
        longer.push(0);
        assert!(!document_checksum_ok(&longer));
        let change = doc.get_changes(&[]).pop().unwrap().raw_bytes().to_vec();
        assert!(!document_checksum_ok(&change));
        // A length of ten continuation bytes does not overflow.
        let mut huge = saved[..9].to_vec();
        huge.extend_from_slice(&[0xff; 10]);
        assert!(!document_checksum_ok(&huge));
    }

    #[test]
    fn held_digests_do_not_depend_on_the_order_of_the_heads() {
        let a = automerge::ChangeHash([1; 32]);
        let b = automerge::ChangeHash([2; 32]);
        assert_eq!(
            held_digest("insp.1", &[a, b]),
            held_digest("insp.1", &[b, a])
        );
        assert_ne!(held_digest("insp.1", &[a]), held_digest("insp.2", &[a]));
        assert_ne!(held_digest("insp.1", &[a]), held_digest("insp.1", &[a, b]));
    }

    #[test]
    fn bad_bytes_are_errors_not_panics() {
        let good = request().encode().unwrap();
        for cut in 0..good.len() {
            assert!(SyncRequest::decode(&good[..cut]).is_err(), "cut at {cut}");
        }
        assert!(SyncRequest::decode(b"GET / HTTP/1.1").is_err());
        let mut wrong_version = good.clone();
        wrong_version[3] = 9;
        assert!(SyncRequest::decode(&wrong_version).is_err());
        let mut trailing = good;
        trailing.push(0);
        assert!(SyncRequest::decode(&trailing).is_err());
        // A length prefix claiming gigabytes must not allocate them.
        let mut huge = b"FGS\x01\x00\x01".to_vec();
        huge.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
        assert!(SyncRequest::decode(&huge).is_err());
        assert!(SyncRequest::decode(&vec![0u8; MAX_MESSAGE_BYTES + 1]).is_err());
    }
}

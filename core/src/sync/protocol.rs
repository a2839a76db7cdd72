//! The sync wire protocol, version 2: one request and one response per round trip, encoded
//! with postcard (compact binary; automerge changes travel as raw bytes, never base64).
//! Version 2 (from 1): pulls may carry a saved document as one chunk instead of its changes.
//! Both directions are capped at [`MAX_MESSAGE_BYTES`]; big pushes and pulls come in pages.
//! Pure data and codec: no I/O, no storage. See `docs/adr/003-sync-protocol.md`.

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The protocol version spoken by this code.
pub const PROTOCOL_VERSION: u16 = 2;
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
    /// Automerge chunks: raw changes (`Change::raw_bytes`), and in pulls also saved documents
    /// (`Automerge::save`: the server sends a document new to the device whole, as its
    /// snapshot then the changes after it). Pushes carry changes only.
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
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(1024);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&PROTOCOL_VERSION.to_le_bytes());
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

fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T> {
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
    let version = u16::from_le_bytes([rest[0], rest[1]]);
    if version != PROTOCOL_VERSION {
        return Err(Error::invalid(
            "sync message",
            format!("protocol {version}; this side speaks {PROTOCOL_VERSION}"),
        ));
    }
    let (value, tail) = postcard::take_from_bytes(&rest[2..])
        .map_err(|e| Error::invalid("sync message", format!("malformed: {e}")))?;
    if !tail.is_empty() {
        return Err(Error::invalid("sync message", "trailing bytes"));
    }
    Ok(value)
}

impl SyncRequest {
    /// Encodes for the wire.
    pub fn encode(&self) -> Result<Vec<u8>> {
        encode(self)
    }
    /// Decodes from the wire (bounded: refuses over-size, foreign, truncated input).
    pub fn decode(bytes: &[u8]) -> Result<SyncRequest> {
        decode(bytes)
    }
}

impl SyncResponse {
    /// Encodes for the wire.
    pub fn encode(&self) -> Result<Vec<u8>> {
        encode(self)
    }
    /// Decodes from the wire.
    pub fn decode(bytes: &[u8]) -> Result<SyncResponse> {
        decode(bytes)
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
            "464753020001036570312a0106696e73702e310a696e7370656374696f6e0204856f4a8303010203808040"
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
            pulled: vec![],
            cursor: 7,
            more: true,
        };
        assert_eq!(SyncResponse::decode(&resp.encode().unwrap()).unwrap(), resp);
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

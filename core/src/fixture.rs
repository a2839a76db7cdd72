//! Reading fixture files: JSON parsed into typed structs, with errors that name the file, the
//! place in it and the problem. Domain validation is done by each loader (checklist, standard,
//! district) after parsing.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use crate::{Error, Result};

/// Largest fixture file read (the sample premises file is well under this).
const MAX_FIXTURE_BYTES: u64 = 32 * 1024 * 1024;

/// Reads and parses one JSON fixture file.
pub(crate) fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let meta = std::fs::metadata(path)
        .map_err(|e| Error::fixture(path, "file", format!("cannot read: {e}")))?;
    if meta.len() > MAX_FIXTURE_BYTES {
        return Err(Error::fixture(
            path,
            "file",
            format!(
                "is {} bytes; fixture files are at most {MAX_FIXTURE_BYTES}",
                meta.len()
            ),
        ));
    }
    let bytes = std::fs::read(path)
        .map_err(|e| Error::fixture(path, "file", format!("cannot read: {e}")))?;
    parse_json(path, &bytes)
}

/// Parses fixture JSON already in memory; `path` names it in errors.
pub(crate) fn parse_json<T: DeserializeOwned>(path: &Path, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| {
        Error::fixture(
            path,
            format!("line {} column {}", e.line(), e.column()),
            strip_position(&e.to_string()),
        )
    })
}

/// serde_json appends " at line L column C"; the position is already in the `item` field.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// The `*.json` files of a folder, sorted by name.
pub(crate) fn json_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Error::fixture(dir, "folder", format!("cannot read: {e}")))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry =
            entry.map_err(|e| Error::fixture(dir, "folder", format!("cannot read: {e}")))?;
        let path = entry.path();
        if path.extension().is_some_and(|x| x == "json") && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Fails unless `found` is the expected `format` tag of a file.
pub(crate) fn check_format(path: &Path, found: &str, expected: &str) -> Result<()> {
    if found == expected {
        Ok(())
    } else {
        Err(Error::fixture(
            path,
            "format",
            format!("is {found:?}; this version of Firegrid reads {expected:?}"),
        ))
    }
}

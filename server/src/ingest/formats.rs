//! The shapes CloudTrail records arrive in, told apart per file: a trail log file
//! (`{"Records": [...]}`), a bare JSON array of records, JSON Lines of records, EventBridge
//! events (the record under `detail`, one per line or in an array), and a `LookupEvents`
//! response (each record a JSON string in `CloudTrailEvent`). Plain or gzip. Each record
//! comes out as raw JSON with its position in the file; one that cannot be read comes out
//! as a rejection with a reason, and the others are still read.

use std::fmt;
use std::io::Read;

use serde_json::Value;

/// The format a file was detected as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    TrailFile,
    JsonArray,
    JsonLines,
    EventBridge,
    LookupEvents,
}

impl fmt::Display for Format {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Format::TrailFile => "CloudTrail log file",
            Format::JsonArray => "JSON array of records",
            Format::JsonLines => "JSON Lines of records",
            Format::EventBridge => "EventBridge events",
            Format::LookupEvents => "LookupEvents response",
        })
    }
}

/// Where a record sits in its file, as a person would look for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Position {
    /// 1-based line of a JSON Lines file.
    Line(usize),
    /// 1-based index in the file's list of records or events.
    Item(usize),
}

impl fmt::Display for Position {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Position::Line(line) => write!(formatter, "line {line}"),
            Position::Item(item) => write!(formatter, "record {item}"),
        }
    }
}

/// A record as found, or why it could not be.
#[derive(Debug, PartialEq)]
pub enum Found {
    Record(Position, Value),
    Rejected(Position, String),
}

/// What a file held.
#[derive(Debug, PartialEq)]
pub struct Contents {
    pub format: Format,
    pub gzip: bool,
    pub found: Vec<Found>,
    /// The file ended early (a truncated gzip stream): what came before was still read.
    pub truncated: Option<String>,
}

/// Why a whole file could not be read.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum FileError {
    #[error("the file is empty")]
    Empty,
    #[error("{0}")]
    Unrecognised(String),
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The most content one file may hold once gunzipped: real trail files are at most tens of
/// MB, so this only stops a gzip bomb (a few MB that expand to gigabytes).
pub const DEFAULT_MAX_FILE_BYTES: u64 = 1024 * 1024 * 1024;

/// Why a file's content stops at the limit, for its quarantine entry.
pub fn over_limit(max_bytes: u64) -> String {
    format!(
        "the file's content is larger than the limit of {max_bytes} bytes a file \
         (TRAILKEEPER_MAX_FILE_SIZE); it was read no further"
    )
}

/// Reads a file's bytes: gunzips them when they are gzip, detects the format, and splits it
/// into records. Content past `max_bytes` is not read: the file counts as truncated there.
pub fn read(bytes: &[u8], max_bytes: u64) -> Result<Contents, FileError> {
    let limit = usize::try_from(max_bytes).unwrap_or(usize::MAX);
    let gzip = bytes.starts_with(&GZIP_MAGIC);
    let (text, truncated) = if gzip {
        let mut decoded = Vec::new();
        let outcome = flate2::read::MultiGzDecoder::new(bytes)
            .take(max_bytes.saturating_add(1))
            .read_to_end(&mut decoded);
        let truncated = match outcome {
            Err(error) => Some(format!(
                "the gzip stream ends early after {} bytes of content ({error})",
                decoded.len()
            )),
            Ok(_) if decoded.len() > limit => {
                decoded.truncate(limit);
                Some(over_limit(max_bytes))
            }
            Ok(_) => None,
        };
        (decoded, truncated)
    } else if bytes.len() > limit {
        (bytes[..limit].to_vec(), Some(over_limit(max_bytes)))
    } else {
        (bytes.to_vec(), None)
    };
    let text = String::from_utf8_lossy(&text);
    let trimmed = text.trim_start_matches('\u{feff}').trim();
    if trimmed.is_empty() {
        return match truncated {
            Some(reason) => Err(FileError::Unrecognised(reason)),
            None => Err(FileError::Empty),
        };
    }
    let (format, found) = match serde_json::from_str::<Value>(trimmed) {
        Ok(document) => whole(document)?,
        Err(whole_error) => {
            let lines = lines(trimmed);
            let readable = lines.iter().any(|found| matches!(found, Found::Record(..)));
            if !readable {
                let reason = match &truncated {
                    Some(reason) => reason.clone(),
                    None => format!("not JSON or JSON Lines: {whole_error}"),
                };
                return Err(FileError::Unrecognised(reason));
            }
            let format = if lines
                .iter()
                .any(|found| matches!(found, Found::Record(_, record) if is_eventbridge(record)))
            {
                Format::EventBridge
            } else {
                Format::JsonLines
            };
            (format, lines.into_iter().map(unwrap_eventbridge).collect())
        }
    };
    Ok(Contents {
        format,
        gzip,
        found,
        truncated,
    })
}

/// A file that is one JSON document.
fn whole(document: Value) -> Result<(Format, Vec<Found>), FileError> {
    // The records are moved out of the document, never copied: a file can hold thousands.
    let items = |list: Vec<Value>| -> Vec<Found> {
        list.into_iter()
            .enumerate()
            .map(|(index, item)| Found::Record(Position::Item(index + 1), item))
            .collect()
    };
    match document {
        Value::Object(mut object) => {
            if matches!(object.get("Records"), Some(Value::Array(_))) {
                let Some(Value::Array(records)) = object.remove("Records") else {
                    unreachable!("just matched an array");
                };
                Ok((Format::TrailFile, items(records)))
            } else if let Some(Value::Array(events)) = object.get("Events") {
                Ok((Format::LookupEvents, lookup_events(events)))
            } else if object.contains_key("detail-type") && object.contains_key("detail") {
                let found = Found::Record(Position::Item(1), Value::Object(object));
                Ok((Format::EventBridge, vec![unwrap_eventbridge(found)]))
            } else if object.contains_key("eventID") || object.contains_key("eventTime") {
                Ok((
                    Format::JsonLines,
                    vec![Found::Record(Position::Line(1), Value::Object(object))],
                ))
            } else {
                Err(FileError::Unrecognised(
                    "a JSON object with neither \"Records\" (a CloudTrail log file), \"Events\" \
                     (a LookupEvents response), \"detail\" (an EventBridge event) nor \"eventID\" \
                     (a record)"
                        .into(),
                ))
            }
        }
        Value::Array(list) => {
            let eventbridge = list.iter().any(is_eventbridge);
            let found = items(list);
            if eventbridge {
                Ok((
                    Format::EventBridge,
                    found.into_iter().map(unwrap_eventbridge).collect(),
                ))
            } else {
                Ok((Format::JsonArray, found))
            }
        }
        _ => Err(FileError::Unrecognised(
            "JSON, but neither an object nor an array".into(),
        )),
    }
}

fn lines(text: &str) -> Vec<Found> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| {
            let position = Position::Line(index + 1);
            match serde_json::from_str::<Value>(line) {
                Ok(value) => Found::Record(position, value),
                Err(error) => Found::Rejected(position, format!("not valid JSON: {error}")),
            }
        })
        .collect()
}

fn is_eventbridge(value: &Value) -> bool {
    value.get("detail-type").is_some() && value.get("detail").is_some()
}

/// An EventBridge event's record is its `detail`.
fn unwrap_eventbridge(found: Found) -> Found {
    match found {
        Found::Record(position, mut event) if is_eventbridge(&event) => {
            match event.get_mut("detail").map(Value::take) {
                Some(record @ Value::Object(_)) => Found::Record(position, record),
                _ => Found::Rejected(
                    position,
                    "an EventBridge event whose \"detail\" is not a record".into(),
                ),
            }
        }
        other => other,
    }
}

/// Each `LookupEvents` event carries its record as a JSON string.
fn lookup_events(events: &[Value]) -> Vec<Found> {
    events
        .iter()
        .enumerate()
        .map(|(index, event)| {
            lookup_event(
                Position::Item(index + 1),
                event.get("CloudTrailEvent").and_then(Value::as_str),
            )
        })
        .collect()
}

/// One `LookupEvents` event's record, from its `CloudTrailEvent` string (in a saved response
/// or as the SDK returns it).
pub fn lookup_event(position: Position, cloudtrail_event: Option<&str>) -> Found {
    match cloudtrail_event {
        None => Found::Rejected(position, "an event without \"CloudTrailEvent\"".into()),
        Some(text) => match serde_json::from_str(text) {
            Ok(record) => Found::Record(position, record),
            Err(error) => Found::Rejected(
                position,
                format!("\"CloudTrailEvent\" is not valid JSON: {error}"),
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_line_is_rejected_and_the_others_are_read() {
        let contents = read(
            b"{\"eventID\": \"a\"}\n{oops\n\n{\"eventID\": \"b\"}\n",
            DEFAULT_MAX_FILE_BYTES,
        )
        .unwrap();
        assert_eq!(contents.format, Format::JsonLines);
        assert!(
            matches!(&contents.found[1], Found::Rejected(Position::Line(2), reason) if reason.starts_with("not valid JSON"))
        );
        assert_eq!(contents.found.len(), 3);
        assert!(matches!(
            &contents.found[2],
            Found::Record(Position::Line(4), _)
        ));
    }

    #[test]
    fn files_that_hold_no_records_say_what_they_are() {
        assert_eq!(read(b"  \n", DEFAULT_MAX_FILE_BYTES), Err(FileError::Empty));
        assert!(
            matches!(read(b"hello", DEFAULT_MAX_FILE_BYTES), Err(FileError::Unrecognised(reason)) if reason.starts_with("not JSON"))
        );
        assert!(
            matches!(read(b"{\"a\": 1}", DEFAULT_MAX_FILE_BYTES), Err(FileError::Unrecognised(reason)) if reason.contains("Records"))
        );
        assert!(matches!(
            read(b"42", DEFAULT_MAX_FILE_BYTES),
            Err(FileError::Unrecognised(_))
        ));
    }

    #[test]
    fn a_lookup_event_with_a_broken_record_is_rejected_alone() {
        let response = br#"{"Events": [{"CloudTrailEvent": "{\"eventID\": \"a\"}"}, {"CloudTrailEvent": "{broken"}, {}]}"#;
        let contents = read(response, DEFAULT_MAX_FILE_BYTES).unwrap();
        assert_eq!(contents.format, Format::LookupEvents);
        assert!(matches!(
            contents.found[0],
            Found::Record(Position::Item(1), _)
        ));
        assert!(
            matches!(&contents.found[1], Found::Rejected(Position::Item(2), reason) if reason.contains("not valid JSON"))
        );
        assert!(matches!(
            &contents.found[2],
            Found::Rejected(Position::Item(3), _)
        ));
    }

    #[test]
    fn a_gzip_bomb_is_read_no_further_than_the_limit() {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder
            .write_all(b"{\"eventID\": \"a\"}\n{\"eventID\": \"b\"}\n")
            .unwrap();
        let zeros = vec![b' '; 1024 * 1024];
        for _ in 0..64 {
            encoder.write_all(&zeros).unwrap();
        }
        let bomb = encoder.finish().unwrap();
        assert!(bomb.len() < 1024 * 1024, "{} bytes of gzip", bomb.len());

        let contents = read(&bomb, 4096).unwrap();
        assert_eq!(contents.truncated, Some(over_limit(4096)));
        assert!(matches!(
            &contents.found[0],
            Found::Record(Position::Line(1), _)
        ));
        let plain = read(b"{\"Records\": []}", 4).unwrap_err();
        assert_eq!(plain, FileError::Unrecognised(over_limit(4)));
    }
}

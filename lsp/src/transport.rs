//! The wire: LSP base protocol framing (`Content-Length` headers, JSON
//! bodies) over stdin/stdout, on two threads.
//!
//! lsp-server's own stdio transport ends the connection on the first
//! malformed message; a language server must answer it instead (JSON-RPC
//! 2.0 §5.1): a body that is not JSON gets a `ParseError` (-32700) response
//! with a null id, a JSON value that is not a request, response or
//! notification gets `InvalidRequest` (-32600) (with its id when it has
//! one), and the server reads on. Header blocks without a usable
//! `Content-Length` are skipped. A body larger than [`MAX_BODY`] is
//! skipped (read and thrown away) and answered `InvalidRequest`.

use crossbeam_channel::{Receiver, Sender};
use lsp_server::Message;
use std::io::{self, BufRead, Read, Write};

/// Largest message body read (64 MiB: a 100,000-rule policy is ~5 MiB).
pub const MAX_BODY: usize = 64 << 20;

/// What the reader delivers.
#[derive(Debug)]
pub enum Incoming {
    Message(Message),
    /// A message the server must answer with an error and otherwise ignore.
    Malformed {
        id: serde_json::Value,
        code: i32,
        message: String,
    },
}

/// What the writer sends.
#[derive(Debug)]
pub enum Outgoing {
    Message(Message),
    /// An error response whose id may be null (lsp-server cannot write one).
    Error {
        id: serde_json::Value,
        code: i32,
        message: String,
    },
}

pub const PARSE_ERROR: i32 = -32700;
pub const INVALID_REQUEST: i32 = -32600;

/// Read one header block; `Ok(None)` at end of input, `Ok(Some(None))` for a
/// block without a usable length.
fn read_headers(r: &mut impl BufRead) -> io::Result<Option<Option<usize>>> {
    let mut len = None;
    let mut saw_any = false;
    loop {
        let mut line = String::new();
        // Header lines are ASCII; a bounded read keeps a line of junk
        // without a newline from growing without end.
        let n = r.by_ref().take(8192).read_line(&mut line)?;
        if n == 0 {
            return Ok(if saw_any { Some(len) } else { None });
        }
        let l = line.trim_end_matches(['\r', '\n']);
        if l.is_empty() {
            if saw_any {
                return Ok(Some(len));
            }
            continue;
        }
        saw_any = true;
        if let Some((k, v)) = l.split_once(':') {
            if k.trim().eq_ignore_ascii_case("content-length") {
                len = v.trim().parse::<usize>().ok();
            }
        }
    }
}

/// Decode one body.
pub fn decode(body: &[u8]) -> Incoming {
    let v: serde_json::Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            return Incoming::Malformed {
                id: serde_json::Value::Null,
                code: PARSE_ERROR,
                message: format!("parse error: {e}"),
            }
        }
    };
    let id = v.get("id").cloned().unwrap_or(serde_json::Value::Null);
    let is_object = v.is_object();
    let has_version = v.get("jsonrpc").and_then(|j| j.as_str()) == Some("2.0");
    match serde_json::from_value::<Message>(v) {
        Ok(m) if is_object && has_version => Incoming::Message(m),
        Ok(_) => Incoming::Malformed {
            id,
            code: INVALID_REQUEST,
            message: "invalid request: not a JSON-RPC 2.0 message".into(),
        },
        Err(e) => Incoming::Malformed {
            id: if id.is_string() || id.is_number() {
                id
            } else {
                serde_json::Value::Null
            },
            code: INVALID_REQUEST,
            message: format!("invalid request: {e}"),
        },
    }
}

/// Start the reader (stdin) and writer (stdout) threads; join the writer
/// (after dropping every sender) to know that all output was written.
pub fn stdio() -> (
    Receiver<Incoming>,
    Sender<Outgoing>,
    std::thread::JoinHandle<()>,
) {
    let (in_tx, in_rx) = crossbeam_channel::unbounded();
    let (out_tx, out_rx) = crossbeam_channel::unbounded::<Outgoing>();
    std::thread::spawn(move || {
        let stdin = io::stdin();
        let mut r = io::BufReader::new(stdin.lock());
        loop {
            let len = match read_headers(&mut r) {
                Ok(None) | Err(_) => break,
                Ok(Some(None)) => {
                    let _ = in_tx.send(Incoming::Malformed {
                        id: serde_json::Value::Null,
                        code: PARSE_ERROR,
                        message: "a header block without a valid Content-Length".into(),
                    });
                    continue;
                }
                Ok(Some(Some(n))) => n,
            };
            if len > MAX_BODY {
                if io::copy(&mut r.by_ref().take(len as u64), &mut io::sink()).is_err() {
                    break;
                }
                let _ = in_tx.send(Incoming::Malformed {
                    id: serde_json::Value::Null,
                    code: INVALID_REQUEST,
                    message: format!("message of {len} bytes is larger than {MAX_BODY}"),
                });
                continue;
            }
            let mut body = vec![0u8; len];
            if r.read_exact(&mut body).is_err() {
                break;
            }
            if in_tx.send(decode(&body)).is_err() {
                break;
            }
        }
        // End of input: the channel closes when `in_tx` drops.
    });
    let writer = std::thread::spawn(move || {
        let stdout = io::stdout();
        for m in out_rx {
            let mut w = stdout.lock();
            let ok = match m {
                Outgoing::Message(m) => m.write(&mut w).is_ok(),
                Outgoing::Error { id, code, message } => {
                    let body = serde_json::json!({
                        "jsonrpc": "2.0",
                        "id": id,
                        "error": { "code": code, "message": message },
                    })
                    .to_string();
                    write!(w, "Content-Length: {}\r\n\r\n{body}", body.len())
                        .and_then(|()| w.flush())
                        .is_ok()
                }
            };
            if !ok {
                break;
            }
        }
    });
    (in_rx, out_tx, writer)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn bodies_that_are_not_messages_are_answered_not_fatal() {
        match decode(b"{not json") {
            Incoming::Malformed { code, id, .. } => {
                assert_eq!(code, PARSE_ERROR);
                assert!(id.is_null());
            }
            other => panic!("{other:?}"),
        }
        match decode(br#"{"jsonrpc":"2.0","id":7,"method":5}"#) {
            Incoming::Malformed { code, id, .. } => {
                assert_eq!(code, INVALID_REQUEST);
                assert_eq!(id, serde_json::json!(7));
            }
            other => panic!("{other:?}"),
        }
        match decode(br#"[1,2]"#) {
            Incoming::Malformed { code, .. } => assert_eq!(code, INVALID_REQUEST),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            decode(br#"{"jsonrpc":"2.0","method":"initialized","params":{}}"#),
            Incoming::Message(_)
        ));
    }

    #[test]
    fn headers_without_length_are_skipped() {
        let mut r = io::Cursor::new(b"X-Junk: 1\r\n\r\nContent-Length: 2\r\n\r\n{}".to_vec());
        assert_eq!(read_headers(&mut r).unwrap(), Some(None));
        assert_eq!(read_headers(&mut r).unwrap(), Some(Some(2)));
    }
}

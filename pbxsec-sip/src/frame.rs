//! Framing SIP messages on a stream transport (TCP, TLS, WebSocket-less).

use memchr::memchr_iter;

use crate::text::{parse_decimal, starts_with_ignore_case, trim};
use crate::{Error, Limits, Result, ScanProblem};

/// What [`frame`] found at the start of a stream buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// A whole message occupies the first `len` bytes (leading CR/LF
    /// keep-alives included): scan `&buf[..len]`, then drop those bytes.
    Complete {
        /// Bytes that make up the message.
        len: usize,
    },
    /// The buffer holds only CR/LF keep-alives (RFC 5626 section 4.4.1):
    /// drop the first `len` bytes.
    KeepAlive {
        /// Bytes of CR/LF.
        len: usize,
    },
    /// The message is not complete yet: read more and call again. `needed`
    /// is how many more bytes are known to be required once the headers are
    /// complete (`None` while the empty line has not arrived).
    NeedMore {
        /// Bytes still missing, when known.
        needed: Option<usize>,
    },
}

/// Finds the first message in a stream buffer without copying: the end of
/// the headers (an empty line, CRLF or bare LF) and the body length from
/// `Content-Length` / `l`. A message without Content-Length is taken to have
/// no body (RFC 3261 section 18.3 makes the header mandatory on streams).
///
/// Each call scans from the start of `buf`; the cost is bounded by
/// `limits.max_message_size`.
///
/// # Errors
/// [`Error::Scan`] with [`ScanProblem::MessageTooLarge`] when the headers or
/// the whole message would exceed `limits.max_message_size` (the caller
/// should close the connection), or [`ScanProblem::BadContentLength`].
pub fn frame(buf: &[u8], limits: &Limits) -> Result<Frame> {
    let start = buf.iter().position(|&c| c != b'\r' && c != b'\n');
    let Some(start) = start else {
        return Ok(if buf.is_empty() {
            Frame::NeedMore { needed: None }
        } else {
            Frame::KeepAlive { len: buf.len() }
        });
    };
    let window = buf
        .get(..buf.len().min(limits.max_message_size.saturating_add(1)))
        .unwrap_or_default();
    let mut line_start = start;
    let mut content_length: Option<usize> = None;
    let mut head_end = None;
    for nl in memchr_iter(b'\n', window).skip_while(|&nl| nl < start) {
        let line_end = if nl > line_start && window.get(nl - 1) == Some(&b'\r') {
            nl - 1
        } else {
            nl
        };
        let line = window.get(line_start..line_end).unwrap_or_default();
        if line.is_empty() {
            head_end = Some(nl + 1);
            break;
        }
        if content_length.is_none() {
            if let Some(value) = content_length_value(line) {
                let text = std::str::from_utf8(value).unwrap_or("x");
                let n = parse_decimal(trim(text).0)
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or(Error::Scan {
                        offset: line_start,
                        problem: ScanProblem::BadContentLength,
                    })?;
                content_length = Some(n);
            }
        }
        line_start = nl + 1;
    }
    let Some(head_end) = head_end else {
        if buf.len() > limits.max_message_size {
            return Err(Error::Scan {
                offset: limits.max_message_size,
                problem: ScanProblem::MessageTooLarge,
            });
        }
        return Ok(Frame::NeedMore { needed: None });
    };
    let total = head_end.saturating_add(content_length.unwrap_or(0));
    if total - start > limits.max_message_size {
        return Err(Error::Scan {
            offset: start,
            problem: ScanProblem::MessageTooLarge,
        });
    }
    if buf.len() < total {
        return Ok(Frame::NeedMore {
            needed: Some(total - buf.len()),
        });
    }
    Ok(Frame::Complete { len: total })
}

/// The value bytes of a `Content-Length:` or `l:` line, else `None`.
fn content_length_value(line: &[u8]) -> Option<&[u8]> {
    let name_len = if starts_with_ignore_case(line, b"content-length") {
        14
    } else if starts_with_ignore_case(line, b"l") {
        1
    } else {
        return None;
    };
    let rest = line.get(name_len..)?;
    let colon = rest.iter().position(|&c| c != b' ' && c != b'\t')?;
    if rest.get(colon) != Some(&b':') {
        return None;
    }
    rest.get(colon + 1..)
}

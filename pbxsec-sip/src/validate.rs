//! The strict check a caller runs when it wants RFC 3261 conformance.

use crate::values::Uri;
use crate::{Error, HeaderName, InvalidProblem, Message, Result, StartLine};

/// Headers that RFC 3261 allows once per message.
const SINGLE: [HeaderName; 6] = [
    HeaderName::From,
    HeaderName::To,
    HeaderName::CallId,
    HeaderName::CSeq,
    HeaderName::MaxForwards,
    HeaderName::ContentLength,
];

impl Message<'_> {
    /// Checks what [`Message::scan_with`] leaves to the accessors, and stops
    /// at the first problem:
    ///
    /// - the version is `SIP/2.0`; a status code is in 100..=699;
    /// - the Request-URI parses and carries no `?headers`;
    /// - From, To, Call-ID, CSeq, Max-Forwards and Content-Length appear at most once;
    /// - Via, From, To, Call-ID and CSeq are present and parse, as do every
    ///   Via and Contact value, Max-Forwards, and the authentication headers;
    /// - a request's CSeq method equals its method;
    /// - a Date header is in GMT.
    ///
    /// A message that scans but fails here is one a proxy answers with 400;
    /// a security filter may still read what it needs from it.
    ///
    /// # Errors
    /// [`Error::Invalid`], [`Error::Header`] or [`Error::MissingHeader`].
    pub fn validate(&self) -> Result<()> {
        let base = self.offset();
        if !self.version().eq_ignore_ascii_case("SIP/2.0") {
            return Err(Error::Invalid {
                offset: base,
                problem: InvalidProblem::UnsupportedVersion,
            });
        }
        match self.start_line() {
            StartLine::Request { method, uri } => {
                let at = base + method.len() + 1;
                let u = Uri::parse_at(uri, at, HeaderName::Other)?;
                if u.headers.is_some() {
                    return Err(Error::Invalid {
                        offset: at,
                        problem: InvalidProblem::RequestUriHeaders,
                    });
                }
            }
            StartLine::Response { code, .. } => {
                if !(100..=699).contains(&code) {
                    return Err(Error::Invalid {
                        offset: base,
                        problem: InvalidProblem::StatusOutOfRange,
                    });
                }
            }
        }
        for kind in SINGLE {
            if let Some(second) = self.get_all(kind).nth(1) {
                return Err(Error::Invalid {
                    offset: second.offset,
                    problem: InvalidProblem::DuplicateHeader,
                });
            }
        }
        self.required(HeaderName::Via)?;
        for via in self.vias() {
            via?;
        }
        self.from()?;
        self.to()?;
        self.call_id()?;
        let cseq = self.cseq()?;
        if let Some(method) = self.method() {
            if cseq.method != method {
                let offset = self.required(HeaderName::CSeq)?.value_offset;
                return Err(Error::Invalid {
                    offset,
                    problem: InvalidProblem::CSeqMethodMismatch,
                });
            }
        }
        for contact in self.contacts() {
            contact?;
        }
        self.max_forwards()?;
        self.authorization()?;
        self.proxy_authorization()?;
        self.www_authenticate()?;
        self.proxy_authenticate()?;
        if let Some(date) = self.get(HeaderName::Date) {
            if !date.value.ends_with(" GMT") {
                return Err(Error::Invalid {
                    offset: date.value_offset,
                    problem: InvalidProblem::BadDate,
                });
            }
        }
        debug_assert!(self.count(HeaderName::Via) >= 1);
        Ok(())
    }
}

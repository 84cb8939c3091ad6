//! Fuzzes the TCP framer: a complete frame lies inside the buffer and scans without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pbxsec_sip::{Frame, Limits, Message, frame};

fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_message_size: 4096, ..Limits::default() };
    match frame(data, &limits) {
        Ok(Frame::Complete { len }) => {
            let msg = data.get(..len).expect("a frame lies inside the buffer");
            let _ = Message::scan_with(msg, &limits);
            // Framing the rest also works.
            let _ = frame(data.get(len..).unwrap_or_default(), &limits);
        }
        Ok(Frame::KeepAlive { len }) => assert!(len <= data.len()),
        Ok(Frame::NeedMore { needed }) => {
            if let Some(n) = needed {
                assert!(n > 0);
            }
        }
        Err(_) => {}
    }
});

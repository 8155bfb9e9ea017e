//! The one redaction layer between the application and its logs. Every formatted log line passes through
//! [`redact_line`] before it is written: values of sensitive keys, `key=value` secrets in free text, bearer
//! credentials and card-like numbers are replaced, whatever code emitted them.

use std::io::{self, Write};
use tracing_subscriber::fmt::MakeWriter;

use crate::pan::find_pans;
use crate::secret::REDACTED;

/// Key fragments whose values are never logged (compared case-insensitively, as substrings of the key).
const SENSITIVE_KEYS: [&str; 16] = [
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "authorization",
    "cookie",
    "api_key",
    "apikey",
    "private_key",
    "pepper",
    "otp",
    "recovery_code",
    "cvc",
    "cvv",
    "card_number",
];

pub fn is_sensitive_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    SENSITIVE_KEYS.iter().any(|fragment| key.contains(fragment))
}

/// Redacts one log line: structurally when it is JSON, textually otherwise.
pub fn redact_line(line: &str) -> String {
    let trimmed = line.trim_end_matches(['\n', '\r']);
    match serde_json::from_str::<serde_json::Value>(trimmed) {
        Ok(mut value) if value.is_object() => {
            redact_value(&mut value);
            let mut out = value.to_string();
            out.push_str(&line[trimmed.len()..]);
            out
        }
        _ => redact_text(line),
    }
}

fn redact_value(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, inner) in map.iter_mut() {
                if is_sensitive_key(key) && !inner.is_null() {
                    *inner = serde_json::Value::String(REDACTED.to_owned());
                } else {
                    redact_value(inner);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact_value),
        serde_json::Value::String(text) => {
            let cleaned = redact_text(text);
            if cleaned != *text {
                *text = cleaned;
            }
        }
        serde_json::Value::Number(number) => {
            let digits = number.to_string();
            if !find_pans(&digits).is_empty() {
                *value = serde_json::Value::String(REDACTED.to_owned());
            }
        }
        _ => {}
    }
}

/// Stripe credentials recognisable by their prefix: secret and restricted keys, webhook signing secrets; and the
/// secret half of a PaymentIntent's client secret (`pi_…_secret_…`).
const STRIPE_SECRET_PREFIXES: [(&str, bool); 6] = [
    ("sk_live_", true),
    ("sk_test_", true),
    ("rk_live_", true),
    ("rk_test_", true),
    ("whsec_", true),
    ("_secret_", false),
];

/// Free text: card-like numbers, `Bearer …` credentials, Stripe secrets and `sensitive_key=value` /
/// `sensitive_key: value` pairs.
pub fn redact_text(text: &str) -> String {
    let mut out = mask_pans(text);
    out = mask_after_marker(&out, "bearer ", true);
    out = mask_after_marker(&out, "basic ", true);
    for (prefix, whole_word) in STRIPE_SECRET_PREFIXES {
        out = mask_after_marker(&out, prefix, whole_word);
    }
    for key in SENSITIVE_KEYS {
        out = mask_key_values(&out, key);
    }
    out
}

fn mask_pans(text: &str) -> String {
    let pans = find_pans(text);
    if pans.is_empty() {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for pan in pans {
        out.push_str(&text[last..pan.start]);
        out.push_str("[redacted-pan]");
        last = pan.end;
    }
    out.push_str(&text[last..]);
    out
}

/// Replaces the word following `marker` (case-insensitive) with the redaction mark.
fn mask_after_marker(text: &str, marker: &str, whole_word_marker: bool) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    let mut search_from = 0;
    while let Some(found) = lower[search_from..].find(marker) {
        let at = search_from + found;
        let starts_word = at == 0 || !lower.as_bytes()[at - 1].is_ascii_alphanumeric();
        let value_start = at + marker.len();
        search_from = value_start;
        if whole_word_marker && !starts_word {
            continue;
        }
        let value_end = value_end(text, value_start);
        if value_end == value_start || text[value_start..value_end] == *REDACTED {
            continue;
        }
        out.push_str(&text[last..value_start]);
        out.push_str(REDACTED);
        last = value_end;
        search_from = value_end;
    }
    out.push_str(&text[last..]);
    out
}

/// `password=…`, `password: …`, `"password":"…"` inside free text.
fn mask_key_values(text: &str, key: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    let mut search_from = 0;
    while let Some(found) = lower[search_from..].find(key) {
        let key_end = search_from + found + key.len();
        search_from = key_end;
        // Skip the rest of a longer key (`refresh_token_id`), closing quotes and the separator.
        let bytes = text.as_bytes();
        let mut i = key_end;
        while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
            i += 1;
        }
        while i < bytes.len() && matches!(bytes[i], b'"' | b'\'' | b'\\') {
            i += 1;
        }
        while i < bytes.len() && bytes[i] == b' ' {
            i += 1;
        }
        if i >= bytes.len() || !matches!(bytes[i], b'=' | b':') {
            continue;
        }
        i += 1;
        while i < bytes.len() && matches!(bytes[i], b' ' | b'"' | b'\'' | b'\\') {
            i += 1;
        }
        let end = value_end(text, i);
        if end == i || text[i..end] == *REDACTED {
            continue;
        }
        out.push_str(&text[last..i]);
        out.push_str(REDACTED);
        last = end;
        search_from = end;
    }
    out.push_str(&text[last..]);
    out
}

fn value_end(text: &str, start: usize) -> usize {
    text[start..]
        .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ',' | ';' | '&' | '}' | '\\'))
        .map_or(text.len(), |offset| start + offset)
}

/// Wraps the log sink so that every line is redacted before it is written.
#[derive(Debug, Clone)]
pub struct RedactingMakeWriter<M> {
    inner: M,
}

impl<M> RedactingMakeWriter<M> {
    pub fn new(inner: M) -> Self {
        Self { inner }
    }
}

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for RedactingMakeWriter<M> {
    type Writer = RedactingWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingWriter {
            inner: self.inner.make_writer(),
            pending: Vec::new(),
        }
    }
}

/// Buffers one event's bytes and writes them redacted, line by line.
pub struct RedactingWriter<W: Write> {
    inner: W,
    pending: Vec<u8>,
}

impl<W: Write> RedactingWriter<W> {
    fn write_complete_lines(&mut self) -> io::Result<()> {
        while let Some(newline) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=newline).collect();
            let text = String::from_utf8_lossy(&line);
            self.inner.write_all(redact_line(&text).as_bytes())?;
        }
        Ok(())
    }
}

impl<W: Write> Write for RedactingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        self.write_complete_lines()?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.write_complete_lines()?;
        if !self.pending.is_empty() {
            let rest = std::mem::take(&mut self.pending);
            self.inner
                .write_all(redact_line(&String::from_utf8_lossy(&rest)).as_bytes())?;
        }
        self.inner.flush()
    }
}

impl<W: Write> Drop for RedactingWriter<W> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);
    impl Write for Capture {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    impl<'a> MakeWriter<'a> for Capture {
        type Writer = Capture;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    const CARD: &str = "4242424242424242";

    #[test]
    fn log_lines_never_carry_passwords_tokens_secrets_or_cards() {
        let capture = Capture::default();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_writer(RedactingMakeWriter::new(capture.clone()))
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(
                password = "correct horse battery",
                email = "ana@example.co",
                "login attempt"
            );
            tracing::info!(refresh_token = "rt_abc123secret", "refreshing");
            tracing::warn!(body = %format!("{{\"card\":\"{CARD}\",\"cvc\":\"123\"}}"), "suspicious body");
            tracing::info!("header Authorization: Bearer eyJhbGciOiJFZERTQSJ9.payload.sig was sent");
            tracing::info!("client sent password=hunter2hunter2 and client_secret: cs_live_42");
            tracing::error!(pan = 4111111111111111u64, "numeric card");
            tracing::info!(api_key = ?Some("sk_test_51abc"), "debug-formatted secret");
        });
        let logged = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
        for leaked in [
            "correct horse battery",
            "rt_abc123secret",
            CARD,
            "4111111111111111",
            "eyJhbGciOiJFZERTQSJ9",
            "hunter2hunter2",
            "cs_live_42",
            "sk_test_51abc",
        ] {
            assert!(!logged.contains(leaked), "{leaked} leaked into: {logged}");
        }
        assert!(
            logged.contains("ana@example.co"),
            "non-sensitive fields stay: {logged}"
        );
        assert!(logged.contains("login attempt"));
        assert_eq!(logged.lines().count(), 7);
        for line in logged.lines() {
            serde_json::from_str::<serde_json::Value>(line).expect("every redacted line is still JSON");
        }
    }

    #[test]
    fn plain_text_lines_are_redacted_too() {
        let out = redact_line("GET /pay?card=4000 0566 5566 5556 token=abc\n");
        assert_eq!(out, "GET /pay?card=[redacted-pan] token=[redacted]\n");
    }

    /// PAY-1: a card number glued to letters or an underscore is masked like any other (the scanner is the PAN
    /// guard's), in plain lines and in the strings of JSON lines.
    #[test]
    fn glued_card_numbers_are_redacted() {
        let out = redact_line("name=x4242424242424242 ref=_5555555555554444_ id=card378282246310005end\n");
        assert_eq!(
            out,
            "name=x[redacted-pan] ref=_[redacted-pan]_ id=card[redacted-pan]end\n"
        );
        let out = redact_line(
            r#"{"message":"refused","name":"x4242424242424242","nested":{"n":"tok_6011111111111117"}}"#,
        );
        for digits in ["4242424242424242", "6011111111111117"] {
            assert!(!out.contains(digits), "{out}");
        }
        serde_json::from_str::<serde_json::Value>(&out).expect("still JSON");
        // Our own identifiers stay readable.
        let line = "request_id=01936b5e-2c4f-7a1b-9c3d-4e5f6a7b8c9d at=1763880243742 amount=4500000";
        assert_eq!(redact_line(line), line);
    }

    #[test]
    fn stripe_secrets_are_redacted_by_their_shape() {
        let out = redact_line("stripe sk_live_51Habc whsec_9xYz pi_3Mtw_secret_YrKJ rk_test_77 pk_test_ok\n");
        for secret in ["51Habc", "9xYz", "YrKJ", "rk_test_77"] {
            assert!(!out.contains(secret), "{out}");
        }
        assert!(out.contains("pk_test_ok"), "publishable keys are public: {out}");
    }

    #[test]
    fn sensitive_key_detection() {
        assert!(is_sensitive_key("Authorization"));
        assert!(is_sensitive_key("mfa_token"));
        assert!(is_sensitive_key("client_secret"));
        assert!(!is_sensitive_key("request_id"));
        assert!(!is_sensitive_key("email"));
    }
}

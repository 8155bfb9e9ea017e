//! Progress bars for the long steps (upload, download, decrypt, restore), drawn only when stderr is a terminal.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Debug, Clone)]
pub struct Progress(ProgressBar);

impl Progress {
    /// A byte-counting bar for `len` bytes (0: unknown, a spinner), visible only on a terminal and when `show`.
    pub fn bytes(show: bool, len: u64, message: &str) -> Self {
        if !show || !std::io::stderr().is_terminal() {
            return Self::hidden();
        }
        let bar = if len == 0 {
            ProgressBar::new_spinner()
        } else {
            ProgressBar::new(len)
        };
        bar.set_draw_target(ProgressDrawTarget::stderr());
        let template = if len == 0 {
            "{spinner} {msg} {bytes} ({elapsed})"
        } else {
            "{msg:>12} [{bar:30}] {bytes}/{total_bytes} ({eta})"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(message.to_owned());
        bar.enable_steady_tick(Duration::from_millis(200));
        Self(bar)
    }

    pub fn hidden() -> Self {
        Self(ProgressBar::hidden())
    }

    pub fn inc(&self, n: u64) {
        self.0.inc(n);
    }

    pub fn finish(&self) {
        self.0.finish_and_clear();
    }
}

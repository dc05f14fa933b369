//! Asking the person at the terminal for a secret, typed without echo. Only when stdin is a
//! terminal: unattended runs (CI, pipes) never block on a question nobody sees.

use std::fs::File;
use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::os::fd::AsRawFd;

use anyhow::{Context, Result};

use crate::secrets::Secret;

/// Whether a person can be asked: stdin is a terminal.
pub fn interactive() -> bool {
    std::io::stdin().is_terminal()
}

/// Asks on the controlling terminal with echo off; `None` when there is no terminal to ask or
/// the answer is empty.
pub fn ask_secret(prompt: &str) -> Result<Option<Secret>> {
    if !interactive() {
        return Ok(None);
    }
    let mut tty = File::options()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .context("cannot open the terminal to ask for a secret")?;
    let fd = tty.as_raw_fd();
    let echo_off = EchoOff::new(fd);
    write!(tty, "{prompt}").context("cannot write to the terminal")?;
    tty.flush()?;
    let mut line = String::new();
    let read = BufReader::new(&tty).read_line(&mut line);
    drop(echo_off);
    // The Enter the person typed was not echoed either.
    let _ = writeln!(tty);
    read.context("cannot read from the terminal")?;
    let value = line.trim_end_matches(['\n', '\r']);
    Ok((!value.is_empty()).then(|| Secret::new(value)))
}

/// Terminal echo switched off until dropped (restored even when the read fails).
struct EchoOff {
    fd: i32,
    saved: Option<libc::termios>,
}

impl EchoOff {
    fn new(fd: i32) -> EchoOff {
        // SAFETY: termios is plain data; tcgetattr fills it or fails, and only a filled one is
        // used.
        let saved = unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            (libc::tcgetattr(fd, &mut t) == 0).then_some(t)
        };
        if let Some(mut quiet) = saved {
            quiet.c_lflag &= !libc::ECHO;
            // SAFETY: a valid fd and a termios read from it.
            unsafe {
                libc::tcsetattr(fd, libc::TCSANOW, &quiet);
            }
        }
        EchoOff { fd, saved }
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        if let Some(saved) = &self.saved {
            // SAFETY: restores the settings read in `new` on the same fd.
            unsafe {
                libc::tcsetattr(self.fd, libc::TCSANOW, saved);
            }
        }
    }
}

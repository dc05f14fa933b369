//! Asking the person at the terminal for a secret or a code, typed without echo. Only when
//! stdin is a terminal: unattended runs (CI, pipes) never block on a question nobody sees.

use std::fs::File;
use std::io::{IsTerminal, Read, Write};
use std::os::fd::AsRawFd;

use anyhow::{Context, Result};

use crate::error::{Exit, Failure};
use crate::secrets::Secret;

/// Whether a person can be asked: stdin is a terminal.
pub fn interactive() -> bool {
    std::io::stdin().is_terminal()
}

/// Asks on the controlling terminal with echo off; `None` when there is no terminal to ask or
/// the answer is empty. Ctrl-C at the prompt ends the command (exit 130) with the terminal
/// restored.
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
    // Echo goes off before the prompt shows: whatever is typed once the prompt is visible
    // (a person quick on the keys, a password manager's auto-type) is never echoed.
    let raw = Raw::new(fd);
    write!(tty, "{prompt}").context("cannot write to the terminal")?;
    tty.flush()?;
    let typed = read_typed(&mut tty);
    drop(raw);
    // The Enter the person typed was not echoed either.
    let _ = writeln!(tty);
    match typed.context("cannot read from the terminal")? {
        Typed::Interrupted => Err(Failure::error(
            Exit::Interrupted,
            "interrupted at the prompt (Ctrl-C): nothing was done",
        )),
        Typed::Line(line) => Ok((!line.is_empty()).then(|| Secret::new(line))),
    }
}

enum Typed {
    Line(String),
    Interrupted,
}

/// Reads keys one at a time until Enter: with the terminal raw, Ctrl-C arrives as a key rather
/// than a signal (a signal would end the process with echo still off).
fn read_typed(tty: &mut File) -> std::io::Result<Typed> {
    let mut line = String::new();
    let mut pending = Vec::new();
    loop {
        let mut byte = [0u8; 1];
        match tty.read(&mut byte) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        match byte[0] {
            b'\r' | b'\n' => break,
            0x03 => return Ok(Typed::Interrupted),
            0x04 if line.is_empty() && pending.is_empty() => break,
            0x7f | 0x08 => {
                pending.clear();
                line.pop();
            }
            0x15 => {
                pending.clear();
                line.clear();
            }
            b => {
                // UTF-8 arrives a byte at a time: a character is kept once it is whole.
                pending.push(b);
                if let Ok(text) = std::str::from_utf8(&pending) {
                    line.push_str(text);
                    pending.clear();
                } else if pending.len() >= 4 {
                    pending.clear();
                }
            }
        }
    }
    Ok(Typed::Line(line))
}

/// The terminal without echo, line editing or signal keys until dropped (restored even when
/// the read fails).
struct Raw {
    fd: i32,
    saved: Option<libc::termios>,
}

impl Raw {
    fn new(fd: i32) -> Raw {
        // SAFETY: termios is plain data; tcgetattr fills it or fails, and only a filled one is
        // used.
        let saved = unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            (libc::tcgetattr(fd, &mut t) == 0).then_some(t)
        };
        if let Some(mut quiet) = saved {
            quiet.c_lflag &= !(libc::ECHO | libc::ICANON | libc::ISIG);
            quiet.c_cc[libc::VMIN] = 1;
            quiet.c_cc[libc::VTIME] = 0;
            // SAFETY: a valid fd and a termios read from it.
            unsafe {
                libc::tcsetattr(fd, libc::TCSANOW, &quiet);
            }
        }
        Raw { fd, saved }
    }
}

impl Drop for Raw {
    fn drop(&mut self) {
        if let Some(saved) = &self.saved {
            // SAFETY: restores the settings read in `new` on the same fd.
            unsafe {
                libc::tcsetattr(self.fd, libc::TCSANOW, saved);
            }
        }
    }
}

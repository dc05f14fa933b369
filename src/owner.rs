//! Who this process runs as, read from `/proc/self` (owned by the effective user), so no unsafe
//! `geteuid` call is needed. Files that choose what the tool runs, and directories that hold
//! its secrets, are trusted by their owner.

use std::os::unix::fs::MetadataExt;

/// The effective user id, or `None` when `/proc` cannot be read.
pub fn own_uid() -> Option<u32> {
    std::fs::metadata("/proc/self").map(|m| m.uid()).ok()
}

pub fn is_root() -> bool {
    own_uid() == Some(0)
}

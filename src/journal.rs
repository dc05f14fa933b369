//! The run directory: a journal of the run's steps and the secrets it made, kept on disk so
//! that a failed run loses nothing.
//!
//! `journal.json` (no secrets) is rewritten atomically after every step; `secrets.json` (0600,
//! in a 0700 directory) is written the moment a secret is generated or captured.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    Running,
    Done,
    Failed,
    /// A registration waiting for its access manager (the run goes on with `activate`).
    PendingApproval,
    /// The login works: first sign-in with 2FA done.
    Active,
    /// The office login cannot add users: nothing was created; register instead.
    NotAccessManager,
    /// Not run: what it would do was already done in the portal.
    Skipped,
}

impl Status {
    /// The name journals and JSON output use (`pending_approval`).
    pub fn name(&self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Running => "running",
            Status::Done => "done",
            Status::Failed => "failed",
            Status::PendingApproval => "pending_approval",
            Status::Active => "active",
            Status::NotAccessManager => "not_access_manager",
            Status::Skipped => "skipped",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepRecord {
    pub id: String,
    pub status: Status,
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// Of `duration_ms`, the time spent waiting for a code email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mailbox_wait_ms: Option<u64>,
    /// Of `duration_ms`, the time spent waiting on the portal's pages: navigations, documents
    /// loading, content appearing (see `browser::Spent`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_wait_ms: Option<u64>,
    /// Of `duration_ms`, the tool's own round trips to the browser.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub round_trip_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outputs: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl StepRecord {
    pub(crate) fn pending(id: &str) -> StepRecord {
        StepRecord {
            id: id.to_string(),
            status: Status::Pending,
            attempts: 0,
            started_at: None,
            duration_ms: None,
            mailbox_wait_ms: None,
            page_wait_ms: None,
            round_trip_ms: None,
            outputs: Vec::new(),
            error: None,
        }
    }
}

#[derive(Debug, Serialize)]
struct JournalFile<'a> {
    run_id: &'a str,
    flow: &'a str,
    status: &'a Status,
    started_at: &'a str,
    inputs: &'a BTreeMap<String, Value>,
    steps: &'a [StepRecord],
}

#[derive(Debug, Deserialize)]
struct JournalOnDisk {
    run_id: String,
    flow: String,
    status: Status,
    started_at: String,
    inputs: BTreeMap<String, Value>,
    steps: Vec<StepRecord>,
}

pub struct Journal {
    pub run_id: String,
    pub dir: PathBuf,
    flow: String,
    status: Status,
    started_at: String,
    inputs: BTreeMap<String, Value>,
    pub steps: Vec<StepRecord>,
    secrets: BTreeMap<String, String>,
}

pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

impl Journal {
    /// Creates `runs_dir/<run-id>/` (0700) with a first journal.
    pub fn create(
        runs_dir: &Path,
        flow: &str,
        step_ids: &[String],
        inputs: BTreeMap<String, Value>,
    ) -> Result<Journal> {
        open_runs_dir(runs_dir)?;
        let stamp = time::OffsetDateTime::now_utc()
            .format(time::macros::format_description!(
                "[year][month][day]-[hour][minute][second]"
            ))
            .unwrap_or_default();
        let run_id = format!("{flow}-{stamp}-{:04x}", rand::random::<u16>());
        let dir = runs_dir.join(&run_id);
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .with_context(|| format!("cannot create the run directory {}", dir.display()))?;
        // The umask can narrow a mode, never widen it, but be sure.
        tighten_dir(&dir)?;
        let journal = Journal {
            run_id,
            dir,
            flow: flow.to_string(),
            status: Status::Running,
            started_at: now_rfc3339(),
            inputs,
            steps: step_ids.iter().map(|id| StepRecord::pending(id)).collect(),
            secrets: BTreeMap::new(),
        };
        journal.save()?;
        Ok(journal)
    }

    /// An earlier run, by id, with its secrets.
    pub fn open(runs_dir: &Path, run_id: &str) -> Result<Journal> {
        let safe = !run_id.is_empty()
            && run_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        let dir = runs_dir.join(run_id);
        let path = dir.join("journal.json");
        if !safe || !path.is_file() {
            return Err(error::bad_input(format!(
                "there is no run \"{run_id}\" in {}: give the run id that `register` printed \
                 (the names of the directories there), or the --runs-dir it used",
                runs_dir.display()
            )));
        }
        let text =
            fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let on_disk: JournalOnDisk = serde_json::from_str(&text)
            .with_context(|| format!("{} is damaged", path.display()))?;
        let secrets_path = dir.join("secrets.json");
        let secrets: BTreeMap<String, String> = if secrets_path.exists() {
            serde_json::from_str(&fs::read_to_string(&secrets_path)?)
                .with_context(|| format!("{} is damaged", secrets_path.display()))?
        } else {
            BTreeMap::new()
        };
        // Whatever this process shows of the run (report, errors) must hide its secrets too.
        for (name, value) in &secrets {
            if !name.contains("question") && !name.contains("user_id") {
                crate::secrets::global().register(value);
            }
        }
        Ok(Journal {
            run_id: on_disk.run_id,
            dir,
            flow: on_disk.flow,
            status: on_disk.status,
            started_at: on_disk.started_at,
            inputs: on_disk.inputs,
            steps: on_disk.steps,
            secrets,
        })
    }

    /// Every run under `runs_dir`, newest first; unreadable entries are skipped.
    pub fn list(runs_dir: &Path) -> Vec<Journal> {
        let mut runs: Vec<Journal> = fs::read_dir(runs_dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .filter_map(|id| Journal::open(runs_dir, &id).ok())
            .collect();
        runs.sort_by(|a, b| b.started_at.cmp(&a.started_at));
        runs
    }

    pub fn started_at(&self) -> &str {
        &self.started_at
    }

    pub fn flow(&self) -> &str {
        &self.flow
    }

    pub fn status(&self) -> &Status {
        &self.status
    }

    /// The run goes on with another flow (a registration, when the office login could not add
    /// users): its name, and its steps after those already recorded.
    /// The old flow's steps left unfinished are recorded as skipped: the run did not fail there.
    pub fn switch_flow(&mut self, name: &str, step_ids: &[String]) -> Result<()> {
        for s in &mut self.steps {
            if !matches!(s.status, Status::Done | Status::Skipped) {
                s.status = Status::Skipped;
            }
        }
        self.flow = name.to_string();
        self.add_missing(step_ids);
        self.save()
    }

    pub fn set_status(&mut self, status: Status) -> Result<()> {
        self.status = status;
        self.save()
    }

    pub fn input(&self, name: &str) -> Option<&Value> {
        self.inputs.get(name)
    }

    /// A text input the run recorded; its absence means the run cannot be continued.
    pub fn input_text(&self, name: &str) -> Result<String> {
        self.input(name)
            .and_then(|v| v.as_str())
            .map(str::to_string)
            .ok_or_else(|| {
                error::bad_input(format!(
                    "run {} does not record its {name}: it cannot be continued",
                    self.run_id
                ))
            })
    }

    pub fn secret(&self, name: &str) -> Option<&str> {
        self.secrets.get(name).map(String::as_str)
    }

    /// Adds the steps of a later flow of the same run (activation after registration).
    /// Also the steps of a flow that replaced the run's (`--force-flow`). Writes nothing when
    /// every step is known, so a refused second process never rewrites a running run's journal.
    pub fn add_steps(&mut self, step_ids: &[String]) -> Result<()> {
        if !self.add_missing(step_ids) {
            return Ok(());
        }
        self.save()
    }

    /// Records the steps it does not know yet, pending; whether there were any.
    fn add_missing(&mut self, step_ids: &[String]) -> bool {
        let known = self.steps.len();
        for id in step_ids {
            if self.step_mut(id).is_none() {
                self.steps.push(StepRecord::pending(id));
            }
        }
        self.steps.len() > known
    }

    pub fn step_mut(&mut self, id: &str) -> Option<&mut StepRecord> {
        self.steps.iter_mut().find(|s| s.id == id)
    }

    /// Rewrites journal.json: temp file, fsync, rename.
    pub fn save(&self) -> Result<()> {
        let file = JournalFile {
            run_id: &self.run_id,
            flow: &self.flow,
            status: &self.status,
            started_at: &self.started_at,
            inputs: &self.inputs,
            steps: &self.steps,
        };
        let bytes = serde_json::to_vec_pretty(&file)?;
        write_atomic(&self.dir.join("journal.json"), &bytes, 0o600)
    }

    /// Records a secret and writes secrets.json (0600) before returning.
    pub fn save_secret(&mut self, name: &str, value: &str) -> Result<()> {
        self.secrets.insert(name.to_string(), value.to_string());
        let bytes = serde_json::to_vec_pretty(&self.secrets)?;
        write_atomic(&self.dir.join("secrets.json"), &bytes, 0o600)
    }
}

/// Writes a file whole or not at all, with `mode` from its creation on. The temporary file has
/// an unpredictable name and is created exclusively (never through a planted symlink), then
/// renamed over `path` (a symlink at `path` is replaced, not followed).
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".cigna-setup-")
        .suffix(".tmp")
        .permissions(fs::Permissions::from_mode(mode))
        .tempfile_in(dir)
        .with_context(|| format!("cannot write a temporary file in {}", dir.display()))?;
    // The umask may have narrowed the mode further than asked; never wider.
    tmp.as_file()
        .set_permissions(fs::Permissions::from_mode(mode))?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Creates `dir` and any missing parents as 0700 whatever the umask; an existing `dir` looser
/// than 0700 is tightened. Directories holding run state and evidence use this.
pub fn create_private_dir(dir: &Path) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    tighten_dir(dir)
}

/// Makes sure the runs directory is a private directory of ours: created 0700 when missing,
/// tightened to 0700 when looser; a symbolic link (it could point runs, credentials included,
/// anywhere) or a directory of another user is refused (exit 2).
pub fn open_runs_dir(runs_dir: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    if let Ok(meta) = fs::symlink_metadata(runs_dir) {
        if meta.file_type().is_symlink() {
            return Err(error::bad_input(format!(
                "the runs directory {} is a symbolic link; give the directory it points to (or \
                 another) with --runs-dir",
                runs_dir.display()
            )));
        }
        if !meta.is_dir() {
            return Err(error::bad_input(format!(
                "the runs directory {} is not a directory; pick another with --runs-dir",
                runs_dir.display()
            )));
        }
        let me = crate::owner::own_uid().unwrap_or(0);
        if meta.uid() != me {
            return Err(error::bad_input(format!(
                "the runs directory {} belongs to another user (uid {}); pick one of yours with \
                 --runs-dir",
                runs_dir.display(),
                meta.uid()
            )));
        }
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(runs_dir)
        .map_err(|e| {
            error::environment(format!(
                "cannot create the runs directory {}: {e}; pick another with --runs-dir",
                runs_dir.display()
            ))
        })?;
    tighten_dir(runs_dir)
}

/// Sets a directory we own to 0700 when group or others have any access to it.
pub fn tighten_dir(dir: &Path) -> Result<()> {
    let meta =
        fs::symlink_metadata(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    if meta.permissions().mode() & 0o077 != 0 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot make {} private (chmod 700 {0})", dir.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn a_planted_symlink_is_never_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim.txt");
        fs::write(&victim, "keep me").unwrap();
        // Where the old code put its temporary file, and the target itself.
        symlink(&victim, dir.path().join(".credentials.json.tmp")).unwrap();
        let out = dir.path().join("credentials.json");
        write_atomic(&out, b"{\"secret\":1}", 0o600).unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "keep me");
        assert_eq!(
            fs::metadata(&out).unwrap().permissions().mode() & 0o777,
            0o600
        );

        let linked = dir.path().join("linked.json");
        symlink(&victim, &linked).unwrap();
        write_atomic(&linked, b"new", 0o600).unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "keep me");
        assert!(!fs::symlink_metadata(&linked)
            .unwrap()
            .file_type()
            .is_symlink());
        // No temporary file is left behind.
        let left: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(".cigna-setup-"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn a_runs_dir_is_private_and_never_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let loose = dir.path().join("runs");
        fs::create_dir(&loose).unwrap();
        fs::set_permissions(&loose, fs::Permissions::from_mode(0o777)).unwrap();
        open_runs_dir(&loose).unwrap();
        assert_eq!(
            fs::metadata(&loose).unwrap().permissions().mode() & 0o777,
            0o700
        );

        let fresh = dir.path().join("a/b/runs");
        open_runs_dir(&fresh).unwrap();
        assert_eq!(
            fs::metadata(&fresh).unwrap().permissions().mode() & 0o777,
            0o700
        );

        let link = dir.path().join("runs-link");
        symlink(&loose, &link).unwrap();
        let err = open_runs_dir(&link).unwrap_err();
        assert_eq!(error::exit_code(&err), 2);
        assert!(format!("{err:#}").contains("symbolic link"), "{err:#}");

        let artifacts = dir.path().join("runs/x/artifacts/step");
        create_private_dir(&artifacts).unwrap();
        for d in [dir.path().join("runs/x"), artifacts] {
            assert_eq!(
                fs::metadata(&d).unwrap().permissions().mode() & 0o777,
                0o700,
                "{d:?}"
            );
        }
    }
}

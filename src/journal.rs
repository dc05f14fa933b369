//! The run directory: a journal of the run's steps and the secrets it made, kept on disk so
//! that a failed run loses nothing.
//!
//! `journal.json` (no secrets) is rewritten atomically after every step; `secrets.json` (0600,
//! in a 0700 directory) is written the moment a secret is generated or captured.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
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
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outputs: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl StepRecord {
    fn pending(id: &str) -> StepRecord {
        StepRecord {
            id: id.to_string(),
            status: Status::Pending,
            attempts: 0,
            started_at: None,
            duration_ms: None,
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
    pub fn add_steps(&mut self, step_ids: &[String]) -> Result<()> {
        for id in step_ids {
            if self.step_mut(id).is_none() {
                self.steps.push(StepRecord::pending(id));
            }
        }
        self.save()
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

/// Writes a file whole or not at all, with `mode` from its creation on.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file")
    ));
    {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        // An existing temp file keeps its old mode: set it.
        f.set_permissions(fs::Permissions::from_mode(mode))?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

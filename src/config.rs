//! The settings file (`cigna-setup.toml`): what an office or a CI job sets once instead of on
//! every command line. Read before the command line is parsed and handed to the parser as the
//! flags' defaults, so the precedence is flag > environment > file > default with one
//! mechanism, and every value knows where it came from (`config show`). Secrets never live
//! here, and the environment is never written.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::Result;
use serde::Serialize;
use toml::Spanned;

use crate::error::bad_input;

/// The file's name in the config directory (and of a file `--config` names, usually).
pub const FILE_NAME: &str = "cigna-setup.toml";

/// What a setting's value must look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Path,
    Url,
    MailboxUrl,
    Duration,
    Count,
    Auth,
    /// A program, or a program and its arguments (`["PROGRAM", "ARG", …]`).
    Command,
    Folders,
    Entitlements,
    DateOfBirth,
}

/// One setting the file may hold: its key, the environment variable (and flag) it feeds.
pub struct Setting {
    /// `key` at the top level, or `profile.key` in the `[profile]` table.
    pub key: &'static str,
    pub env: &'static str,
    pub flag: &'static str,
    kind: Kind,
    /// What it means when nothing sets it, for settings without a default value of their own
    /// (those come from the flags' definitions and the code, for `config show`).
    pub unset: &'static str,
}

const fn setting(
    key: &'static str,
    env: &'static str,
    flag: &'static str,
    kind: Kind,
    unset: &'static str,
) -> Setting {
    Setting {
        key,
        env,
        flag,
        kind,
        unset,
    }
}

/// Every setting the file may hold, in the order `config show` lists them.
pub const SETTINGS: &[Setting] = &[
    setting(
        "portal-url",
        "CIGNA_PORTAL_URL",
        "--portal-url",
        Kind::Url,
        "",
    ),
    setting(
        "browser",
        "CIGNA_BROWSER",
        "--browser",
        Kind::Path,
        "chromium, chromium-browser or google-chrome on PATH",
    ),
    setting("runs-dir", "CIGNA_RUNS_DIR", "--runs-dir", Kind::Path, ""),
    setting(
        "office-user",
        "CIGNA_OFFICE_USER",
        "--office-user",
        Kind::Text,
        "(none)",
    ),
    setting(
        "imap-url",
        "CIGNA_IMAP_URL",
        "--imap-url",
        Kind::MailboxUrl,
        "(none)",
    ),
    setting(
        "imap-ca",
        "CIGNA_IMAP_CA",
        "--imap-ca",
        Kind::Path,
        "(the system's CAs)",
    ),
    setting(
        "imap-mailboxes",
        "CIGNA_IMAP_MAILBOX",
        "--imap-mailbox",
        Kind::Folders,
        "the folder in imap-url (INBOX)",
    ),
    setting(
        "imap-auth",
        "CIGNA_IMAP_AUTH",
        "--imap-auth",
        Kind::Auth,
        "",
    ),
    setting(
        "imap-token-file",
        "CIGNA_IMAP_TOKEN_FILE",
        "--imap-token-file",
        Kind::Path,
        "(none)",
    ),
    setting(
        "imap-token-command",
        "CIGNA_IMAP_TOKEN_COMMAND",
        "--imap-token-command",
        Kind::Command,
        "(none)",
    ),
    setting(
        "poll-every",
        "CIGNA_POLL_EVERY",
        "--poll-every",
        Kind::Duration,
        "",
    ),
    setting(
        "code-timeout",
        "CIGNA_CODE_TIMEOUT",
        "--code-timeout",
        Kind::Duration,
        "",
    ),
    setting(
        "action-timeout",
        "CIGNA_ACTION_TIMEOUT",
        "--action-timeout",
        Kind::Duration,
        "",
    ),
    setting("retries", "CIGNA_RETRIES", "--retries", Kind::Count, ""),
    setting(
        "entitlements",
        "CIGNA_ENTITLEMENTS",
        "--entitlement",
        Kind::Entitlements,
        "",
    ),
    setting(
        "profile.first-name",
        "CIGNA_FIRST_NAME",
        "--first-name",
        Kind::Text,
        "",
    ),
    setting(
        "profile.last-name",
        "CIGNA_LAST_NAME",
        "--last-name",
        Kind::Text,
        "",
    ),
    setting(
        "profile.job-role",
        "CIGNA_JOB_ROLE",
        "--job-role",
        Kind::Text,
        "",
    ),
    setting(
        "profile.address",
        "CIGNA_ADDRESS",
        "--address",
        Kind::Text,
        "",
    ),
    setting(
        "profile.date-of-birth",
        "CIGNA_DATE_OF_BIRTH",
        "--date-of-birth",
        Kind::DateOfBirth,
        "",
    ),
];

/// The secrets a run reads, for `config show`: only ever from the environment or a file.
pub const SECRETS: &[(&str, &str)] = &[
    ("CIGNA_OFFICE_PASSWORD", "--office-password-file"),
    ("CIGNA_IMAP_PASSWORD", "--imap-password-file"),
    ("CIGNA_IMAP_TOKEN", "--imap-token-file"),
    ("CIGNA_USER_PASSWORD", ""),
];

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Source {
    /// A flag on the command line.
    Flag {
        flag: String,
    },
    /// The environment variable was set when the command started.
    Env {
        var: String,
    },
    File {
        path: PathBuf,
        line: usize,
    },
    Default,
}

/// The settings file as read at start-up, for `config show`.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// The file used, if any.
    pub file: Option<PathBuf>,
    /// Where a file was looked for.
    pub searched: Vec<PathBuf>,
    /// Per setting key: where its value came from and the value itself.
    pub values: BTreeMap<&'static str, (Source, Option<String>)>,
}

static LOADED: OnceLock<Loaded> = OnceLock::new();

/// What `load` found (empty before it ran).
pub fn loaded() -> Loaded {
    LOADED.get().cloned().unwrap_or_default()
}

/// The command line as given, with the settings file applied and secrets on it refused.
/// `--help`, `--version` and usage errors end the process here, as clap does.
pub fn command_line() -> Result<crate::cli::Cli> {
    let args: Vec<OsString> = std::env::args_os().collect();
    crate::cli::refuse_secrets(&args)?;
    // The fixture portal and the demo stand alone: a settings file naming a real mailbox must
    // not have them APPEND fake code emails into it.
    let file = if matches!(
        crate::cli::subcommand(&args).as_deref(),
        Some("fixture-portal" | "demo")
    ) {
        FileSettings::default()
    } else {
        read(&args)?
    };
    // The flag takes the program; its arguments reach the settings on their own (below).
    let defaults = file
        .values
        .iter()
        .filter_map(|(key, (value, _))| {
            let value = match setting_of(key)?.kind {
                Kind::Command => command_words(value).into_iter().next()?,
                _ => value.clone(),
            };
            Some((setting_of(key)?.env, value))
        })
        .collect();
    let (cli, matches) = crate::cli::parse_with(&args, &defaults).unwrap_or_else(|e| e.exit());
    if let Some((value, _)) = file.values.get("imap-token-command") {
        crate::settings::set_file_token_command(command_words(value));
    }
    let loaded = provenance(
        file,
        &<crate::cli::Cli as clap::CommandFactory>::command(),
        &matches,
    );
    let _ = LOADED.set(loaded);
    Ok(cli)
}

/// A settings file as read and checked: where it was, where one was looked for, and per key
/// its value and line.
#[derive(Debug, Clone, Default)]
struct FileSettings {
    pub file: Option<PathBuf>,
    pub searched: Vec<PathBuf>,
    pub values: BTreeMap<&'static str, (String, usize)>,
}

/// A `Kind::Command` value as the file gave it: a program alone, or (a JSON list) a program and
/// its arguments.
fn command_words(value: &str) -> Vec<String> {
    serde_json::from_str::<Vec<String>>(value).unwrap_or_else(|_| vec![value.to_string()])
}

fn setting_of(key: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.key == key)
}

/// Finds and reads the settings file named by `--config`/`CIGNA_CONFIG` in `args`, or the
/// default ones, and checks every value.
fn read(args: &[OsString]) -> Result<FileSettings> {
    let given = config_flag(args).or_else(|| std::env::var_os("CIGNA_CONFIG").map(PathBuf::from));
    let searched = match &given {
        Some(path) => vec![path.clone()],
        None => default_paths(),
    };
    let file = match &given {
        Some(path) => {
            if !path.is_file() {
                return Err(bad_input(format!(
                    "the settings file {} given with --config (or CIGNA_CONFIG) does not exist: \
                     check the path, or leave --config out to use ~/.config/cigna-setup/{FILE_NAME}",
                    path.display()
                )));
            }
            Some(path.clone())
        }
        None => searched.iter().find(|p| p.is_file()).cloned(),
    };
    if let Some(path) = &file {
        check_trusted(path)?;
    }
    let values = match &file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                bad_input(format!(
                    "cannot read the settings file {}: {e}",
                    path.display()
                ))
            })?;
            parse(&text, path)?
        }
        None => BTreeMap::new(),
    };
    Ok(FileSettings {
        file,
        searched,
        values,
    })
}

/// Where each setting's value came from: what clap matched (a flag, the variable, or the
/// default, which is the file's value when the file gave one); for a setting the command has
/// no flag for, its variable, else the file.
fn provenance(file: FileSettings, cmd: &clap::Command, matches: &clap::ArgMatches) -> Loaded {
    let mut values = BTreeMap::new();
    for s in SETTINGS {
        let in_file = file.values.get(s.key).cloned();
        let from_file = |(value, line): (String, usize)| {
            (
                Source::File {
                    path: file.file.clone().unwrap_or_default(),
                    line,
                },
                Some(value),
            )
        };
        let env = std::env::var(s.env).ok().filter(|v| !v.is_empty());
        let entry = match matched(cmd, matches, s.env) {
            Some((clap::parser::ValueSource::CommandLine, flag, value)) => {
                (Source::Flag { flag }, Some(value))
            }
            Some((clap::parser::ValueSource::EnvVariable, _, value)) => (
                Source::Env {
                    var: s.env.to_string(),
                },
                Some(value),
            ),
            Some(_) => in_file.map_or((Source::Default, None), from_file),
            None => match (env, in_file) {
                (Some(v), _) => (
                    Source::Env {
                        var: s.env.to_string(),
                    },
                    Some(v),
                ),
                (None, Some(f)) => from_file(f),
                (None, None) => (Source::Default, None),
            },
        };
        values.insert(s.key, entry);
    }
    Loaded {
        file: file.file,
        searched: file.searched,
        values,
    }
}

/// How the flag that reads `env` got its value in the subcommand that ran (deepest first):
/// the source, the flag's name and the value as given.
fn matched(
    cmd: &clap::Command,
    m: &clap::ArgMatches,
    env: &str,
) -> Option<(clap::parser::ValueSource, String, String)> {
    if let Some((name, sub)) = m.subcommand() {
        if let Some(found) = cmd
            .find_subcommand(name)
            .and_then(|sc| matched(sc, sub, env))
        {
            return Some(found);
        }
    }
    let arg = cmd
        .get_arguments()
        .find(|a| a.get_env().and_then(|e| e.to_str()) == Some(env))?;
    let id = arg.get_id().as_str();
    let source = m.value_source(id)?;
    let value = m
        .get_raw(id)
        .map(|vs| {
            vs.map(|v| v.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    let flag = arg
        .get_long()
        .map(|l| format!("--{l}"))
        .unwrap_or_else(|| id.to_string());
    Some((source, flag, value))
}

/// `--config FILE` or `--config=FILE` on the command line.
fn config_flag(args: &[OsString]) -> Option<PathBuf> {
    let mut it = args.iter().skip(1);
    while let Some(arg) = it.next() {
        let arg = arg.to_string_lossy();
        if arg == "--" {
            break;
        }
        if arg == "--config" {
            return it.next().map(PathBuf::from);
        }
        if let Some(path) = arg.strip_prefix("--config=") {
            return Some(PathBuf::from(path));
        }
    }
    None
}

/// `$XDG_CONFIG_HOME/cigna-setup/cigna-setup.toml` (or `~/.config/…`). Never the working
/// directory's: a cloned or downloaded folder must not choose the browser or the mailbox; a
/// file there is read only when `--config`/`CIGNA_CONFIG` names it.
fn default_paths() -> Vec<PathBuf> {
    let mut paths = Vec::new();
    let config_home = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")));
    if let Some(dir) = config_home {
        paths.push(dir.join("cigna-setup").join(FILE_NAME));
    }
    paths
}

/// A settings file chooses the browser that runs and the mailbox that is read: it is used only
/// when this user (or root) owns it and neither group nor others may write it.
fn check_trusted(path: &Path) -> Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let meta = std::fs::metadata(path).map_err(|e| {
        bad_input(format!(
            "cannot read the settings file {}: {e}",
            path.display()
        ))
    })?;
    let me = crate::owner::own_uid().unwrap_or(0);
    if meta.uid() != me && meta.uid() != 0 {
        return Err(bad_input(format!(
            "the settings file {} belongs to another user (uid {}): it would choose the browser \
             and the mailbox; use a settings file of your own",
            path.display(),
            meta.uid()
        )));
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o022 != 0 {
        return Err(bad_input(format!(
            "the settings file {} may be written by others (mode {mode:o}): whoever can write it \
             chooses the browser and the mailbox; run `chmod go-w {}`",
            path.display(),
            path.display()
        )));
    }
    Ok(())
}

/// The line (1-based) of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The line of `key = …` inside the `[profile]` table.
fn profile_key_line(text: &str, key: &str) -> Option<usize> {
    let mut in_profile = false;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.starts_with('[') {
            in_profile = line.trim_start_matches('[').trim_end_matches(']').trim() == "profile";
            continue;
        }
        let named = line
            .split_once('=')
            .map(|(k, _)| k.trim().trim_matches('"'))
            .is_some_and(|k| k == key);
        if in_profile && named {
            return Some(i + 1);
        }
    }
    None
}

/// Every setting in the file as the text its environment variable takes, with its line.
/// Unknown keys, secrets, wrong types and bad values are errors naming the file, line and key.
pub(crate) fn parse(text: &str, path: &Path) -> Result<BTreeMap<&'static str, (String, usize)>> {
    let table: BTreeMap<Spanned<String>, toml::Value> = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| line_of(text, s.start)).unwrap_or(1);
        bad_input(format!(
            "{} line {line} is not valid TOML: {}",
            path.display(),
            e.message().trim_end()
        ))
    })?;
    let mut entries = Vec::new();
    for (key, value) in table {
        let line = line_of(text, key.span().start);
        let key = key.into_inner();
        if key == "profile" {
            let toml::Value::Table(profile) = value else {
                return Err(bad_input(format!(
                    "{} line {line}: `profile` must be a table ([profile])",
                    path.display()
                )));
            };
            for (pkey, pvalue) in profile {
                // Nested values carry no position: the key's line is found in the table.
                let pline = profile_key_line(text, &pkey).unwrap_or(line);
                entries.push((format!("profile.{pkey}"), pvalue, pline));
            }
        } else {
            entries.push((key, value, line));
        }
    }
    let mut out = BTreeMap::new();
    for (key, value, line) in entries {
        let at = format!("{} line {line}", path.display());
        let (name, value) = setting_value(&key, value, &at)?;
        out.insert(name, (value, line));
    }
    Ok(out)
}

/// One key's value, checked, as its environment variable takes it.
fn setting_value(key: &str, value: toml::Value, at: &str) -> Result<(&'static str, String)> {
    let a_token =
        key.contains("token") && !["imap-token-file", "imap-token-command"].contains(&key);
    if key.contains("password") || key.contains("secret") || a_token {
        return Err(bad_input(format!(
            "{at}: `{key}`: secrets are never kept in the settings file; set \
             CIGNA_OFFICE_PASSWORD / CIGNA_IMAP_PASSWORD / CIGNA_IMAP_TOKEN in the environment, \
             or pass --office-password-file / --imap-password-file / --imap-token-file FILE \
             (mode 0600)"
        )));
    }
    let Some(setting) = SETTINGS.iter().find(|s| s.key == key) else {
        let known: Vec<&str> = SETTINGS.iter().map(|s| s.key).collect();
        return Err(bad_input(format!(
            "{at}: unknown setting `{key}`; the settings are {} (profile.* in a [profile] table)",
            known.join(", ")
        )));
    };
    let wrong = |want: &str| {
        bad_input(format!(
            "{at}: `{key}` must be {want}, not {}",
            value.type_str()
        ))
    };
    let text = match (setting.kind, &value) {
        (Kind::Count, toml::Value::Integer(n)) if *n >= 0 => n.to_string(),
        (Kind::Count, _) => return Err(wrong("a whole number, 0 or more")),
        (Kind::Folders | Kind::Entitlements, toml::Value::Array(items)) => {
            let mut list = Vec::new();
            for item in items {
                match item.as_str() {
                    Some(s) if !s.contains(',') && !s.trim().is_empty() => {
                        list.push(s.trim().to_string())
                    }
                    _ => return Err(wrong("a list of names without commas")),
                }
            }
            list.join(",")
        }
        (Kind::Folders | Kind::Entitlements, _) => return Err(wrong("a list of strings")),
        (Kind::Command, toml::Value::Array(items)) => {
            let words: Option<Vec<String>> = items
                .iter()
                .map(|i| i.as_str().map(str::to_string))
                .collect();
            match words {
                Some(words) if words.first().is_some_and(|p| !p.trim().is_empty()) => {
                    serde_json::to_string(&words)?
                }
                _ => {
                    return Err(wrong(
                        "a program, or a list of strings: the program, then its arguments",
                    ))
                }
            }
        }
        (_, toml::Value::String(s)) => s.trim().to_string(),
        _ => return Err(wrong("a string")),
    };
    check(setting, &text).map_err(|e| bad_input(format!("{at}: `{key}`: {e:#}")))?;
    Ok((setting.key, text))
}

/// The same checks the flags' values get.
fn check(setting: &Setting, text: &str) -> Result<()> {
    use crate::settings;
    match setting.kind {
        Kind::Text | Kind::Path | Kind::Folders | Kind::Count => {
            if text.is_empty() {
                return Err(bad_input("it is empty"));
            }
        }
        Kind::Url => {
            settings::portal_url(text)?;
        }
        Kind::MailboxUrl => {
            text.parse::<crate::mail::MailboxUrl>()?;
        }
        Kind::Duration if setting.key == "poll-every" => {
            settings::parse_poll_every(text)?;
        }
        Kind::Duration => {
            settings::parse_duration(text, setting.flag)?;
        }
        Kind::Auth => {
            if crate::mail::ImapAuth::named(text).is_none() {
                return Err(bad_input(format!(
                    "{} is not a login method: use \"login\", \"plain\", \"xoauth2\" or \
                     \"oauthbearer\"",
                    crate::error::shown(text)
                )));
            }
        }
        Kind::Command => {
            let words = command_words(text);
            if words.first().is_none_or(|p| p.trim().is_empty()) {
                return Err(bad_input("it names no program"));
            }
            if words.iter().any(|w| w.contains('\0')) {
                return Err(bad_input("a program or argument holds a NUL character"));
            }
        }
        Kind::Entitlements => {
            let list: Vec<String> = text.split(',').map(str::to_string).collect();
            crate::flow::builtin("existing")?.choose_entitlements(&list)?;
        }
        Kind::DateOfBirth => {
            settings::parse_date_of_birth(text)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> (String, PathBuf) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/config")
            .join(name);
        (std::fs::read_to_string(&path).unwrap(), path)
    }

    fn error(name: &str) -> String {
        let (text, path) = fixture(name);
        let err = parse(&text, &path).expect_err(name);
        assert_eq!(crate::error::exit_code(&err), 2, "{err:#}");
        format!("{err:#}")
    }

    #[test]
    fn a_full_file_gives_every_setting_as_its_variable_takes_it() {
        let (text, path) = fixture("full.toml");
        let values = parse(&text, &path).unwrap();
        assert_eq!(values.len(), SETTINGS.len(), "{values:?}");
        assert_eq!(
            values["portal-url"],
            ("https://portal.example.test/".to_string(), 3)
        );
        assert_eq!(values["retries"].0, "4");
        assert_eq!(values["imap-mailboxes"].0, "INBOX,Cigna");
        assert_eq!(
            values["entitlements"].0,
            "Claim Status,Patient Eligibility & Benefits"
        );
        assert_eq!(values["profile.date-of-birth"].0, "02/29/1984");
        assert_eq!(
            command_words(&values["imap-token-command"].0),
            [
                "/usr/local/bin/m365-token",
                "--tenant",
                "zuub.onmicrosoft.com"
            ]
        );
        assert_eq!(
            command_words("/usr/local/bin/get-token"),
            ["/usr/local/bin/get-token"]
        );
        let first_name_line = text
            .lines()
            .position(|l| l.starts_with("first-name"))
            .unwrap()
            + 1;
        assert_eq!(values["profile.first-name"].1, first_name_line);
    }

    #[test]
    fn mistakes_name_the_file_line_and_key() {
        let msg = error("unknown-key.toml");
        assert!(
            msg.contains("unknown-key.toml line 4: unknown setting `portal_url`"),
            "{msg}"
        );
        let at = Path::new("t.toml");
        for (text, says) in [
            ("imap-token = \"ya29.x\"", "secrets are never kept"),
            ("imap-token-command = []", "must be a program, or a list"),
            (
                "imap-token-command = [\"prog\", 3]",
                "must be a program, or a list",
            ),
            ("imap-auth = \"oauth\"", "xoauth2"),
        ] {
            let err = parse(text, at).expect_err(text);
            assert!(format!("{err:#}").contains(says), "{text}: {err:#}");
            assert!(!format!("{err:#}").contains("ya29.x"), "{err:#}");
        }
        let msg = error("secret.toml");
        assert!(
            msg.contains("line 2: `office-password`: secrets are never kept"),
            "{msg}"
        );
        let msg = error("bad-values.toml");
        assert!(msg.contains("line 1: `code-timeout`"), "{msg}");
        let msg = error("wrong-type.toml");
        assert!(
            msg.contains("line 1: `retries` must be a whole number"),
            "{msg}"
        );
        let msg = error("not-toml.toml");
        assert!(msg.contains("line 2 is not valid TOML"), "{msg}");
        let msg = error("unknown-profile-key.toml");
        assert!(
            msg.contains("line 3: unknown setting `profile.nickname`"),
            "{msg}"
        );
    }

    #[test]
    fn the_config_flag_is_found_in_either_form() {
        let args = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(
            config_flag(&args(&["cigna-setup", "existing", "--config", "a.toml"])),
            Some(PathBuf::from("a.toml"))
        );
        assert_eq!(
            config_flag(&args(&["cigna-setup", "--config=b.toml", "runs"])),
            Some(PathBuf::from("b.toml"))
        );
        assert_eq!(
            config_flag(&args(&["cigna-setup", "runs", "--", "--config", "x"])),
            None
        );
    }

    #[test]
    fn each_value_knows_whether_a_flag_the_file_or_the_default_gave_it() {
        let path = PathBuf::from("/etc/cigna-setup.toml");
        let text = "code-timeout = \"9m\"\nimap-mailboxes = [\"INBOX\", \"Cigna\"]\n\
                    action-timeout = \"40s\"\n[profile]\nfirst-name = \"Front\"\n";
        let values = parse(text, &path).unwrap();
        let file = FileSettings {
            file: Some(path.clone()),
            searched: vec![path.clone()],
            values,
        };
        let defaults = file
            .values
            .iter()
            .filter_map(|(key, (value, _))| Some((setting_of(key)?.env, value.clone())))
            .collect();
        let argv: Vec<OsString> = [
            "cigna-setup",
            "existing",
            "--tin",
            "123456789",
            "--email",
            "a@b.example",
            "--phone",
            "5555550100",
            "--action-timeout",
            "12s",
        ]
        .map(OsString::from)
        .to_vec();
        let (cli, matches) = crate::cli::parse_with(&argv, &defaults).unwrap();
        let crate::cli::Command::Existing(existing) = cli.command else {
            panic!("not existing");
        };
        // The file's values reach the typed arguments without the environment.
        assert_eq!(existing.login.timing.code_timeout, "9m");
        assert_eq!(existing.login.timing.action_timeout, "12s");
        assert_eq!(existing.mailbox.imap_mailboxes, ["INBOX", "Cigna"]);
        assert_eq!(existing.login.profile.first_name.as_deref(), Some("Front"));
        assert!(std::env::var_os("CIGNA_CODE_TIMEOUT").is_none());

        let loaded = provenance(
            file,
            &<crate::cli::Cli as clap::CommandFactory>::command(),
            &matches,
        );
        let source = |key: &str| loaded.values[key].clone();
        assert_eq!(
            source("action-timeout"),
            (
                Source::Flag {
                    flag: "--action-timeout".into()
                },
                Some("12s".into())
            )
        );
        assert_eq!(
            source("code-timeout"),
            (
                Source::File {
                    path: path.clone(),
                    line: 1
                },
                Some("9m".into())
            )
        );
        assert_eq!(
            source("profile.first-name"),
            (Source::File { path, line: 5 }, Some("Front".into()))
        );
        assert_eq!(source("retries"), (Source::Default, None));
    }
}

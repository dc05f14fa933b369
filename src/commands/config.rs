//! `cigna-setup config show`: every setting's effective value and where it came from, secrets
//! masked.

use anyhow::Result;
use serde_json::json;

use crate::cli::ConfigShowArgs;
use crate::config::{self, Setting, Source};
use crate::settings::{self, Profile};

/// A setting's value when nothing sets it: the flag's own default (read from the command-line
/// definition), else what the code falls back to, else what being unset means.
fn default_of(setting: &Setting) -> String {
    if let Some(value) = flag_default(
        &<crate::cli::Cli as clap::CommandFactory>::command(),
        setting.env,
    ) {
        return value;
    }
    let profile = Profile::default();
    match setting.key {
        "runs-dir" => settings::default_runs_dir().display().to_string(),
        "entitlements" => crate::flow::builtin("existing")
            .map(|f| f.default_entitlements.join(", "))
            .unwrap_or_default(),
        "profile.first-name" => profile.first_name,
        "profile.last-name" => profile.last_name,
        "profile.job-role" => profile.job_role_option,
        "profile.address" => profile.address,
        "profile.date-of-birth" => profile.date_of_birth,
        _ => setting.unset.to_string(),
    }
}

/// The commands that stand in for the portal and its mailbox: their defaults (the fixture's own
/// office user) are not the tool's.
const STAND_INS: &[&str] = &["fixture-portal", "demo"];

/// The default of the first flag, in any of the tool's own subcommands, that reads this
/// environment variable.
fn flag_default(command: &clap::Command, env: &str) -> Option<String> {
    for arg in command.get_arguments() {
        let defaults = arg.get_default_values();
        if arg.get_env().is_some_and(|e| e == env) && !defaults.is_empty() {
            let values: Vec<_> = defaults.iter().map(|d| d.to_string_lossy()).collect();
            return Some(values.join(", "));
        }
    }
    command
        .get_subcommands()
        .filter(|sub| !STAND_INS.contains(&sub.get_name()))
        .find_map(|sub| flag_default(sub, env))
}

/// A value as shown: a password someone put into a URL (`imaps://user:PASS@host`, refused when
/// used) is masked, since this output gets pasted into support tickets.
fn masked(value: &str) -> String {
    let Some((scheme, rest)) = value.split_once("://") else {
        return value.to_string();
    };
    match rest.rsplit_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:********@{host}")
        }
        _ => value.to_string(),
    }
}

pub fn show(args: ConfigShowArgs) -> Result<()> {
    let loaded = config::loaded();
    let rows: Vec<(&str, String, Source)> = config::SETTINGS
        .iter()
        .map(|s| {
            let (source, value) = loaded
                .values
                .get(s.key)
                .cloned()
                .unwrap_or((Source::Default, None));
            let value = value.map_or_else(|| default_of(s), |v| masked(&v));
            (s.key, value, source)
        })
        .collect();
    let secrets: Vec<(&str, &str, bool)> = config::SECRETS
        .iter()
        .map(|(env, file_flag)| {
            let set = std::env::var_os(env).is_some_and(|v| !v.is_empty());
            (*env, *file_flag, set)
        })
        .collect();

    if args.json {
        let settings: Vec<_> = rows
            .iter()
            .map(|(key, value, source)| json!({"key": key, "value": value, "source": source}))
            .collect();
        let secrets: Vec<_> = secrets
            .iter()
            .map(|(env, _, set)| json!({"env": env, "set": set, "value": if *set { Some("********") } else { None }}))
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "file": loaded.file, "searched": loaded.searched,
                "settings": settings, "secrets": secrets,
            }))?
        );
        return Ok(());
    }
    match &loaded.file {
        Some(file) => println!("settings file: {}", file.display()),
        None => println!(
            "settings file: none (looked for {})",
            loaded
                .searched
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
    for (key, value, source) in &rows {
        let from = match source {
            Source::Flag { flag } => format!("flag {flag}"),
            Source::Env { var } => format!("environment {var}"),
            Source::File { path, line } => format!("{} line {line}", path.display()),
            Source::Default => "default".to_string(),
        };
        println!("  {key:<22} {value:<48} ({from})");
    }
    println!("secrets (never in the settings file):");
    for (env, file_flag, set) in &secrets {
        let how = if *set {
            "******** (environment)".to_string()
        } else if file_flag.is_empty() {
            "not set".to_string()
        } else {
            format!("not set: use {file_flag} FILE or answer the prompt on a terminal")
        };
        println!("  {env:<22} {how}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_password_in_a_url_is_masked() {
        assert_eq!(
            super::masked("imaps://codes:hunter2@imap.zuub.test/INBOX"),
            "imaps://codes:********@imap.zuub.test/INBOX"
        );
        assert_eq!(
            super::masked("imaps://codes@zuub.com@imap.zuub.test/INBOX"),
            "imaps://codes@zuub.com@imap.zuub.test/INBOX"
        );
        assert_eq!(super::masked("5m"), "5m");
    }

    #[test]
    fn every_setting_has_a_default_to_show() {
        for setting in crate::config::SETTINGS {
            let shown = super::default_of(setting);
            assert!(!shown.is_empty(), "{} shows no default", setting.key);
        }
        let default = |key: &str| {
            super::default_of(
                crate::config::SETTINGS
                    .iter()
                    .find(|s| s.key == key)
                    .unwrap(),
            )
        };
        assert_eq!(default("code-timeout"), "5m");
        // The tool has no office user of its own: the fixture portal's is not its default.
        assert_eq!(default("office-user"), "(none)");
        assert_eq!(default("imap-url"), "(none)");
    }
}

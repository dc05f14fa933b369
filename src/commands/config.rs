//! `cigna-setup config show`: every setting's effective value and where it came from, secrets
//! masked.

use anyhow::Result;
use serde_json::json;

use crate::cli::ConfigShowArgs;
use crate::config::{self, Source};

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
            (
                s.key,
                value.unwrap_or_else(|| s.default.to_string()),
                source,
            )
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

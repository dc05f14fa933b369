//! `cigna-setup steps`: a flow's steps, for support engineers.

use anyhow::Result;
use serde_json::json;

use crate::cli::StepsArgs;
use crate::flow;

pub fn command(args: StepsArgs) -> Result<()> {
    let flow = match &args.file {
        Some(path) => flow::from_file(path)?,
        None => flow::builtin(&args.flow)?,
    };
    if args.json {
        let steps: Vec<_> = flow
            .steps
            .iter()
            .map(|s| {
                json!({
                    "id": s.id, "title": s.title, "guide_step": s.guide,
                    "inputs": s.inputs(), "outputs": s.outputs(),
                    "actions": s.actions.iter().map(|a| a.describe()).collect::<Vec<_>>(),
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(
                &json!({"flow": flow.name, "title": flow.title, "steps": steps})
            )?
        );
        return Ok(());
    }
    println!(
        "{} — {} ({} steps)",
        flow.name,
        flow.title,
        flow.steps.len()
    );
    for (i, s) in flow.steps.iter().enumerate() {
        let guide = s
            .guide
            .as_deref()
            .map(|g| format!(" [guide {g}]"))
            .unwrap_or_default();
        println!("{:>2}. {:<26} {}{guide}", i + 1, s.id, s.title);
        let inputs = s.inputs();
        if !inputs.is_empty() {
            println!("      needs: {}", inputs.join(", "));
        }
        let outputs = s.outputs();
        if !outputs.is_empty() {
            println!("      makes: {}", outputs.join(", "));
        }
    }
    Ok(())
}

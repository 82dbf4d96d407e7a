//! `trueup notice`: one finding written up with a playbook template.

use std::path::PathBuf;

use anyhow::bail;
use clap::{Args, ValueEnum};

use super::{emit, print_diagnostics, Common};
use crate::engine::{evaluate, EvalOptions};
use crate::ledger::query::{all_cases, timeline};
use crate::ledger::record::open_since;
use crate::ledger::{Access, Ledger};
use crate::notice::{self, markup};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Markdown, as the template writes it
    Markdown,
    /// One self-contained HTML page
    Html,
    /// Plain text
    Text,
}

#[derive(Args, Debug)]
pub struct NoticeArgs {
    /// The finding to write about, by id (`rule:kind:id`)
    #[arg(value_name = "FINDING_ID")]
    pub finding: String,
    /// The snapshot the finding is in
    #[arg(value_name = "SNAPSHOT")]
    pub snapshot: PathBuf,
    /// The template to render: `NAME.j2` in the playbook's `templates/`
    #[arg(short, long, value_name = "NAME", default_value = notice::DEFAULT)]
    pub template: String,
    #[command(flatten)]
    pub common: Common,
    /// Output format
    #[arg(short, long, value_enum, default_value = "markdown")]
    pub format: Format,
    /// Add the finding's case from this ledger: its history, owner and steps (default: $TRUEUP_LEDGER)
    #[arg(long, value_name = "FILE")]
    pub ledger: Option<PathBuf>,
}

pub fn run(args: NoticeArgs) -> anyhow::Result<u8> {
    let (playbook, waivers) = match args.common.playbook_and_waivers() {
        Ok(x) => x,
        Err(d) => {
            print_diagnostics(&d.0);
            return Ok(2);
        }
    };
    let names = playbook.templates.names();
    if !names.contains(&args.template.as_str()) {
        let folder = args.common.policies.join(notice::DIR);
        if names.is_empty() {
            bail!(
                "no template `{}`: `{}` has no `*.{}` file",
                args.template,
                folder.display(),
                notice::EXT
            );
        }
        bail!(
            "no template `{}` in `{}`; its templates are: {}",
            args.template,
            folder.display(),
            names.join(", ")
        );
    }
    let Some(snap) = super::load_one(&args.snapshot) else {
        return Ok(2);
    };
    // With a ledger, routes are dated from each case's opening, as `check
    // --ledger` dates them.
    let mut ledger = match super::check::ledger_path(args.ledger.as_deref()) {
        Some(path) => Some(Ledger::open(&path, Access::Read)?),
        None => None,
    };
    let ledger_path = ledger.as_ref().map(|l| l.path.clone());
    let tx = match ledger.as_mut() {
        Some(l) => Some(l.read()?),
        None => None,
    };
    let opened = match (&tx, &ledger_path) {
        (Some(tx), Some(path)) => Some(open_since(path, tx, snap.meta.estate())?),
        _ => None,
    };
    let estate = snap.meta.estate().to_string();
    let opts = EvalOptions {
        as_of: args.common.as_of,
        waivers: waivers.as_ref(),
        opened: opened.as_ref(),
    };
    let eval = match evaluate(&playbook, snap, opts) {
        Ok(e) => e,
        Err(d) => {
            print_diagnostics(&d.0);
            return Ok(2);
        }
    };
    let Some(f) = eval.findings.iter().find(|f| f.id == args.finding) else {
        bail!(
            "{}",
            crate::explain::no_such_finding(&args.finding, &args.snapshot, &eval.findings)
        );
    };
    let waivers_file = waivers.as_ref().map(|w| w.file.as_path());
    let mut context = notice::context(&playbook, &eval, f, waivers_file);
    if let (Some(tx), Some(path)) = (&tx, &ledger_path) {
        let on = |e| crate::ledger::wrap(path, 0, "cannot read the case", e);
        let case = all_cases(tx)
            .map_err(on)?
            .into_iter()
            .find(|c| c.estate == estate && c.finding_id == f.id);
        let Some(case) = case else {
            bail!(
                "ledger `{}` has no case for finding `{}` in estate `{estate}`; `trueup check --ledger` records it",
                path.display(),
                f.id
            );
        };
        let (_, events) = timeline(tx, case.id).map_err(on)?;
        context["case"] = notice::case_context(&case, &events, eval.as_of);
    }
    drop(tx);
    let markdown = match playbook.templates.render(&args.template, &context) {
        Ok(m) => m,
        Err(d) => {
            print_diagnostics(&[d]);
            return Ok(2);
        }
    };
    let text = match args.format {
        Format::Markdown => markdown,
        Format::Html => markup::to_html(&markdown, &format!("{}: {}", args.template, f.id)),
        Format::Text => markup::to_text(&markdown),
    };
    // Template text may hold control characters too: none reaches the terminal.
    emit(
        args.common.output.as_deref(),
        &crate::report::escape::text(&text),
    )?;
    Ok(0)
}

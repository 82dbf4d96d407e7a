//! `trueup notice`: one finding written up with a playbook template.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::bail;
use clap::{Args, ValueEnum};

use super::{emit, print_diagnostics, Common};
use crate::engine::{evaluate, EvalOptions};
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
    let snap = match crate::inventory::load(&args.snapshot) {
        Ok(s) => Arc::new(s),
        Err(d) => {
            print_diagnostics(&d.0);
            return Ok(2);
        }
    };
    let opts = EvalOptions {
        as_of: args.common.as_of,
        waivers: waivers.as_ref(),
        opened: None,
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
    let context = notice::context(&playbook, &eval, f, waivers_file);
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

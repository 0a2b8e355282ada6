//! `tracer --generate WHAT` (hidden): a man page per command and shell completions, rendered
//! from the clap definitions so they never drift from the real options; `cargo xtask install`
//! and packagers run it and install what it prints (as ripgrep's `--generate` does).
use std::io::{self, Write};

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("--generate {given:?}: expected one of {choices}")]
    Unknown { given: String, choices: String },
    #[error("cannot write")]
    Write(#[from] io::Error),
}

const COMPLETIONS: [(&str, Shell, &str); 3] = [
    ("complete-bash", Shell::Bash, "tracer"),
    ("complete-zsh", Shell::Zsh, "_tracer"),
    ("complete-fish", Shell::Fish, "tracer.fish"),
];

/// tracer's command line, built (subcommands then carry their display names, `tracer-run`).
fn command() -> clap::Command {
    let mut command = Cli::command().disable_help_subcommand(true);
    command.build();
    command
}

/// What `--generate` prints, each with the file name it is installed under: `man` (tracer.1),
/// `man-<command>` (tracer-<command>.1) for each command, `complete-<shell>`.
pub fn artefacts() -> Vec<(String, String)> {
    let command = command();
    let mut artefacts = vec![("man".to_owned(), format!("{}.1", command.get_name()))];
    for sub in command.get_subcommands().filter(|sub| !sub.is_hide_set()) {
        let page = sub.get_display_name().unwrap_or(sub.get_name());
        artefacts.push((format!("man-{}", sub.get_name()), format!("{page}.1")));
    }
    artefacts.extend(COMPLETIONS.iter().map(|(what, _, file)| ((*what).to_owned(), (*file).to_owned())));
    artefacts
}

/// Writes artefact `what` to `out`; `list` writes `WHAT FILE` lines for every artefact.
pub fn generate(what: &str, out: &mut dyn Write) -> Result<(), GenerateError> {
    let mut command = command();
    if what == "list" {
        for (what, file) in artefacts() {
            writeln!(out, "{what} {file}")?;
        }
        return Ok(());
    }
    if let Some((_, shell, _)) = COMPLETIONS.iter().find(|(name, _, _)| *name == what) {
        clap_complete::generate(*shell, &mut command, "tracer", out);
        return Ok(());
    }
    let page = match what.strip_prefix("man") {
        Some("") => Some(command),
        Some(sub) => {
            sub.strip_prefix('-').and_then(|sub| command.find_subcommand(sub)).filter(|sub| !sub.is_hide_set()).cloned()
        }
        None => None,
    };
    let Some(page) = page else {
        let choices: Vec<String> =
            std::iter::once("list".to_owned()).chain(artefacts().into_iter().map(|(what, _)| what)).collect();
        return Err(GenerateError::Unknown { given: what.to_owned(), choices: choices.join(", ") });
    };
    let source = format!("tracer {}", env!("CARGO_PKG_VERSION"));
    clap_mangen::Man::new(page).source(source).manual("tracer manual").render(out)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(what: &str) -> String {
        let mut out = Vec::new();
        generate(what, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn lists_a_page_per_command_and_three_shells() {
        assert_eq!(
            text("list"),
            "man tracer.1\nman-run tracer-run.1\nman-replay tracer-replay.1\nman-tree tracer-tree.1\n\
             man-export tracer-export.1\nman-top tracer-top.1\nman-probes tracer-probes.1\ncomplete-bash tracer\ncomplete-zsh _tracer\ncomplete-fish tracer.fish\n"
        );
    }

    #[test]
    fn pages_name_their_command_and_document_its_options() {
        let main = text("man");
        assert!(main.starts_with(".ie \\n(.g .ds Aq"), "{}", &main[..80]);
        assert!(main.contains(".TH tracer 1"), "{main}");
        assert!(main.contains("\\-\\-json\\-output") && main.contains("\\-\\-rotate\\-size"), "{main}");
        assert!(!main.contains("generate"), "the packaging option stays hidden");
        let run = text("man-run");
        let version = env!("CARGO_PKG_VERSION");
        assert!(run.contains(&format!(".TH tracer-run 1  \"tracer {version}\" \"tracer manual\"")), "{run}");
        assert!(run.contains("COMMAND"), "{run}");
        assert!(text("man-replay").contains(".TH tracer-replay 1"));
    }

    #[test]
    fn completions_know_the_subcommands_and_flags() {
        for what in ["complete-bash", "complete-zsh", "complete-fish"] {
            let script = text(what);
            assert!(script.contains("replay") && script.contains("rotate-keep"), "{what}: {script}");
        }
    }

    #[test]
    fn unknown_artefacts_are_named() {
        let error = generate("man-bogus", &mut Vec::new()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "--generate \"man-bogus\": expected one of list, man, man-run, man-replay, man-tree, man-export, man-top, man-probes, complete-bash, \
             complete-zsh, complete-fish"
        );
    }
}

//! `tracer [OPTIONS]`, the default command: the live stream of events on stdout.
use anyhow::{Context, Result};

use crate::{
    commands::live::{EXIT_LOST, announce, prepare, print_tree, summarize},
    config::TraceConfig,
    session,
};

/// `tracer [OPTIONS]`: streams events to stdout until stopped. Returns the process exit status.
pub async fn trace(config: TraceConfig) -> Result<u8> {
    let stdout = std::io::stdout().lock();
    let stdout = std::os::fd::AsFd::as_fd(&stdout).try_clone_to_owned().context("cannot use stdout")?;
    let mut prepared = prepare(&config, false, false, Box::new(std::fs::File::from(stdout)))?;
    announce(&prepared, &config, "Ctrl-C to stop.");
    let model = prepared.model.take();
    let emitted = std::mem::take(&mut prepared.emitted);
    // SIGHUP reopens the recording and the JSON file, for logrotate.
    let pipeline = prepared.pipeline.reopening_on_hangup();
    let ended = session::stream(prepared.loaded, pipeline, config.duration, std::future::pending()).await?;
    print_tree(model, emitted, &config, &ended)?;
    Ok(if summarize(&ended, config.output.as_deref()) { EXIT_LOST } else { 0 })
}

//! `tracer probes`: attaches every hook the running kernel allows and prints the probe plan:
//! which hook serves each event kind, and why each one tried before it was refused.
use std::{
    collections::{BTreeSet, HashMap},
    io::Write,
};

use anyhow::Result;

use crate::{
    event::{Kind, Source},
    filter::Filters,
    loader::{self, LoadError, LoadOptions},
};

/// `tracer probes`: attach every hook and print the plan.
pub fn probes(hooks: HashMap<Kind, Source>) -> Result<u8> {
    let kinds: BTreeSet<Kind> = Kind::selectable().collect();
    // As if every kind were asked for by name: the plan shows costly hooks too, and says so.
    let filters = Filters { kinds: kinds.clone(), kinds_by_name: true, ..Filters::default() };
    let options = LoadOptions {
        attach: &kinds,
        emit: &BTreeSet::new(),
        filters: &filters,
        follow_only: false,
        hooks: &hooks,
        buffer_mib: 1,
        arg_bytes: 1,
        env_bytes: 0,
        ancestors: 0,
    };
    let (plan, unserved) = match loader::load(&options) {
        Ok(loaded) => (loaded.plan, None),
        Err(LoadError::Unserved { kinds, reasons, plan }) => {
            let error = LoadError::Unserved { kinds, reasons, plan: plan.clone() };
            (plan, Some(error))
        }
        Err(error) => return Err(error.into()),
    };
    let mut out = std::io::stdout().lock();
    write!(out, "{plan}")?;
    out.flush()?;
    match unserved {
        // The plan says it on stdout; the exit status and stderr must say it too.
        Some(error) => Err(error.into()),
        None => Ok(0),
    }
}

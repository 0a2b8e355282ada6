//! Validated settings of a tracing session, built from the command line before anything is
//! loaded: bad values fail here with a message naming the flag.
use std::{
    collections::{BTreeSet, HashMap},
    path::PathBuf,
    time::Duration,
};

use tracer_common::ARG_BYTES_MAX;

use crate::{
    cli::{HookArgs, JsonFileArgs, TraceArgs},
    event::{Kind, Source},
    files::rotate::RotatePolicy,
    filter::{FilterError, Filters},
    probes,
};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error(transparent)]
    Filter(#[from] FilterError),
    #[error("--duration {0}: expected a positive number of seconds")]
    Duration(f64),
    #[error("--speed {0}: expected a positive number, e.g. 0.5 or 4")]
    Speed(f64),
    #[error("--hook {0:?}: expected EVENT=HOOK, e.g. lookup=kprobe")]
    HookSyntax(String),
    #[error("--hook {given:?}: {kind} can be served by {choices}")]
    HookChoice { given: String, kind: &'static str, choices: String },
    #[error("--rotate-size {0:?}: expected a size of at least 1 byte, e.g. 100M or 512KiB")]
    RotateSize(String),
    #[error("--rotate-age {0:?}: expected a duration of at least 1 second, e.g. 1d, 12h, 30m or 90s")]
    RotateAge(String),
    #[error("--json-output {}: the same file as --output", .0.display())]
    SameFile(PathBuf),
    #[error("--arg-bytes {0}: expected 1 to {max} bytes", max = ARG_BYTES_MAX)]
    ArgBytes(u32),
    #[error("--env-filter {0:?}: expected an environment variable name (no '=' or NUL)")]
    EnvName(String),
    #[error(
        "--hook {kind}={hook}: {kind} events are not traced (--events {selected}); add {kind} to --events or drop the --hook"
    )]
    HookUnused { kind: &'static str, hook: &'static str, selected: String },
}

/// Which environment variables exec events carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnvSelection {
    None,
    All,
    Named(BTreeSet<String>),
}

#[derive(Debug)]
pub struct TraceConfig {
    pub filters: Filters,
    pub json: bool,
    pub output: Option<PathBuf>,
    pub force: bool,
    pub quiet: bool,
    /// Print the process tree at the end.
    pub tree: bool,
    pub duration: Option<Duration>,
    pub hooks: HashMap<Kind, Source>,
    pub buffer_mib: u32,
    pub arg_bytes: u32,
    pub env: EnvSelection,
    /// Ancestors a fork, exec or exit event names (`--ancestors`).
    pub ancestors: u32,
    /// `--json-output FILE`.
    pub json_output: Option<PathBuf>,
    /// How the JSON file and the recording rotate.
    pub rotate: RotatePolicy,
    /// Whether the recording rotates (a `--rotate-*` flag was given); otherwise it is created
    /// as `--force` says, and only reopened on SIGHUP.
    pub rotate_recording: bool,
}

impl TraceConfig {
    pub fn from_args(args: &TraceArgs) -> Result<Self, ConfigError> {
        let duration = match args.duration {
            Some(seconds) if seconds.is_finite() && seconds > 0.0 && seconds < 1e9 => {
                Some(Duration::from_secs_f64(seconds))
            }
            Some(seconds) => return Err(ConfigError::Duration(seconds)),
            None => None,
        };
        Ok(Self {
            filters: Filters::from_args(&args.filters)?,
            json: args.json,
            output: args.output.clone(),
            force: args.force,
            quiet: args.quiet,
            tree: args.tree,
            duration,
            hooks: parse_hooks(&args.hooks)?,
            buffer_mib: args.buffer_mib,
            arg_bytes: match args.arg_bytes {
                bytes @ 1..=ARG_BYTES_MAX_U32 => bytes,
                bytes => return Err(ConfigError::ArgBytes(bytes)),
            },
            env: env_selection(args)?,
            ancestors: args.ancestors,
            json_output: json_output(&args.json_file, args.output.as_ref())?,
            rotate: rotate_policy(&args.json_file)?,
            rotate_recording: args.json_file.rotates(),
        })
    }

    /// Kinds whose hooks must be attached, and kinds the kernel must emit. Beyond what the user
    /// asked to see: lookups need fork and exit events to know threads' groups; following (and
    /// so `tracer run`) needs the fork and exit hooks; namespace events of clones come from the
    /// fork hook.
    pub fn kernel_kinds(&self, running: bool) -> (BTreeSet<Kind>, BTreeSet<Kind>) {
        let lifecycle = [Kind::Fork, Kind::Exit];
        let mut emitted = self.filters.kinds.clone();
        if self.filters.kinds.contains(&Kind::Lookup) {
            emitted.extend(lifecycle);
        }
        let mut attached = emitted.clone();
        if self.filters.follow || running {
            attached.extend(lifecycle);
        }
        // The rename an exec makes is seen by the rename hook, which hands the old name on.
        if emitted.contains(&Kind::Exec) {
            attached.insert(Kind::Rename);
        }
        if self.filters.kinds.contains(&Kind::Namespace) {
            attached.insert(Kind::Fork);
        }
        (attached, emitted)
    }

    /// Bytes of environment the kernel side reads per exec (0: none).
    pub fn env_bytes(&self) -> u32 {
        if self.env == EnvSelection::None { 0 } else { self.arg_bytes }
    }
}

const ARG_BYTES_MAX_U32: u32 = ARG_BYTES_MAX as u32;

fn env_selection(args: &TraceArgs) -> Result<EnvSelection, ConfigError> {
    if let Some(bad) = args.env_filter.iter().find(|name| name.is_empty() || name.contains(['=', '\0'])) {
        return Err(ConfigError::EnvName(bad.clone()));
    }
    Ok(match (args.env, args.env_filter.is_empty()) {
        (_, false) => EnvSelection::Named(args.env_filter.iter().cloned().collect()),
        (true, true) => EnvSelection::All,
        (false, true) => EnvSelection::None,
    })
}

impl TraceConfig {
    /// A forced hook must serve a kind that is traced: one that would be silently ignored means
    /// the command line does not do what its author thinks.
    pub fn check_hooks(&self, attached: &BTreeSet<Kind>) -> Result<(), ConfigError> {
        let mut forced: Vec<(&Kind, &Source)> = self.hooks.iter().collect();
        forced.sort_by_key(|(kind, _)| **kind);
        match forced.into_iter().find(|(kind, _)| !attached.contains(kind)) {
            Some((kind, source)) => Err(ConfigError::HookUnused {
                kind: kind.name(),
                hook: source.name(),
                selected: self.filters.kinds.iter().map(|kind| kind.name()).collect::<Vec<_>>().join(","),
            }),
            None => Ok(()),
        }
    }
}

fn json_output(args: &JsonFileArgs, recording: Option<&PathBuf>) -> Result<Option<PathBuf>, ConfigError> {
    let Some(path) = &args.json_output else { return Ok(None) };
    if recording == Some(path) {
        // The JSON file would rotate the fresh recording away.
        return Err(ConfigError::SameFile(path.clone()));
    }
    Ok(Some(path.clone()))
}

fn rotate_policy(args: &JsonFileArgs) -> Result<RotatePolicy, ConfigError> {
    let max_size = match &args.rotate_size {
        Some(given) => Some(rotate_size(given).ok_or_else(|| ConfigError::RotateSize(given.clone()))?),
        None => None,
    };
    let max_age = match &args.rotate_age {
        Some(given) => Some(rotate_age(given).ok_or_else(|| ConfigError::RotateAge(given.clone()))?),
        None => None,
    };
    let keep = args.rotate_keep.unwrap_or(crate::files::rotate::DEFAULT_KEEP);
    Ok(RotatePolicy { max_size, max_age, keep })
}

/// `100M`, `512KiB`, `1.5G`, `4096`: K, M, G… are powers of 1024, as logrotate's.
fn rotate_size(given: &str) -> Option<u64> {
    parse_size::Config::new().with_binary().parse_size(given).ok().filter(|size| *size > 0)
}

/// `1d`, `12h`, `30m`, `90s`, `1h30m`, ISO 8601 `PT1H`: days are 24 hours; months and years,
/// whose length varies, are refused.
fn rotate_age(given: &str) -> Option<Duration> {
    let span: jiff::Span = given.trim().parse().ok()?;
    let duration = span.to_duration(jiff::SpanRelativeTo::days_are_24_hours()).ok()?;
    Duration::try_from(duration).ok().filter(|age| *age >= Duration::from_secs(1))
}

pub fn parse_hooks(args: &HookArgs) -> Result<HashMap<Kind, Source>, ConfigError> {
    let mut hooks = HashMap::new();
    for given in &args.hooks {
        let (kind, source) = given.split_once('=').ok_or_else(|| ConfigError::HookSyntax(given.clone()))?;
        let kind = Kind::from_name(kind.trim())
            .filter(|kind| *kind != Kind::Lost)
            .ok_or_else(|| ConfigError::HookSyntax(given.clone()))?;
        let allowed = probes::strategy_names(kind);
        let source = Source::from_name(source.trim()).filter(|source| allowed.contains(source)).ok_or_else(|| {
            ConfigError::HookChoice {
                given: given.clone(),
                kind: kind.name(),
                choices: allowed.iter().map(|source| source.name()).collect::<Vec<_>>().join(", "),
            }
        })?;
        hooks.insert(kind, source);
    }
    Ok(hooks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::FilterArgs;

    fn args() -> TraceArgs {
        TraceArgs { buffer_mib: 4, arg_bytes: 32 * 1024, ancestors: 16, ..TraceArgs::default() }
    }

    #[test]
    fn parses_and_rejects_hooks() {
        let hooks = HookArgs { hooks: vec!["lookup=kprobe".into(), "fork=raw_tracepoint".into()] };
        let parsed = parse_hooks(&hooks).unwrap();
        assert_eq!(parsed[&Kind::Lookup], Source::Kprobe);
        assert_eq!(parsed[&Kind::Fork], Source::RawTracepoint);
        let wrong = HookArgs { hooks: vec!["fork=kprobe".into()] };
        assert_eq!(
            parse_hooks(&wrong).unwrap_err().to_string(),
            "--hook \"fork=kprobe\": fork can be served by tp_btf, raw_tracepoint"
        );
        assert!(matches!(parse_hooks(&HookArgs { hooks: vec!["lookup".into()] }), Err(ConfigError::HookSyntax(_))));
    }

    #[test]
    fn a_forced_hook_must_serve_a_traced_kind() {
        let config = |events: &[&str], hooks: &[&str]| {
            TraceConfig::from_args(&TraceArgs {
                filters: FilterArgs { events: events.iter().map(|e| e.to_string()).collect(), ..FilterArgs::default() },
                hooks: HookArgs { hooks: hooks.iter().map(|h| h.to_string()).collect() },
                ..args()
            })
            .unwrap()
        };
        let unused = config(&["fork"], &["lookup=kprobe"]);
        let (attached, _) = unused.kernel_kinds(false);
        assert_eq!(
            unused.check_hooks(&attached).unwrap_err().to_string(),
            "--hook lookup=kprobe: lookup events are not traced (--events fork); add lookup to --events or drop the --hook"
        );
        // Lookups need fork events: a hook forced for them serves, though they are not shown.
        let needed = config(&["lookup"], &["fork=raw_tracepoint"]);
        assert_eq!(needed.check_hooks(&needed.kernel_kinds(false).0), Ok(()));
        // `tracer run` needs them too.
        let running = config(&["exec"], &["exit=raw_tracepoint"]);
        assert!(running.check_hooks(&running.kernel_kinds(false).0).is_err());
        assert_eq!(running.check_hooks(&running.kernel_kinds(true).0), Ok(()));
        let all = config(&[], &["lookup=syscall_entry", "exec=tp_btf"]);
        assert_eq!(all.check_hooks(&all.kernel_kinds(false).0), Ok(()));
    }

    #[test]
    fn rejects_bad_durations() {
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let config = TraceConfig::from_args(&TraceArgs { duration: Some(bad), ..args() });
            assert!(matches!(config, Err(ConfigError::Duration(_))), "{bad}");
        }
    }

    #[test]
    fn parses_and_rejects_rotation_values() {
        assert_eq!(rotate_size("100M"), Some(100 << 20));
        assert_eq!(rotate_size("512KiB"), Some(512 << 10));
        assert_eq!(rotate_size("4096"), Some(4096));
        assert_eq!(rotate_age("1d"), Some(Duration::from_secs(86_400)));
        assert_eq!(rotate_age("1h30m"), Some(Duration::from_secs(5_400)));
        assert_eq!(rotate_age("90s"), Some(Duration::from_secs(90)));
        assert_eq!(rotate_age("PT2H"), Some(Duration::from_secs(7_200)));
        let with = |json_file: JsonFileArgs| TraceConfig::from_args(&TraceArgs { json_file, ..args() });
        let file = || JsonFileArgs { json_output: Some("e.json".into()), ..JsonFileArgs::default() };
        let config = with(file()).unwrap();
        assert_eq!((config.rotate, config.rotate_recording), (RotatePolicy::default(), false));
        let keep = with(JsonFileArgs { rotate_keep: Some(3), ..file() }).unwrap();
        assert_eq!((keep.rotate.keep, keep.rotate_recording), (3, true));
        for bad in ["0", "-1M", "lots", "1X", ""] {
            let error = with(JsonFileArgs { rotate_size: Some(bad.into()), ..file() }).unwrap_err();
            assert_eq!(error, ConfigError::RotateSize(bad.into()), "{bad}");
        }
        for bad in ["0s", "500ms", "1 month", "1y", "soon", "-1h", ""] {
            let error = with(JsonFileArgs { rotate_age: Some(bad.into()), ..file() }).unwrap_err();
            assert_eq!(error, ConfigError::RotateAge(bad.into()), "{bad}");
        }
        let same = TraceConfig::from_args(&TraceArgs { output: Some("e.json".into()), json_file: file(), ..args() });
        assert_eq!(same.unwrap_err().to_string(), "--json-output e.json: the same file as --output");
        assert_eq!(
            ConfigError::RotateAge("soon".into()).to_string(),
            "--rotate-age \"soon\": expected a duration of at least 1 second, e.g. 1d, 12h, 30m or 90s"
        );
    }

    #[test]
    fn lookups_and_following_need_lifecycle_hooks() {
        let only_lookups =
            TraceArgs { filters: FilterArgs { events: vec!["lookup".into()], ..FilterArgs::default() }, ..args() };
        let config = TraceConfig::from_args(&only_lookups).unwrap();
        let (attached, emitted) = config.kernel_kinds(false);
        assert_eq!(emitted, BTreeSet::from([Kind::Fork, Kind::Exit, Kind::Lookup]));
        assert_eq!(attached, emitted);

        let follow_exec = TraceArgs {
            filters: FilterArgs {
                events: vec!["exec".into()],
                follow: true,
                comms: vec!["make".into()],
                ..FilterArgs::default()
            },
            ..args()
        };
        let (attached, emitted) = TraceConfig::from_args(&follow_exec).unwrap().kernel_kinds(false);
        assert_eq!(emitted, BTreeSet::from([Kind::Exec]));
        assert_eq!(attached, BTreeSet::from([Kind::Fork, Kind::Exec, Kind::Exit, Kind::Rename]));

        // `tracer run -e exec` follows its command's tree without emitting its forks and exits.
        let run_exec =
            TraceArgs { filters: FilterArgs { events: vec!["exec".into()], ..FilterArgs::default() }, ..args() };
        let (attached, emitted) = TraceConfig::from_args(&run_exec).unwrap().kernel_kinds(true);
        assert_eq!(emitted, BTreeSet::from([Kind::Exec]));
        assert_eq!(attached, BTreeSet::from([Kind::Fork, Kind::Exec, Kind::Exit, Kind::Rename]));
    }

    #[test]
    fn argument_bytes_and_environment_names_are_checked() {
        for bad in [0, 256 * 1024 + 1] {
            let config = TraceConfig::from_args(&TraceArgs { arg_bytes: bad, ..args() });
            assert_eq!(config.unwrap_err(), ConfigError::ArgBytes(bad));
        }
        let named = TraceConfig::from_args(&TraceArgs { env_filter: vec!["HOME".into()], ..args() }).unwrap();
        assert_eq!(named.env, EnvSelection::Named(["HOME".to_owned()].into()));
        assert_eq!(named.env_bytes(), 32 * 1024);
        assert_eq!(TraceConfig::from_args(&args()).unwrap().env_bytes(), 0);
        let bad = TraceConfig::from_args(&TraceArgs { env_filter: vec!["A=B".into()], ..args() });
        assert_eq!(bad.unwrap_err(), ConfigError::EnvName("A=B".into()));

        let namespaces =
            TraceArgs { filters: FilterArgs { events: vec!["namespace".into()], ..FilterArgs::default() }, ..args() };
        let (attached, emitted) = TraceConfig::from_args(&namespaces).unwrap().kernel_kinds(false);
        assert_eq!(emitted, BTreeSet::from([Kind::Namespace]), "clones' namespace events need no fork events");
        assert_eq!(attached, BTreeSet::from([Kind::Fork, Kind::Namespace]), "but they come from the fork hook");
    }
}

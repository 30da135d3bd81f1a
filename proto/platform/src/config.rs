//! Configuration by one rule, for every service:
//!
//! * every setting is a long flag, `--admin-addr`;
//! * its environment twin is `ASTRA_` and the flag in upper snake case, `ASTRA_ADMIN_ADDR`
//!   ([`env_name`]; [`rule_violations`] lets each service's tests hold it to that);
//! * an optional TOML file, `--config FILE` or `ASTRA_CONFIG`, takes the same keys as the
//!   flags (`admin-addr = "0.0.0.0:9103"`, lists as arrays, switches as booleans); an unknown
//!   key, a table or a value of the wrong kind is refused with its name.
//!
//! Precedence: command line, then environment, then the file, then the built-in default (the
//! file sets clap's defaults, so clap itself applies the order).

use clap::{ArgAction, Command, CommandFactory, FromArgMatches};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The flag that names the config file, and its environment twin.
pub const CONFIG_FLAG: &str = "config";
pub const CONFIG_ENV: &str = "ASTRA_CONFIG";

/// `ASTRA_` + the long flag in upper snake case.
pub fn env_name(long: &str) -> String {
    format!("ASTRA_{}", long.replace('-', "_").to_ascii_uppercase())
}

/// Parses the process's command line into `C`, with defaults from the config file; exits with
/// clap's message and code 2 on any error.
pub fn parse<C: CommandFactory + FromArgMatches>() -> C {
    match try_parse_from(std::env::args_os(), |name| std::env::var_os(name)) {
        Ok(c) => c,
        Err(e) => e.exit(),
    }
}

/// [`parse`] of the given arguments, reading the environment through `env` (tests).
pub fn try_parse_from<C, I, T>(
    args: I,
    env: impl Fn(&str) -> Option<OsString>,
) -> Result<C, clap::Error>
where
    C: CommandFactory + FromArgMatches,
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let mut command = with_config_flag(C::command());
    if let Some(path) = config_path(&args).or_else(|| env(CONFIG_ENV).map(PathBuf::from)) {
        let text = std::fs::read_to_string(&path).map_err(|e| {
            command.error(
                clap::error::ErrorKind::Io,
                format!("cannot read config file {}: {e}", path.display()),
            )
        })?;
        command = apply_file(command, &path, &text)?;
    }
    let matches = command.try_get_matches_from_mut(args)?;
    C::from_arg_matches(&matches).map_err(|e| e.format(&mut command))
}

/// [`try_parse_from`] where the config-file lookup sees only the given variables (tests; clap
/// itself still reads the process environment for the flags' twins).
pub fn try_parse_with_env<C>(args: &[&str], env: &[(&str, &str)]) -> Result<C, clap::Error>
where
    C: CommandFactory + FromArgMatches,
{
    try_parse_from(args.iter().copied(), |name| {
        env.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| OsString::from(v))
    })
}

/// Adds `--config` to the command and every subcommand (it is read before clap parses).
fn with_config_flag(command: Command) -> Command {
    command.arg(
        clap::Arg::new(CONFIG_FLAG)
            .long(CONFIG_FLAG)
            .env(CONFIG_ENV)
            .value_name("FILE")
            .global(true)
            .help_heading("Configuration")
            .help("TOML file with defaults for any flag (keys as the long flags)"),
    )
}

/// The value of `--config FILE` / `--config=FILE` on the command line, if any.
fn config_path(args: &[OsString]) -> Option<PathBuf> {
    let mut it = args.iter().skip(1);
    while let Some(arg) = it.next() {
        let arg = arg.to_str()?;
        if arg == "--" {
            return None;
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

/// Sets the defaults of `command` (and of its subcommands) from the TOML `text`.
fn apply_file(mut command: Command, path: &Path, text: &str) -> Result<Command, clap::Error> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        command.error(
            clap::error::ErrorKind::InvalidValue,
            format!("config file {}: {}", path.display(), e.message()),
        )
    })?;
    for (key, value) in &table {
        let values = match file_values(value) {
            Some(v) => v,
            None => {
                return Err(command.error(
                    clap::error::ErrorKind::InvalidValue,
                    format!(
                        "config file {}: `{key}` must be a string, number, boolean or list of them",
                        path.display()
                    ),
                ));
            }
        };
        let mut found = false;
        command = set_default(command, key, &values, &mut found);
        if !found || key == CONFIG_FLAG {
            return Err(command.error(
                clap::error::ErrorKind::UnknownArgument,
                format!(
                    "config file {}: unknown key `{key}` (keys are the long flags, e.g. admin-addr)",
                    path.display()
                ),
            ));
        }
    }
    Ok(command)
}

fn file_values(value: &toml::Value) -> Option<Vec<String>> {
    match value {
        toml::Value::String(s) => Some(vec![s.clone()]),
        toml::Value::Integer(i) => Some(vec![i.to_string()]),
        toml::Value::Float(f) => Some(vec![f.to_string()]),
        toml::Value::Boolean(b) => Some(vec![b.to_string()]),
        toml::Value::Array(items) => items
            .iter()
            .map(|v| match v {
                toml::Value::Array(_) | toml::Value::Table(_) => None,
                v => file_values(v).and_then(|mut x| x.pop()),
            })
            .collect(),
        toml::Value::Datetime(d) => Some(vec![d.to_string()]),
        toml::Value::Table(_) => None,
    }
}

/// Sets the default of the argument whose long flag is `key`, here and in every subcommand.
fn set_default(command: Command, key: &str, values: &[String], found: &mut bool) -> Command {
    let id = command
        .get_arguments()
        .find(|a| a.get_long() == Some(key))
        .map(|a| (a.get_id().clone(), a.get_action().clone()));
    let mut command = match id {
        Some((id, action)) => {
            *found = true;
            let values: Vec<String> = values.to_vec();
            command.mut_arg(id, move |arg| match action {
                ArgAction::Append => arg.default_values(values),
                _ => arg.default_value(values.join(",")),
            })
        }
        None => command,
    };
    let subcommands: Vec<String> = command
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect();
    for name in subcommands {
        command = command.mut_subcommand(name, |sub| set_default(sub, key, values, found));
    }
    command
}

/// Arguments of `command` (and its subcommands) that break the rule: a long flag without an
/// environment twin, or one named otherwise than [`env_name`]. Help and version are exempt.
pub fn rule_violations(command: &Command) -> Vec<String> {
    let mut out = Vec::new();
    collect_violations(command, &mut out);
    out
}

fn collect_violations(command: &Command, out: &mut Vec<String>) {
    for arg in command.get_arguments() {
        let Some(long) = arg.get_long() else {
            continue;
        };
        if matches!(long, "help" | "version") {
            continue;
        }
        let expected = env_name(long);
        match arg.get_env().and_then(|e| e.to_str()) {
            Some(env) if env == expected => {}
            Some(env) => out.push(format!(
                "{}: --{long} reads {env}, not {expected}",
                command.get_name()
            )),
            None => out.push(format!(
                "{}: --{long} has no environment variable ({expected})",
                command.get_name()
            )),
        }
    }
    for sub in command.get_subcommands() {
        collect_violations(sub, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[derive(Debug, clap::Parser)]
    #[command(name = "svc")]
    struct Cli {
        #[arg(long, env = "ASTRA_ADMIN_ADDR", default_value = "0.0.0.0:9100")]
        admin_addr: String,
        #[arg(long, env = "ASTRA_LINGER", default_value = "5ms", value_parser = crate::duration::parse_duration)]
        linger: Duration,
        #[arg(
            long,
            env = "ASTRA_LISTEN",
            value_delimiter = ',',
            default_value = "0.0.0.0:5103"
        )]
        listen: Vec<String>,
        #[arg(long, env = "ASTRA_NO_UDP")]
        no_udp: bool,
    }

    fn file(text: &str) -> tempfile_path::TempFile {
        tempfile_path::TempFile::new(text)
    }

    /// A file under the system temp directory, removed on drop.
    mod tempfile_path {
        pub struct TempFile(pub std::path::PathBuf);
        impl TempFile {
            pub fn new(text: &str) -> Self {
                use std::sync::atomic::{AtomicU32, Ordering};
                static N: AtomicU32 = AtomicU32::new(0);
                let path = std::env::temp_dir().join(format!(
                    "astra-config-{}-{}.toml",
                    std::process::id(),
                    N.fetch_add(1, Ordering::Relaxed)
                ));
                std::fs::write(&path, text).unwrap();
                Self(path)
            }
        }
        impl Drop for TempFile {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.0);
            }
        }
    }

    fn parse(args: &[&str], env: &[(&str, &str)]) -> Result<Cli, clap::Error> {
        try_parse_with_env(args, env)
    }

    #[test]
    fn env_names_follow_the_flags() {
        assert_eq!(env_name("admin-addr"), "ASTRA_ADMIN_ADDR");
        assert_eq!(env_name("nats-tls-ca"), "ASTRA_NATS_TLS_CA");
        assert!(rule_violations(&Cli::command()).is_empty());
        let bad = Command::new("x").arg(clap::Arg::new("a").long("a-b").env("ASTRA_AB"));
        assert_eq!(
            rule_violations(&bad),
            ["x: --a-b reads ASTRA_AB, not ASTRA_A_B"]
        );
    }

    #[test]
    fn file_sets_defaults_below_flags() {
        let f = file(
            "admin-addr = \"127.0.0.1:1\"\nlinger = \"1m30s\"\nlisten = [\"127.0.0.1:1\", \"127.0.0.1:2\"]\nno-udp = true\n",
        );
        let path = f.0.to_str().unwrap();
        let cli = parse(&["svc", "--config", path], &[]).unwrap();
        assert_eq!(cli.admin_addr, "127.0.0.1:1");
        assert_eq!(cli.linger, Duration::from_secs(90));
        assert_eq!(cli.listen, ["127.0.0.1:1", "127.0.0.1:2"]);
        assert!(cli.no_udp);
        // The command line beats the file.
        let cli = parse(
            &[
                "svc",
                &format!("--config={path}"),
                "--admin-addr",
                "127.0.0.1:9",
            ],
            &[],
        )
        .unwrap();
        assert_eq!(cli.admin_addr, "127.0.0.1:9");
        // The file named by ASTRA_CONFIG.
        let cli = parse(&["svc"], &[("ASTRA_CONFIG", path)]).unwrap();
        assert_eq!(cli.linger, Duration::from_secs(90));
    }

    #[test]
    fn file_errors_name_the_key() {
        let f = file("admin-adr = \"127.0.0.1:1\"\n");
        let err = parse(&["svc", "--config", f.0.to_str().unwrap()], &[]).unwrap_err();
        assert!(err.to_string().contains("unknown key `admin-adr`"), "{err}");
        let f = file("[nats]\nurl = \"x\"\n");
        let err = parse(&["svc", "--config", f.0.to_str().unwrap()], &[]).unwrap_err();
        assert!(err.to_string().contains("`nats` must be"), "{err}");
        let f = file("linger = \"soon\"\n");
        let err = parse(&["svc", "--config", f.0.to_str().unwrap()], &[]).unwrap_err();
        assert!(err.to_string().contains("invalid duration"), "{err}");
        let err = parse(&["svc", "--config", "/nonexistent/astra.toml"], &[]).unwrap_err();
        assert!(err.to_string().contains("cannot read config file"), "{err}");
        let f = file("linger = ");
        let err = parse(&["svc", "--config", f.0.to_str().unwrap()], &[]).unwrap_err();
        assert!(err.to_string().contains("config file"), "{err}");
    }
}

//! The one rule for naming a replica (gateway id in RawFrame / SessionEvent, decoder instance
//! header, event-worker lease holder): `--instance-id` when given, else `<host>-<pid>`. The
//! host is `$HOSTNAME` (the pod name on Kubernetes), else the kernel's host name, else the
//! service name; the process id keeps two replicas on one host apart. Characters other than
//! ASCII letters, digits, `-` and `_` become `_`, so the id is safe in KV keys, consumer names
//! and headers.

/// This replica's id: `explicit` (sanitized) or `<host>-<pid>`.
pub fn instance_id(explicit: Option<&str>, service: &str) -> String {
    let id = match explicit.map(str::trim).filter(|s| !s.is_empty()) {
        Some(id) => id.to_owned(),
        None => format!(
            "{}-{}",
            host_name().unwrap_or_else(|| service.to_owned()),
            std::process::id()
        ),
    };
    sanitize(&id)
}

fn host_name() -> Option<String> {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
}

/// `id` with every character outside `[A-Za-z0-9_-]` replaced by `_`; never empty.
pub fn sanitize(id: &str) -> String {
    let s: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() {
        "instance".to_owned()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::{instance_id, sanitize};

    #[test]
    fn explicit_ids_are_sanitized() {
        assert_eq!(instance_id(Some("gw-1"), "gateway"), "gw-1");
        assert_eq!(instance_id(Some("a.b c/d"), "gateway"), "a_b_c_d");
        assert_eq!(sanitize(""), "instance");
    }

    #[test]
    fn default_ends_with_the_process_id() {
        let id = instance_id(None, "gateway");
        assert!(id.ends_with(&format!("-{}", std::process::id())), "{id}");
        assert_eq!(instance_id(Some("  "), "gateway"), id);
    }
}

//! The sensor name every report, interval line and flow record carries (`--sensor NAME`, else the
//! host name), so that records from several sensors can be told apart once they are pooled.

/// At most this many bytes (a DNS name's length).
pub const MAX_LEN: usize = 255;

/// The sensor name: `given` if any, checked, else the host name (`"unknown"` if the system has
/// none that is valid text).
pub fn resolve(given: Option<&str>) -> Result<String, String> {
    match given {
        Some(name) => check(name).map(str::to_string),
        None => Ok(nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .filter(|h| check(h).is_ok())
            .unwrap_or_else(|| "unknown".to_string())),
    }
}

/// A name is 1 to 255 bytes of printable text (no control characters: it reaches terminals,
/// spreadsheets and SQL tables).
fn check(name: &str) -> Result<&str, String> {
    if name.is_empty() {
        return Err("--sensor: the name is empty".into());
    }
    if name.len() > MAX_LEN {
        return Err(format!("--sensor: the name is longer than {MAX_LEN} bytes"));
    }
    if name.chars().any(char::is_control) {
        return Err("--sensor: the name has a control character".into());
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_name_is_kept_and_checked() {
        assert_eq!(resolve(Some("dc-site-1")).unwrap(), "dc-site-1");
        assert_eq!(resolve(Some("capteur ü")).unwrap(), "capteur ü");
        assert!(resolve(Some("")).is_err());
        assert!(resolve(Some("a\u{1b}[2J")).is_err());
        assert!(resolve(Some(&"x".repeat(256))).is_err());
        assert!(resolve(Some(&"x".repeat(255))).is_ok());
    }

    #[test]
    fn the_default_is_the_host_name() {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").ok();
        let name = resolve(None).unwrap();
        assert!(!name.is_empty());
        if let Some(h) = host {
            assert_eq!(name, h.trim_end());
        }
    }
}

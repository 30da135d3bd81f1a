//! The one duration syntax of every flag of every service: humantime's (`500ms`, `30s`, `2m`,
//! `1h30m`, `1d`, `1m 30s`), a bare number of seconds (`30`, `0.5`) or a decimal number with
//! one unit (`1.5s`, `0.25h`), as earlier releases took.

use std::time::Duration;

/// Parses a duration flag; the error says what is accepted.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration (try 500ms, 30s, 2m, 1h30m, 1d)".to_owned());
    }
    // A bare number is seconds; humantime wants a unit.
    if text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        let seconds: f64 = text
            .parse()
            .map_err(|_| format!("invalid duration {text:?} (try 500ms, 30s, 2m, 1h30m, 1d)"))?;
        return Duration::try_from_secs_f64(seconds)
            .map_err(|e| format!("invalid duration {text:?}: {e}"));
    }
    humantime::parse_duration(text)
        .or_else(|e| decimal(text).ok_or(e))
        .map_err(|e| format!("invalid duration {text:?}: {e} (try 500ms, 30s, 2m, 1h30m, 1d)"))
}

/// `<decimal><unit>` (`1.5s`), which humantime does not take.
fn decimal(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| !c.is_ascii_digit() && c != '.')?;
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().ok()?;
    let scale = match unit.trim() {
        "ms" => 0.001,
        "s" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        "d" => 86_400.0,
        _ => return None,
    };
    Duration::try_from_secs_f64(value * scale).ok()
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn units_and_compounds() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("30d"), Ok(Duration::from_secs(30 * 86_400)));
        assert_eq!(parse_duration("1y"), Ok(Duration::from_secs(31_557_600)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1m 30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration(" 5s "), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("0.25h"), Ok(Duration::from_secs(900)));
    }

    #[test]
    fn bare_numbers_are_seconds() {
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn refusals() {
        for bad in [
            "",
            "ten",
            "5q",
            "-1s",
            "5 parsecs",
            "1..2",
            "s",
            "1.5q",
            ".s",
        ] {
            let err = parse_duration(bad).unwrap_err();
            assert!(err.contains("duration"), "{bad:?}: {err}");
        }
    }
}

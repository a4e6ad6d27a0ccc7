//! Times in world fixtures: absolute (RFC 3339 date-time or `YYYY-MM-DD`)
//! or relative to the moment the fixture is loaded (`"now"`, `"-3d"`,
//! `"-2h30m"`, `"now - 11 days"`), so shipped fixtures show the same states
//! on whatever day they are loaded.

/// Unix seconds of `text`, read relative to `now` (Unix seconds) when it is
/// a relative time, else as an absolute one (see [`crate::domain::clock::czech_time::parse_instant`]).
/// `None` when it is neither.
pub(crate) fn parse_fixture_time(text: &str, now: i64) -> Option<i64> {
    relative(text, now).or_else(|| crate::domain::clock::czech_time::parse_instant(text))
}

/// A relative time: an optional `now`, then signed amounts such as
/// `-3d`, `+ 2 hours`, `-2h30m` or `- 11 days 4h`. `now` alone is the
/// moment of loading; amounts without a sign are refused (a bare `3d`
/// reads as a typo, not as a direction).
fn relative(text: &str, now: i64) -> Option<i64> {
    let text = text.trim();
    let rest = text
        .strip_prefix("now")
        .or_else(|| text.strip_prefix("NOW"))
        .map(str::trim_start);
    let (mut rest, had_now) = match rest {
        Some(r) => (r, true),
        None => (text, false),
    };
    if rest.is_empty() {
        return had_now.then_some(now);
    }
    let mut at = now;
    while !rest.is_empty() {
        let sign = match rest.as_bytes()[0] {
            b'-' => -1,
            b'+' => 1,
            _ => return None,
        };
        rest = rest[1..].trim_start();
        // One or more `<number><unit>` groups under this sign.
        let mut groups = 0;
        loop {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                break;
            }
            let amount: i64 = rest[..digits].parse().ok()?;
            rest = rest[digits..].trim_start();
            let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
            let seconds = unit_seconds(&rest[..unit_len])?;
            rest = rest[unit_len..].trim_start();
            at = at.checked_add(sign * amount.checked_mul(seconds)?)?;
            groups += 1;
        }
        if groups == 0 {
            return None;
        }
    }
    Some(at)
}

/// Seconds in one `unit`.
fn unit_seconds(unit: &str) -> Option<i64> {
    Some(match unit.to_ascii_lowercase().as_str() {
        "s" | "sec" | "secs" | "second" | "seconds" => 1,
        "m" | "min" | "mins" | "minute" | "minutes" => 60,
        "h" | "hour" | "hours" => 3_600,
        "d" | "day" | "days" => 86_400,
        "w" | "week" | "weeks" => 7 * 86_400,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::parse_fixture_time;

    const NOW: i64 = 1_780_000_000;

    #[test]
    fn relative_forms() {
        assert_eq!(parse_fixture_time("now", NOW), Some(NOW));
        assert_eq!(parse_fixture_time(" now ", NOW), Some(NOW));
        assert_eq!(parse_fixture_time("-3d", NOW), Some(NOW - 3 * 86_400));
        assert_eq!(parse_fixture_time("+1h", NOW), Some(NOW + 3_600));
        assert_eq!(
            parse_fixture_time("-2h30m", NOW),
            Some(NOW - 2 * 3_600 - 30 * 60)
        );
        assert_eq!(
            parse_fixture_time("now - 11 days", NOW),
            Some(NOW - 11 * 86_400)
        );
        assert_eq!(
            parse_fixture_time("now - 1 day + 2 hours", NOW),
            Some(NOW - 86_400 + 7_200)
        );
        assert_eq!(parse_fixture_time("-1w 2d", NOW), Some(NOW - 9 * 86_400));
    }

    #[test]
    fn absolute_forms_still_work() {
        assert_eq!(
            parse_fixture_time("2026-02-27T09:00:00Z", NOW),
            Some(1_772_182_800)
        );
        // A date is midnight of that day in Czech time (CET in February).
        assert_eq!(parse_fixture_time("2026-02-27", NOW), Some(1_772_146_800));
    }

    #[test]
    fn refused_forms() {
        for bad in [
            "",
            "3d",
            "now 3d",
            "-",
            "-d",
            "-3",
            "-3 fortnights",
            "yesterday",
            "now -",
        ] {
            assert_eq!(parse_fixture_time(bad, NOW), None, "{bad:?}");
        }
    }
}

//! Times on the wire, in one place: every `xs:dateTime` the gateway reads
//! is parsed here and every one it writes is formatted here.
//!
//! ISDS's rules (messages manual, chapter 1.3.2):
//! - an input time with `Z` or an offset means that instant; an input time
//!   without a zone is Czech local time (CET in winter, CEST in summer),
//!   the variant the manual recommends;
//! - an output time carries the Czech offset of that instant, `+01:00` in
//!   winter and `+02:00` in summer, with milliseconds, as in the manual's
//!   examples and real ISDS responses: `2013-03-25T11:08:35.043+01:00`.
//!
//! The zone rules (Europe/Prague, DST transitions included) come from the
//! IANA time zone database compiled into `time-tz`, so they do not depend
//! on the host's tzdata. `xs:date` values are not times and stay as they
//! are; only where a date bounds an interval of instants is it taken as
//! the Czech day ([`day_start`]).

use time::{Date, OffsetDateTime, PrimitiveDateTime, UtcOffset};
use time_tz::{Offset, OffsetResult, PrimitiveDateTimeExt, TimeZone, timezones};

/// The zone of ISDS's local time.
fn prague() -> &'static time_tz::Tz {
    timezones::db::europe::PRAGUE
}

/// The Czech offset in force at instant `t` (+01:00 or +02:00).
pub fn offset_at(t: OffsetDateTime) -> UtcOffset {
    prague().get_offset_utc(&t).to_utc()
}

/// `t` as Czech local time (same instant, Czech offset).
pub fn to_czech(t: OffsetDateTime) -> OffsetDateTime {
    t.to_offset(offset_at(t))
}

/// A Czech wall-clock time as an instant. In the autumn hour that occurs
/// twice the earlier (summer) one is taken; a time in the spring gap, which
/// no Czech clock shows, is read with the winter offset in force before
/// the gap (02:30 becomes 03:30 CEST). The manual says nothing about
/// either case.
pub fn from_czech_local(local: PrimitiveDateTime) -> OffsetDateTime {
    match local.assume_timezone(prague()) {
        OffsetResult::Some(t) => t,
        OffsetResult::Ambiguous(earlier, _) => earlier,
        OffsetResult::None => {
            let before = local.assume_utc() - time::Duration::days(1);
            local.assume_offset(offset_at(before))
        }
    }
}

/// Midnight starting Czech day `d`, as an instant.
pub fn day_start(d: Date) -> OffsetDateTime {
    from_czech_local(d.midnight())
}

fn digits(s: &str, n: usize) -> Option<(u32, &str)> {
    let head = s.get(..n)?;
    if !head.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((head.parse().ok()?, &s[n..]))
}

/// Parses an `xs:dateTime` as ISDS reads it: `YYYY-MM-DDThh:mm:ss` with
/// optional fractional seconds and an optional zone (`Z`, `±hh:mm`); with
/// no zone the time is Czech local time. Surrounding whitespace is
/// ignored. `None` for anything else (or a time `time` cannot represent).
pub fn parse_datetime(s: &str) -> Option<OffsetDateTime> {
    let s = s.trim_matches(|c: char| matches!(c, ' ' | '\t' | '\n' | '\r'));
    let (year, rest) = digits(s, 4)?;
    let rest = rest.strip_prefix('-')?;
    let (month, rest) = digits(rest, 2)?;
    let rest = rest.strip_prefix('-')?;
    let (day, rest) = digits(rest, 2)?;
    let rest = rest.strip_prefix('T')?;
    let (hour, rest) = digits(rest, 2)?;
    let rest = rest.strip_prefix(':')?;
    let (minute, rest) = digits(rest, 2)?;
    let rest = rest.strip_prefix(':')?;
    let (second, mut rest) = digits(rest, 2)?;
    let mut nanos = 0u32;
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        // Nanoseconds from the first nine digits; further ones are dropped.
        for (i, b) in frac.bytes().take(9).enumerate().take(n) {
            nanos += u32::from(b - b'0') * 10u32.pow(8 - i as u32);
        }
        rest = &frac[n..];
    }
    let month = time::Month::try_from(u8::try_from(month).ok()?).ok()?;
    let date =
        Date::from_calendar_date(i32::try_from(year).ok()?, month, u8::try_from(day).ok()?).ok()?;
    // 24:00:00 is the end of the day (XML Schema).
    let (date, hour) = if hour == 24 && minute == 0 && second == 0 && nanos == 0 {
        (date.next_day()?, 0)
    } else {
        (date, hour)
    };
    let clock = time::Time::from_hms_nano(
        u8::try_from(hour).ok()?,
        u8::try_from(minute).ok()?,
        u8::try_from(second).ok()?,
        nanos,
    )
    .ok()?;
    let local = PrimitiveDateTime::new(date, clock);
    match rest {
        "" => Some(from_czech_local(local)),
        "Z" => Some(local.assume_utc()),
        zone => {
            let (sign, zone) = match zone.as_bytes().first()? {
                b'+' => (1i32, &zone[1..]),
                b'-' => (-1i32, &zone[1..]),
                _ => return None,
            };
            let (h, zone) = digits(zone, 2)?;
            let zone = zone.strip_prefix(':')?;
            let (m, zone) = digits(zone, 2)?;
            if !zone.is_empty() || h > 14 || m > 59 {
                return None;
            }
            let secs = sign * i32::try_from(h * 3600 + m * 60).ok()?;
            Some(local.assume_offset(UtcOffset::from_whole_seconds(secs).ok()?))
        }
    }
}

/// An instant as ISDS writes it: Czech local time with milliseconds and
/// the Czech offset of that instant, e.g. `2026-01-15T10:00:00.000+01:00`.
pub fn format_datetime(t: OffsetDateTime) -> String {
    let t = to_czech(t);
    let offset = t.offset();
    let (oh, om, _) = offset.as_hms();
    let sign = if offset.is_negative() { '-' } else { '+' };
    if let Ok(year) = u16::try_from(t.year())
        && year <= 9999
    {
        // Digit by digit: a list of 1,000 messages writes 2,000 of these,
        // and `format!` was most of their cost. Same text as below.
        let mut out = String::with_capacity(29);
        push_digits(&mut out, u32::from(year), 4);
        out.push('-');
        push_digits(&mut out, u32::from(u8::from(t.month())), 2);
        out.push('-');
        push_digits(&mut out, u32::from(t.day()), 2);
        out.push('T');
        push_digits(&mut out, u32::from(t.hour()), 2);
        out.push(':');
        push_digits(&mut out, u32::from(t.minute()), 2);
        out.push(':');
        push_digits(&mut out, u32::from(t.second()), 2);
        out.push('.');
        push_digits(&mut out, u32::from(t.millisecond()), 3);
        out.push(sign);
        push_digits(&mut out, u32::from(oh.unsigned_abs()), 2);
        out.push(':');
        push_digits(&mut out, u32::from(om.unsigned_abs()), 2);
        return out;
    }
    formatted(t)
}

/// [`format_datetime`]'s text of a time already in Czech time, by
/// `format!`: for years of other than four digits, and the reference the
/// digit-by-digit path is tested against.
fn formatted(t: OffsetDateTime) -> String {
    let (oh, om, _) = t.offset().as_hms();
    let sign = if t.offset().is_negative() { '-' } else { '+' };
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}{sign}{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond(),
        oh.unsigned_abs(),
        om.unsigned_abs()
    )
}

/// Appends `n` in decimal, zero-padded to `width` digits (`n` has at most
/// `width` digits).
fn push_digits(out: &mut String, n: u32, width: u32) {
    for place in (0..width).rev() {
        let digit = (n / 10u32.pow(place)) % 10;
        out.push(char::from(b'0' + digit as u8));
    }
}

/// [`format_datetime`] of Unix seconds (the epoch if out of range).
pub fn format_unix(secs: i64) -> String {
    format_datetime(OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH))
}

/// Unix seconds of a date-time (RFC 3339; without a zone, Czech time, as
/// ISDS reads times) or a `YYYY-MM-DD` date (midnight starting that Czech
/// day).
pub fn parse_instant(s: &str) -> Option<i64> {
    if let Some(t) = parse_datetime(s) {
        return Some(t.unix_timestamp());
    }
    let date = time::Date::parse(
        s.trim(),
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .ok()?;
    Some(day_start(date).unix_timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    /// The digit-by-digit output is the text `format!` gives, over the
    /// whole range of four-digit years, transitions included.
    #[test]
    fn formatting_by_digits_agrees_with_format() {
        let reference = |t: OffsetDateTime| formatted(to_czech(t));
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let first = datetime!(0001-01-01 00:00:00 UTC).unix_timestamp();
        let last = datetime!(9999-12-30 00:00:00 UTC).unix_timestamp();
        let span = (last - first) as u64;
        for i in 0..20_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let secs = if i % 2 == 0 {
                first + (x % span) as i64
            } else {
                // Around today, where the zone's rules change twice a year.
                1_700_000_000 + (x % 400_000_000) as i64
            };
            let t = OffsetDateTime::from_unix_timestamp(secs).unwrap()
                + time::Duration::nanoseconds((x % 1_000_000_000) as i64);
            assert_eq!(format_datetime(t), reference(t), "{t}");
        }
        for t in [
            datetime!(0001-01-01 00:00:00 UTC),
            datetime!(0999-06-01 12:00:00.007 UTC),
            datetime!(9999-12-31 21:00:00.999 UTC),
            datetime!(2026-03-29 01:00:00 UTC),
            datetime!(2026-10-25 00:59:59.999 UTC),
        ] {
            assert_eq!(format_datetime(t), reference(t), "{t}");
        }
    }

    #[test]
    fn output_has_the_czech_offset_of_the_instant_and_milliseconds() {
        assert_eq!(
            format_datetime(datetime!(2026-01-15 09:00:00.123456 UTC)),
            "2026-01-15T10:00:00.123+01:00"
        );
        assert_eq!(
            format_datetime(datetime!(2026-07-15 09:00:00 UTC)),
            "2026-07-15T11:00:00.000+02:00"
        );
        // The manual's example: delivered in winter time, accepted in summer.
        assert_eq!(
            format_datetime(datetime!(2013-03-25 10:08:35.043 UTC)),
            "2013-03-25T11:08:35.043+01:00"
        );
        assert_eq!(
            format_datetime(datetime!(2013-04-02 12:10:37.771 UTC)),
            "2013-04-02T14:10:37.771+02:00"
        );
        // Around the transitions (last Sunday of March and October, 01:00 UTC).
        assert_eq!(
            format_datetime(datetime!(2026-03-29 00:59:59 UTC)),
            "2026-03-29T01:59:59.000+01:00"
        );
        assert_eq!(
            format_datetime(datetime!(2026-03-29 01:00:00 UTC)),
            "2026-03-29T03:00:00.000+02:00"
        );
        assert_eq!(
            format_datetime(datetime!(2026-10-25 00:30:00 UTC)),
            "2026-10-25T02:30:00.000+02:00"
        );
        assert_eq!(
            format_datetime(datetime!(2026-10-25 01:30:00 UTC)),
            "2026-10-25T02:30:00.000+01:00"
        );
    }

    #[test]
    fn input_without_a_zone_is_czech_time() {
        assert_eq!(
            parse_datetime("2013-03-25T10:00:00"),
            Some(datetime!(2013-03-25 09:00:00 UTC))
        );
        assert_eq!(
            parse_datetime("2026-07-01T10:00:00"),
            Some(datetime!(2026-07-01 08:00:00 UTC))
        );
        assert_eq!(
            parse_datetime(" 2026-07-01T10:00:00.5 "),
            Some(datetime!(2026-07-01 08:00:00.5 UTC))
        );
        // Autumn: 02:30 happens twice; the first (summer) one is taken.
        assert_eq!(
            parse_datetime("2026-10-25T02:30:00"),
            Some(datetime!(2026-10-25 00:30:00 UTC))
        );
        // Spring gap: 02:30 does not exist; read with the winter offset.
        assert_eq!(
            parse_datetime("2026-03-29T02:30:00"),
            Some(datetime!(2026-03-29 01:30:00 UTC))
        );
        assert_eq!(
            parse_datetime("2026-01-31T24:00:00"),
            Some(datetime!(2026-01-31 23:00:00 UTC))
        );
    }

    #[test]
    fn zones_are_honoured() {
        assert_eq!(
            parse_datetime("2026-07-01T10:00:00Z"),
            Some(datetime!(2026-07-01 10:00:00 UTC))
        );
        assert_eq!(
            parse_datetime("2026-07-01T10:00:00.250-05:30"),
            Some(datetime!(2026-07-01 15:30:00.25 UTC))
        );
        assert_eq!(
            parse_datetime("2026-01-01T10:00:00+01:00"),
            Some(datetime!(2026-01-01 09:00:00 UTC))
        );
        for bad in [
            "",
            "yesterday",
            "2026-01-01",
            "2026-13-01T00:00:00",
            "2026-02-30T00:00:00",
            "2026-01-01T10:00:00+1:00",
            "2026-01-01T10:00:00.",
            "2026-01-01T10:00:00 Z",
        ] {
            assert_eq!(parse_datetime(bad), None, "{bad}");
        }
    }

    #[test]
    fn czech_days() {
        assert_eq!(
            day_start(time::macros::date!(2026 - 01 - 15)),
            datetime!(2026-01-14 23:00:00 UTC)
        );
        assert_eq!(
            day_start(time::macros::date!(2026 - 07 - 15)),
            datetime!(2026-07-14 22:00:00 UTC)
        );
    }
}

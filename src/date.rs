//! Calendar dates and durations, the only notion of time trueup has.
//!
//! A [`Date`] is a day number, so comparison and day arithmetic are integer
//! operations: a million installation dates parse and compare without
//! allocating. Nothing here reads the wall clock.

use std::fmt;

/// A proleptic Gregorian calendar date, stored as days since 1970-01-01.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(i32);

impl Date {
    /// Builds a date from its parts, or `None` when the day does not exist.
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Option<Date> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        if !(1..=9999).contains(&year) {
            return None;
        }
        Some(Date(days_from_civil(year, month, day)))
    }

    /// Parses `YYYY-MM-DD`, the only date form snapshots and scripts use.
    ///
    /// ```
    /// use trueup::date::Date;
    /// let d = Date::parse("2026-11-01").unwrap();
    /// assert_eq!((d + 30).to_string(), "2026-12-01");
    /// assert!(Date::parse("2026-02-30").is_none());
    /// ```
    pub fn parse(text: &str) -> Option<Date> {
        let b = text.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<u32> {
            b[r].iter().try_fold(0u32, |acc, c| {
                c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
            })
        };
        Date::from_ymd(num(0..4)? as i32, num(5..7)?, num(8..10)?)
    }

    /// Days from `self` to `later` (negative when `later` is earlier).
    pub fn days_until(self, later: Date) -> i64 {
        i64::from(later.0) - i64::from(self.0)
    }

    /// The first date trueup knows, 0001-01-01.
    pub const MIN: Date = Date(-719_162);
    /// The last date trueup knows, 9999-12-31.
    pub const MAX: Date = Date(2_932_896);

    /// Adds a number of days, saturating at [`Date::MIN`] and [`Date::MAX`].
    pub fn add_days(self, days: i64) -> Date {
        let day = i64::from(self.0).saturating_add(days);
        Date(day.clamp(i64::from(Date::MIN.0), i64::from(Date::MAX.0)) as i32)
    }

    /// Adds a number of days; `None` when the result falls outside
    /// [`Date::MIN`] to [`Date::MAX`].
    ///
    /// ```
    /// use trueup::date::Date;
    /// let d = Date::parse("9999-12-30").unwrap();
    /// assert_eq!(d.checked_add_days(1), Some(Date::MAX));
    /// assert_eq!(d.checked_add_days(2), None);
    /// assert_eq!(d.checked_add_days(i64::MAX), None);
    /// ```
    pub fn checked_add_days(self, days: i64) -> Option<Date> {
        let day = i64::from(self.0).checked_add(days)?;
        (i64::from(Date::MIN.0)..=i64::from(Date::MAX.0))
            .contains(&day)
            .then_some(Date(day as i32))
    }

    /// The (year, month, day) of this date.
    pub fn ymd(self) -> (i32, u32, u32) {
        civil_from_days(self.0)
    }

    /// The `YYYY-MM` period this date falls in, as usage records name it.
    pub fn period(self) -> String {
        let (y, m, _) = self.ymd();
        format!("{y:04}-{m:02}")
    }
}

impl std::ops::Add<i64> for Date {
    type Output = Date;
    fn add(self, days: i64) -> Date {
        self.add_days(days)
    }
}

impl std::ops::Sub<i64> for Date {
    type Output = Date;
    fn sub(self, days: i64) -> Date {
        self.add_days(days.saturating_neg())
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

impl serde::Serialize for Date {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's `days_from_civil`: exact for the whole proleptic calendar.
fn days_from_civil(year: i32, month: u32, day: u32) -> i32 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400) as u32;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe as i32 - 719_468
}

fn civil_from_days(z: i32) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097) as u32;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe as i32 + era * 400 + i32::from(month <= 2);
    (year, month, day)
}

/// A span of time written as a number and a unit: `36h`, `3d`, `2w`.
///
/// Routes count in whole days, so hours round up to the next day: a notice
/// due within `36h` of a finding opened on the 1st is due on the 3rd.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duration {
    hours: i64,
}

impl Duration {
    /// Parses `<n>h`, `<n>d` or `<n>w` with `n` a whole number.
    ///
    /// ```
    /// use trueup::date::Duration;
    /// assert_eq!(Duration::parse("36h").unwrap().days_ceil(), 2);
    /// assert_eq!(Duration::parse("2w").unwrap().days_ceil(), 14);
    /// assert!(Duration::parse("3 days").is_none());
    /// ```
    pub fn parse(text: &str) -> Option<Duration> {
        let text = text.trim();
        let (num, unit) = text.split_at(text.len().checked_sub(1)?);
        if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) || num.len() > 6 {
            return None;
        }
        let n: i64 = num.parse().ok()?;
        let hours = match unit {
            "h" => n,
            "d" => n * 24,
            "w" => n * 24 * 7,
            _ => return None,
        };
        Some(Duration { hours })
    }

    /// Whole days, rounding part-days up.
    pub fn days_ceil(self) -> i64 {
        (self.hours + 23) / 24
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.hours % (24 * 7) == 0 && self.hours > 0 {
            write!(f, "{}w", self.hours / (24 * 7))
        } else if self.hours % 24 == 0 {
            write!(f, "{}d", self.hours / 24)
        } else {
            write!(f, "{}h", self.hours)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_day_of_four_centuries() {
        let start = Date::parse("1900-01-01").unwrap();
        for n in 0..146_097 {
            let d = start + n;
            assert_eq!(Date::parse(&d.to_string()), Some(d));
        }
    }

    #[test]
    fn knows_leap_years() {
        assert!(Date::parse("2024-02-29").is_some());
        assert!(Date::parse("2100-02-29").is_none());
        assert!(Date::parse("2000-02-29").is_some());
        assert_eq!(Date::parse("1970-01-01").unwrap().0, 0);
    }

    #[test]
    fn rejects_malformed_text() {
        for bad in [
            "2026-1-01",
            "2026/01/01",
            "26-01-01",
            "2026-13-01",
            "2026-00-10",
            "x",
        ] {
            assert!(Date::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn the_range_ends_are_the_first_and_last_dates() {
        assert_eq!(Date::MIN.to_string(), "0001-01-01");
        assert_eq!(Date::MAX.to_string(), "9999-12-31");
        assert_eq!(Date::from_ymd(1, 1, 1), Some(Date::MIN));
        assert_eq!(Date::from_ymd(9999, 12, 31), Some(Date::MAX));
    }

    // Regression: `date + i64::MAX` overflowed and wrapped to 0001-01-01.
    #[test]
    fn day_arithmetic_never_wraps() {
        let d = Date::parse("2026-11-01").unwrap();
        assert_eq!(d + i64::MAX, Date::MAX);
        assert_eq!(d - i64::MAX, Date::MIN);
        assert_eq!(d + i64::MIN, Date::MIN);
        assert_eq!(d.checked_add_days(i64::MAX), None);
        assert_eq!(d.checked_add_days(i64::MIN), None);
        assert_eq!(Date::MIN.checked_add_days(-1), None);
        assert_eq!(Date::MIN.checked_add_days(0), Some(Date::MIN));
        assert_eq!(Date::MAX.checked_add_days(1), None);
        assert_eq!(
            Date::MAX
                .checked_add_days(-1)
                .map(|d| d.to_string())
                .as_deref(),
            Some("9999-12-30")
        );
    }

    #[test]
    fn counts_days_between() {
        let a = Date::parse("2026-11-01").unwrap();
        let b = Date::parse("2027-01-15").unwrap();
        assert_eq!(a.days_until(b), 75);
        assert_eq!(b.days_until(a), -75);
    }

    #[test]
    fn parses_durations() {
        assert_eq!(Duration::parse("36h").unwrap().days_ceil(), 2);
        assert_eq!(Duration::parse("24h").unwrap().days_ceil(), 1);
        assert_eq!(Duration::parse("3d").unwrap().days_ceil(), 3);
        assert_eq!(Duration::parse("2w").unwrap().to_string(), "2w");
        for bad in ["", "d", "3", "3y", "-3d", "1.5d"] {
            assert!(Duration::parse(bad).is_none(), "{bad}");
        }
    }
}

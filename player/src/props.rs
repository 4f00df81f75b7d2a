//! Typed checks for property values: each turns a wire [`PropValue`] into the Rust type a
//! property holds, or says precisely why it cannot (`invalid_value` for the wrong kind,
//! `out_of_range` for the right kind with a bad value). Setters call these *before* touching
//! anything, which is what makes a refused command change nothing.

use std::ops::RangeInclusive;

use stagelink_contracts::{Color, MemberRef, PropValue};

use crate::error::CommandError;

fn got(v: &PropValue) -> String {
    match v {
        PropValue::Int(_) => "an integer".into(),
        PropValue::Float(f) => format!("the number {f}"),
        other => format!("a {}", other.kind()),
    }
}

/// An integer in `range` (a float with no fractional part counts as an integer).
pub fn int(prop: &str, v: &PropValue, range: RangeInclusive<i64>) -> Result<i64, CommandError> {
    let n = v
        .as_i64()
        .ok_or_else(|| CommandError::invalid_value(prop, "an integer", got(v)))?;
    if range.contains(&n) {
        Ok(n)
    } else {
        Err(CommandError::out_of_range(
            prop,
            format!("{}..={}", range.start(), range.end()),
            n,
        ))
    }
}

/// A finite number, at least `min` when given.
pub fn number(prop: &str, v: &PropValue, min: Option<f64>) -> Result<f64, CommandError> {
    let n = v
        .as_f64()
        .ok_or_else(|| CommandError::invalid_value(prop, "a number", got(v)))?;
    match min {
        Some(m) if n < m => Err(CommandError::out_of_range(prop, format!(">= {m}"), n)),
        _ => Ok(n),
    }
}

/// A bool.
pub fn boolean(prop: &str, v: &PropValue) -> Result<bool, CommandError> {
    v.as_bool()
        .ok_or_else(|| CommandError::invalid_value(prop, "a bool", got(v)))
}

/// A string.
pub fn text(prop: &str, v: &PropValue) -> Result<String, CommandError> {
    v.as_str()
        .map(str::to_owned)
        .ok_or_else(|| CommandError::invalid_value(prop, "a string", got(v)))
}

/// A non-empty string (names).
pub fn name(prop: &str, v: &PropValue) -> Result<String, CommandError> {
    let s = text(prop, v)?;
    if s.is_empty() {
        Err(CommandError::out_of_range(
            prop,
            "a non-empty string",
            "\"\"",
        ))
    } else {
        Ok(s)
    }
}

/// A colour `{r, g, b, a}`.
pub fn color(prop: &str, v: &PropValue) -> Result<Color, CommandError> {
    v.as_color()
        .ok_or_else(|| CommandError::invalid_value(prop, "a colour {r, g, b, a}", got(v)))
}

/// A point `[x, y]` of finite numbers.
pub fn point(prop: &str, v: &PropValue) -> Result<[f64; 2], CommandError> {
    let p = v
        .as_point()
        .ok_or_else(|| CommandError::invalid_value(prop, "a point [x, y]", got(v)))?;
    if p.iter().all(|c| c.is_finite()) {
        Ok(p)
    } else {
        Err(CommandError::out_of_range(
            prop,
            "finite coordinates",
            format!("{p:?}"),
        ))
    }
}

/// A member reference `{cast_lib, member_num}` (existence is checked by the caller).
pub fn member(prop: &str, v: &PropValue) -> Result<MemberRef, CommandError> {
    v.as_member().ok_or_else(|| {
        CommandError::invalid_value(prop, "a member reference {cast_lib, member_num}", got(v))
    })
}

/// One of a fixed set of strings.
pub fn choice<'a>(prop: &str, v: &PropValue, options: &[&'a str]) -> Result<&'a str, CommandError> {
    let s = v
        .as_str()
        .ok_or_else(|| CommandError::invalid_value(prop, "a string", got(v)))?;
    options.iter().copied().find(|o| *o == s).ok_or_else(|| {
        CommandError::out_of_range(prop, format!("one of {options:?}"), format!("{s:?}"))
    })
}

/// Rounds a computed coordinate to hundredths, so published values stay short and exact in JSON.
pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use stagelink_contracts::ErrorCode;

    #[test]
    fn kinds_and_ranges_get_distinct_codes() {
        assert_eq!(int("blend", &PropValue::Int(50), 0..=100), Ok(50));
        assert_eq!(int("blend", &PropValue::Float(50.0), 0..=100), Ok(50));
        assert_eq!(
            int("blend", &PropValue::Int(101), 0..=100)
                .unwrap_err()
                .code(),
            ErrorCode::OutOfRange
        );
        assert_eq!(
            int("blend", &"x".into(), 0..=100).unwrap_err().code(),
            ErrorCode::InvalidValue
        );
        assert_eq!(
            number("width", &PropValue::Int(-1), Some(0.0))
                .unwrap_err()
                .code(),
            ErrorCode::OutOfRange
        );
        assert_eq!(
            boolean("visible", &"yes".into()).unwrap_err().to_string(),
            "`visible` takes a bool, got a string"
        );
        assert_eq!(
            choice("alignment", &"centre".into(), &["left", "center"])
                .unwrap_err()
                .code(),
            ErrorCode::OutOfRange
        );
    }
}

//! Property values as the inspector shows and edits them: reading a sprite field as a
//! [`PropValue`], formatting any value in a few cells, and parsing what the user typed into the
//! kind the property takes (protocol §4: numbers stay numbers, colours are objects).

use stagelink_contracts::{Color, MemberRef, PropValue, SpriteDelta};

/// The sprite properties the inspector lists, in the order it lists them (`sprite_num` and
/// `begin_frame` are the key, shown in the title, never edited).
pub const SPRITE_PROPS: [&str; 13] = [
    "member",
    "end_frame",
    "loc_h",
    "loc_v",
    "loc_z",
    "width",
    "height",
    "rotation",
    "skew",
    "blend",
    "ink",
    "visible",
    "color",
];

/// What kind of value a property takes, so `"12"` becomes an integer for `blend` and a number
/// for `loc_h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// A JSON integer.
    Integer,
    /// Any JSON number (sent as an integer when the input has no fraction).
    Number,
    /// `true` / `false`.
    Bool,
    /// A string, taken verbatim.
    Text,
    /// `#rrggbb[aa]` or `r,g,b[,a]`.
    Color,
    /// `[x, y]` or `x,y`.
    Point,
    /// `cast:member` (or `member` for cast 1).
    Member,
}

impl ValueKind {
    /// The kind of a value already seen.
    pub fn of(value: &PropValue) -> ValueKind {
        match value {
            PropValue::Bool(_) => ValueKind::Bool,
            PropValue::Int(_) => ValueKind::Integer,
            PropValue::Float(_) => ValueKind::Number,
            PropValue::Text(_) => ValueKind::Text,
            PropValue::Color(_) => ValueKind::Color,
            PropValue::Member(_) => ValueKind::Member,
            PropValue::Point(_) => ValueKind::Point,
        }
    }

    /// The kind of a well-known sprite property (protocol §4.1).
    pub fn of_sprite_prop(prop: &str) -> Option<ValueKind> {
        Some(match prop {
            "end_frame" | "loc_z" | "blend" | "ink" => ValueKind::Integer,
            "loc_h" | "loc_v" | "width" | "height" | "rotation" | "skew" => ValueKind::Number,
            "visible" => ValueKind::Bool,
            "color" => ValueKind::Color,
            "member" => ValueKind::Member,
            _ => return None,
        })
    }

    /// What to type, for the prompt's hint.
    pub fn hint(self) -> &'static str {
        match self {
            ValueKind::Integer => "an integer",
            ValueKind::Number => "a number",
            ValueKind::Bool => "true or false",
            ValueKind::Text => "text",
            ValueKind::Color => "#rrggbb or r,g,b[,a]",
            ValueKind::Point => "x,y",
            ValueKind::Member => "cast:member",
        }
    }
}

/// A sprite field as a property value; `None` when the sprite does not carry it.
pub fn sprite_prop(sprite: &SpriteDelta, prop: &str) -> Option<PropValue> {
    Some(match prop {
        "member" => PropValue::Member(sprite.member?),
        "end_frame" => PropValue::Int(sprite.end_frame?.into()),
        "loc_h" => PropValue::Float(sprite.loc_h?),
        "loc_v" => PropValue::Float(sprite.loc_v?),
        "loc_z" => PropValue::Int(sprite.loc_z?.into()),
        "width" => PropValue::Float(sprite.width?),
        "height" => PropValue::Float(sprite.height?),
        "rotation" => PropValue::Float(sprite.rotation?),
        "skew" => PropValue::Float(sprite.skew?),
        "blend" => PropValue::Int(sprite.blend?.into()),
        "ink" => PropValue::Int(sprite.ink?.into()),
        "visible" => PropValue::Bool(sprite.visible?),
        "color" => PropValue::Color(sprite.color?),
        _ => return None,
    })
}

/// Whether two values are the same for confirming an edit: numbers compare by value (the host
/// may send `200` for `200.0`, or round to two decimals), everything else exactly.
pub fn same_value(a: &PropValue, b: &PropValue) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => (x - y).abs() < 0.005,
        _ => a == b,
    }
}

/// A number in as few characters as it needs: `180`, `212.5`, `0.33`.
pub fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{n:.0}")
    } else {
        let s = format!("{n:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// A colour as `#rrggbb`, with `aa` when it is not opaque.
pub fn format_color(c: Color) -> String {
    if c.a == 255 {
        format!("#{:02x}{:02x}{:02x}", c.r, c.g, c.b)
    } else {
        format!("#{:02x}{:02x}{:02x}{:02x}", c.r, c.g, c.b, c.a)
    }
}

/// A value as the inspector shows it (and as the edit prompt pre-fills it).
pub fn format_value(value: &PropValue) -> String {
    match value {
        PropValue::Bool(b) => b.to_string(),
        PropValue::Int(i) => i.to_string(),
        PropValue::Float(f) => format_number(*f),
        PropValue::Text(s) => s.clone(),
        PropValue::Color(c) => format_color(*c),
        PropValue::Member(m) => format!("{}:{}", m.cast_lib, m.member_num),
        PropValue::Point([x, y]) => format!("{},{}", format_number(*x), format_number(*y)),
    }
}

/// Parses what the user typed as a value of `kind`.
///
/// # Errors
/// A message saying what was expected, shown under the prompt.
pub fn parse_value(input: &str, kind: ValueKind) -> Result<PropValue, String> {
    let s = input.trim();
    let expected = || format!("expected {}, got `{s}`", kind.hint());
    match kind {
        ValueKind::Text => Ok(PropValue::Text(input.to_owned())),
        ValueKind::Integer => s.parse::<i64>().map(PropValue::Int).or_else(|_| {
            // `3.0` is an integer too (protocol §4).
            match s.parse::<f64>() {
                Ok(f) if f.fract() == 0.0 && f.is_finite() => Ok(PropValue::Int(f as i64)),
                _ => Err(expected()),
            }
        }),
        ValueKind::Number => {
            if let Ok(i) = s.parse::<i64>() {
                return Ok(PropValue::Int(i));
            }
            match s.parse::<f64>() {
                Ok(f) if f.is_finite() => Ok(PropValue::Float(f)),
                _ => Err(expected()),
            }
        }
        ValueKind::Bool => match s.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => Ok(PropValue::Bool(true)),
            "false" | "no" | "off" | "0" => Ok(PropValue::Bool(false)),
            _ => Err(expected()),
        },
        ValueKind::Color => parse_color(s).map(PropValue::Color).ok_or_else(expected),
        ValueKind::Point => {
            let inner = s.trim_start_matches('[').trim_end_matches(']');
            let parts: Vec<f64> = inner
                .split(',')
                .map(|p| p.trim().parse::<f64>())
                .collect::<Result<_, _>>()
                .map_err(|_| expected())?;
            match parts[..] {
                [x, y] if x.is_finite() && y.is_finite() => Ok(PropValue::Point([x, y])),
                _ => Err(expected()),
            }
        }
        ValueKind::Member => {
            let (cast, member) = match s.split_once(':') {
                Some((c, m)) => (c.trim(), m.trim()),
                None => ("1", s),
            };
            match (cast.parse::<u32>(), member.parse::<u32>()) {
                (Ok(cast_lib), Ok(member_num)) => Ok(PropValue::Member(MemberRef {
                    cast_lib,
                    member_num,
                })),
                _ => Err(expected()),
            }
        }
    }
}

fn parse_color(s: &str) -> Option<Color> {
    if let Some(hex) = s.strip_prefix('#') {
        let byte = |i: usize| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok();
        return match hex.len() {
            6 => Some(Color::rgb(byte(0)?, byte(2)?, byte(4)?)),
            8 => Some(Color {
                r: byte(0)?,
                g: byte(2)?,
                b: byte(4)?,
                a: byte(6)?,
            }),
            _ => None,
        };
    }
    let parts: Vec<u8> = s
        .split(',')
        .map(|p| p.trim().parse::<u8>())
        .collect::<Result<_, _>>()
        .ok()?;
    match parts[..] {
        [r, g, b] => Some(Color::rgb(r, g, b)),
        [r, g, b, a] => Some(Color { r, g, b, a }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_format_short() {
        assert_eq!(format_number(180.0), "180");
        assert_eq!(format_number(212.5), "212.5");
        assert_eq!(format_number(1.0 / 3.0), "0.33");
        assert_eq!(format_number(-4.25), "-4.25");
    }

    #[test]
    fn values_round_trip_through_the_prompt() {
        for (value, kind) in [
            (PropValue::Int(42), ValueKind::Integer),
            (PropValue::Float(12.5), ValueKind::Number),
            (PropValue::Bool(false), ValueKind::Bool),
            (PropValue::Color(Color::rgb(255, 64, 0)), ValueKind::Color),
            (
                PropValue::Color(Color {
                    r: 1,
                    g: 2,
                    b: 3,
                    a: 4,
                }),
                ValueKind::Color,
            ),
            (PropValue::Point([320.0, 240.5]), ValueKind::Point),
            (
                PropValue::Member(MemberRef {
                    cast_lib: 2,
                    member_num: 7,
                }),
                ValueKind::Member,
            ),
            (PropValue::Text("Score: 1".into()), ValueKind::Text),
        ] {
            assert_eq!(ValueKind::of(&value), kind);
            assert_eq!(parse_value(&format_value(&value), kind), Ok(value));
        }
    }

    #[test]
    fn parsing_follows_the_property_kind() {
        assert_eq!(
            parse_value("200", ValueKind::Number),
            Ok(PropValue::Int(200))
        );
        assert_eq!(
            parse_value("3.0", ValueKind::Integer),
            Ok(PropValue::Int(3))
        );
        assert_eq!(parse_value("12,34", ValueKind::Color).ok(), None);
        assert_eq!(
            parse_value("10, 20, 30", ValueKind::Color),
            Ok(PropValue::Color(Color::rgb(10, 20, 30)))
        );
        assert_eq!(
            parse_value("7", ValueKind::Member),
            Ok(PropValue::Member(MemberRef {
                cast_lib: 1,
                member_num: 7
            }))
        );
        let err = parse_value("lots", ValueKind::Integer).unwrap_err();
        assert!(err.contains("an integer"), "{err}");
        assert!(parse_value("maybe", ValueKind::Bool).is_err());
        assert!(parse_value("1,2,3", ValueKind::Point).is_err());
    }

    #[test]
    fn sprite_fields_read_as_typed_values() {
        let mut s = SpriteDelta::new(3, 1);
        assert_eq!(sprite_prop(&s, "loc_h"), None);
        s.loc_h = Some(12.5);
        s.blend = Some(80);
        assert_eq!(sprite_prop(&s, "loc_h"), Some(PropValue::Float(12.5)));
        assert_eq!(sprite_prop(&s, "blend"), Some(PropValue::Int(80)));
        assert_eq!(sprite_prop(&s, "nonsense"), None);
        assert!(same_value(&PropValue::Int(200), &PropValue::Float(200.001)));
        assert!(!same_value(
            &PropValue::Int(200),
            &PropValue::Text("200".into())
        ));
    }
}

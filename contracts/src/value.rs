//! Typed property values: numbers, booleans, strings, colours and points — never numbers as strings.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// An RGBA colour, each channel 0–255. On the wire: `{"r":255,"g":0,"b":0,"a":255}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct Color {
    pub r: u8,
    pub g: u8,
    pub b: u8,
    /// Alpha; absent on the wire means opaque.
    #[serde(default = "opaque")]
    pub a: u8,
}

fn opaque() -> u8 {
    255
}

impl Color {
    /// An opaque colour.
    pub const fn rgb(r: u8, g: u8, b: u8) -> Self {
        Self { r, g, b, a: 255 }
    }
}

/// A property value as it travels on the wire. Untagged: the JSON shape says which it is.
///
/// Integers and floats are kept apart so an engine can validate an integer property strictly;
/// a `Float` with an integral value is accepted wherever an integer is by [`PropValue::as_i64`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum PropValue {
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    // Colours and members are JSON objects only: serde's derive would also read them from an
    // array, so an integer point `[0, 0]` would come back as a member and `[1, 2, 3]` as a colour.
    Color(#[serde(deserialize_with = "object_only")] Color),
    /// A cast member reference `{"cast_lib":1,"member_num":3}` (a sprite's `member`).
    Member(#[serde(deserialize_with = "object_only")] crate::items::MemberRef),
    /// `[x, y]`
    Point([f64; 2]),
}

/// Deserializes `T` from a JSON object and nothing else.
fn object_only<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct ObjectOnly<T>(std::marker::PhantomData<T>);

    impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for ObjectOnly<T> {
        type Value = T;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON object")
        }

        fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
            T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
        }
    }

    deserializer.deserialize_map(ObjectOnly(std::marker::PhantomData))
}

impl PropValue {
    /// The value as an integer, if it is one (or a float with no fractional part).
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            PropValue::Int(v) => Some(v),
            PropValue::Float(v) if v.fract() == 0.0 && v.is_finite() && v.abs() < 9.0e15 => {
                Some(v as i64)
            }
            _ => None,
        }
    }

    /// The value as a float, if it is a number.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            PropValue::Int(v) => Some(v as f64),
            PropValue::Float(v) if v.is_finite() => Some(v),
            _ => None,
        }
    }

    /// The value as a boolean.
    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            PropValue::Bool(v) => Some(v),
            _ => None,
        }
    }

    /// The value as text.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            PropValue::Text(v) => Some(v),
            _ => None,
        }
    }

    /// The value as a colour.
    pub fn as_color(&self) -> Option<Color> {
        match *self {
            PropValue::Color(c) => Some(c),
            _ => None,
        }
    }

    /// The value as a member reference.
    pub fn as_member(&self) -> Option<crate::items::MemberRef> {
        match *self {
            PropValue::Member(m) => Some(m),
            _ => None,
        }
    }

    /// The value as a point.
    pub fn as_point(&self) -> Option<[f64; 2]> {
        match *self {
            PropValue::Point(p) => Some(p),
            _ => None,
        }
    }

    /// A short name of the value's kind, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            PropValue::Bool(_) => "bool",
            PropValue::Int(_) => "integer",
            PropValue::Float(_) => "number",
            PropValue::Text(_) => "string",
            PropValue::Color(_) => "color",
            PropValue::Member(_) => "member",
            PropValue::Point(_) => "point",
        }
    }
}

impl From<bool> for PropValue {
    fn from(v: bool) -> Self {
        PropValue::Bool(v)
    }
}
impl From<i64> for PropValue {
    fn from(v: i64) -> Self {
        PropValue::Int(v)
    }
}
impl From<i32> for PropValue {
    fn from(v: i32) -> Self {
        PropValue::Int(v.into())
    }
}
impl From<u32> for PropValue {
    fn from(v: u32) -> Self {
        PropValue::Int(v.into())
    }
}
impl From<f64> for PropValue {
    fn from(v: f64) -> Self {
        PropValue::Float(v)
    }
}
impl From<&str> for PropValue {
    fn from(v: &str) -> Self {
        PropValue::Text(v.to_owned())
    }
}
impl From<String> for PropValue {
    fn from(v: String) -> Self {
        PropValue::Text(v)
    }
}
impl From<Color> for PropValue {
    fn from(v: Color) -> Self {
        PropValue::Color(v)
    }
}

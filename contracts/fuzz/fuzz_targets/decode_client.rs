//! Any bytes into `decode_client` (and `decode_server`): never a panic; an error is always one
//! of the four decode codes; a decoded message re-encodes to JSON that decodes again to the same
//! message (floats within a rounding step).
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use stagelink_contracts::{DecodeError, ErrorCode, decode_client, decode_server};

fn check_error(e: &DecodeError, data: &[u8]) {
    assert!(
        matches!(
            e.code,
            ErrorCode::BadJson
                | ErrorCode::UnknownType
                | ErrorCode::MissingField
                | ErrorCode::InvalidField
        ),
        "{e:?} for {:?}",
        String::from_utf8_lossy(data)
    );
    assert!(!e.message.is_empty());
}

/// Equal JSON, allowing floats to differ by a rounding step (serde_json's default float parser
/// is not correctly rounded for every input).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            _ if x == y => true,
            (Some(x), Some(y)) => (x - y).abs() <= x.abs().max(y.abs()) * 1e-15,
            _ => false,
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

fuzz_target!(|data: &[u8]| {
    match decode_client(data) {
        Ok(m) => {
            let json = m.to_json();
            let again = decode_client(&json).unwrap_or_else(|e| {
                panic!(
                    "{m:?} re-encoded as {} does not decode: {e}",
                    String::from_utf8_lossy(&json)
                )
            });
            if again != m {
                let a: Value = serde_json::from_slice(&json).unwrap();
                let b: Value = serde_json::from_slice(&again.to_json()).unwrap();
                assert!(same(&a, &b), "{m:?} came back as {again:?}");
            }
        }
        Err(e) => check_error(&e, data),
    }
    if let Err(e) = decode_server(data) {
        check_error(&e, data);
    }
});

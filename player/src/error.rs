//! [`CommandError`]: why the engine refused a command, a property value or a script statement.
//!
//! Every variant maps to one protocol error code ([`CommandError::code`]) so an `ack` can say
//! precisely what was wrong; the `Display` text is the ack's human-readable message.

use stagelink_contracts::ErrorCode;

/// A command (or a value inside one) the engine refused. Nothing changed when one is returned.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CommandError {
    /// No sprite span `(sprite_num, begin_frame)`, or it is not on the current frame.
    #[error("{0}")]
    UnknownSprite(String),
    /// No such member or cast.
    #[error("{0}")]
    UnknownMember(String),
    /// The target has no (settable) property of that name.
    #[error("{target} has no settable property `{prop}`")]
    UnknownProperty { target: String, prop: String },
    /// A value of the wrong kind.
    #[error("`{prop}` takes {expected}, got {got}")]
    InvalidValue {
        prop: String,
        expected: String,
        got: String,
    },
    /// A value of the right kind outside the allowed range.
    #[error("`{prop}` must be {range}, got {value}")]
    OutOfRange {
        prop: String,
        range: String,
        value: String,
    },
    /// A custom command with no registered handler; the message lists the registered ones.
    #[error("no custom handler named `{name}` (registered: {})", if registered.is_empty() { "none".to_owned() } else { registered.join(", ") })]
    UnknownCommand {
        name: String,
        registered: Vec<String>,
    },
    /// A structurally invalid command (a `batch` inside a `batch`, a `custom` inside a `batch`).
    #[error("{0}")]
    InvalidField(String),
    /// One command of a batch failed; the batch as a whole is rejected with its code.
    #[error("command {index} of batch: {source}")]
    InBatch {
        index: usize,
        #[source]
        source: Box<CommandError>,
    },
    /// A custom handler's own refusal, with the code it chose.
    #[error("{message}")]
    Handler { code: ErrorCode, message: String },
}

impl CommandError {
    /// The protocol error code the ack carries.
    pub fn code(&self) -> ErrorCode {
        match self {
            CommandError::UnknownSprite(_) => ErrorCode::UnknownSprite,
            CommandError::UnknownMember(_) => ErrorCode::UnknownMember,
            CommandError::UnknownProperty { .. } => ErrorCode::UnknownProperty,
            CommandError::InvalidValue { .. } => ErrorCode::InvalidValue,
            CommandError::OutOfRange { .. } => ErrorCode::OutOfRange,
            CommandError::UnknownCommand { .. } => ErrorCode::UnknownCommand,
            CommandError::InvalidField(_) => ErrorCode::InvalidField,
            CommandError::InBatch { source, .. } => source.code(),
            CommandError::Handler { code, .. } => *code,
        }
    }

    /// A property the target does not have (or that is read-only).
    pub fn unknown_property(target: impl Into<String>, prop: impl Into<String>) -> Self {
        CommandError::UnknownProperty {
            target: target.into(),
            prop: prop.into(),
        }
    }

    /// A value outside the property's range.
    pub fn out_of_range(
        prop: impl Into<String>,
        range: impl Into<String>,
        value: impl std::fmt::Display,
    ) -> Self {
        CommandError::OutOfRange {
            prop: prop.into(),
            range: range.into(),
            value: value.to_string(),
        }
    }

    /// A payload or value that does not have the expected shape.
    pub fn invalid_value(
        prop: impl Into<String>,
        expected: impl Into<String>,
        got: impl Into<String>,
    ) -> Self {
        CommandError::InvalidValue {
            prop: prop.into(),
            expected: expected.into(),
            got: got.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_errors_keep_the_inner_code_and_name_the_index() {
        let inner = CommandError::invalid_value("visible", "a bool", "a string");
        let e = CommandError::InBatch {
            index: 2,
            source: Box::new(inner),
        };
        assert_eq!(e.code(), ErrorCode::InvalidValue);
        assert_eq!(
            e.to_string(),
            "command 2 of batch: `visible` takes a bool, got a string"
        );
    }
}

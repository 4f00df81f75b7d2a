//! Frame scripts: a small Lingo-like language, one statement per line.
//!
//! ```text
//! go to frame 12                  -- jump when the frame is left (Director's exitFrame `go`)
//! go to marker "act_two"
//! go loop                         -- back to the marker at or before this frame (else frame 1)
//! go next                         -- on to the next marker
//! pause                           -- stop the playhead on this frame
//! put "Frame {frame}" into member "frame_label"      -- {frame}, {frame_count}, {tempo}
//! set stage bg_color to {"r":16,"g":16,"b":32,"a":255}
//! set movie update_lock to false
//! set member "title" font_size to 24
//! set member "title" style bold 0..8 to true
//! ```
//!
//! Values after `to` are typed JSON, exactly as commands take them. A script is parsed when
//! the movie is built or loaded, so a movie file with a bad line fails to load and names it;
//! setting a property runs through the same validated setters as commands.

use std::fmt;

use stagelink_contracts::PropValue;

/// One statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    GoToFrame(u32),
    GoToMarker(String),
    GoLoop,
    GoNext,
    Pause,
    /// `put "template" into member "name"`: sets a text member's text.
    Put {
        template: String,
        member: String,
    },
    SetStage {
        prop: String,
        value: PropValue,
    },
    SetMovie {
        prop: String,
        value: PropValue,
    },
    SetMember {
        member: String,
        prop: String,
        value: PropValue,
    },
    SetStyle {
        member: String,
        style: String,
        start: u32,
        end: u32,
        value: PropValue,
    },
}

/// A parsed script that remembers its source (a movie file stores the source, and a bad one
/// fails to load with the line that is wrong).
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Script {
    source: String,
    statements: Vec<Statement>,
}

/// Why a script did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ScriptError {
    pub line: usize,
    pub message: String,
}

impl Script {
    /// Parses a script.
    ///
    /// # Errors
    /// The first line that is not a statement, with the reason.
    pub fn parse(source: &str) -> Result<Script, ScriptError> {
        let mut statements = Vec::new();
        for (i, line) in source.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with("--") {
                continue;
            }
            let statement = parse_line(line).map_err(|message| ScriptError {
                line: i + 1,
                message,
            })?;
            statements.push(statement);
        }
        Ok(Script {
            source: source.to_owned(),
            statements,
        })
    }

    /// The source text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The statements, in order.
    pub fn statements(&self) -> &[Statement] {
        &self.statements
    }
}

impl fmt::Display for Script {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl TryFrom<String> for Script {
    type Error = ScriptError;
    fn try_from(source: String) -> Result<Self, Self::Error> {
        Script::parse(&source)
    }
}

impl From<Script> for String {
    fn from(script: Script) -> String {
        script.source
    }
}

/// Expands `{frame}`, `{frame_count}` and `{tempo}` in a `put` template.
pub fn expand(template: &str, frame: u32, frame_count: u32, tempo: u32) -> String {
    template
        .replace("{frame}", &frame.to_string())
        .replace("{frame_count}", &frame_count.to_string())
        .replace("{tempo}", &tempo.to_string())
}

/// A cursor over one line.
struct Line<'a> {
    rest: &'a str,
}

impl<'a> Line<'a> {
    fn word(&mut self) -> Option<&'a str> {
        let rest = self.rest.trim_start();
        if rest.is_empty() || rest.starts_with('"') {
            return None;
        }
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let (w, tail) = rest.split_at(end);
        self.rest = tail;
        Some(w)
    }

    fn expect(&mut self, word: &str) -> Result<(), String> {
        match self.word() {
            Some(w) if w == word => Ok(()),
            Some(w) => Err(format!("expected `{word}`, found `{w}`")),
            None => Err(format!("expected `{word}`")),
        }
    }

    fn quoted(&mut self) -> Result<String, String> {
        let rest = self.rest.trim_start();
        if !rest.starts_with('"') {
            return Err("expected a quoted string".into());
        }
        let bytes = rest.as_bytes();
        let mut i = 1;
        while i < bytes.len() {
            match bytes[i] {
                b'\\' => i += 2,
                b'"' => break,
                _ => i += 1,
            }
        }
        if i >= bytes.len() {
            return Err("unterminated string".into());
        }
        let literal = &rest[..=i];
        self.rest = &rest[i + 1..];
        serde_json::from_str(literal).map_err(|e| format!("bad string {literal}: {e}"))
    }

    fn number(&mut self) -> Result<u32, String> {
        let w = self.word().ok_or("expected a number")?;
        w.parse()
            .map_err(|_| format!("expected a number, found `{w}`"))
    }

    /// `to <json>` up to the end of the line.
    fn value(&mut self) -> Result<PropValue, String> {
        self.expect("to")?;
        let json = self.rest.trim();
        self.rest = "";
        serde_json::from_str(json).map_err(|e| format!("`{json}` is not a property value: {e}"))
    }

    fn end(&self) -> Result<(), String> {
        let rest = self.rest.trim();
        if rest.is_empty() {
            Ok(())
        } else {
            Err(format!("unexpected `{rest}` at the end of the line"))
        }
    }
}

fn parse_line(text: &str) -> Result<Statement, String> {
    let mut line = Line { rest: text };
    let statement = match line.word() {
        Some("pause") => Statement::Pause,
        Some("go") => match line.word() {
            Some("loop") => Statement::GoLoop,
            Some("next") => Statement::GoNext,
            Some("to") => match line.word() {
                Some("frame") => {
                    let n = line.number()?;
                    if n == 0 {
                        return Err("frames start at 1".into());
                    }
                    Statement::GoToFrame(n)
                }
                Some("marker") => Statement::GoToMarker(line.quoted()?),
                _ => return Err("expected `go to frame N` or `go to marker \"name\"`".into()),
            },
            _ => return Err("expected `go to`, `go loop` or `go next`".into()),
        },
        Some("put") => {
            let template = line.quoted()?;
            line.expect("into")?;
            line.expect("member")?;
            Statement::Put {
                template,
                member: line.quoted()?,
            }
        }
        Some("set") => match line.word() {
            Some("stage") => {
                let prop = line.word().ok_or("expected a property name")?.to_owned();
                Statement::SetStage {
                    prop,
                    value: line.value()?,
                }
            }
            Some("movie") => {
                let prop = line.word().ok_or("expected a property name")?.to_owned();
                Statement::SetMovie {
                    prop,
                    value: line.value()?,
                }
            }
            Some("member") => {
                let member = line.quoted()?;
                let prop = line.word().ok_or("expected a property name")?;
                if prop == "style" {
                    let style = line.word().ok_or("expected a style name")?.to_owned();
                    let range = line.word().ok_or("expected a byte range START..END")?;
                    let (start, end) = range
                        .split_once("..")
                        .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
                        .ok_or_else(|| {
                            format!("expected a byte range START..END, found `{range}`")
                        })?;
                    Statement::SetStyle {
                        member,
                        style,
                        start,
                        end,
                        value: line.value()?,
                    }
                } else {
                    Statement::SetMember {
                        member,
                        prop: prop.to_owned(),
                        value: line.value()?,
                    }
                }
            }
            _ => return Err("expected `set stage`, `set movie` or `set member`".into()),
        },
        Some(other) => return Err(format!("unknown statement `{other}`")),
        None => return Err("expected a statement".into()),
    };
    line.end()?;
    Ok(statement)
}

#[cfg(test)]
mod tests {
    use super::*;
    use stagelink_contracts::Color;

    #[test]
    fn every_statement_parses() {
        let script = Script::parse(
            "-- a comment\n\
             go to frame 12\n\
             go to marker \"act two\"\n\
             go loop\n\
             go next\n\
             pause\n\
             put \"Frame {frame} \\\"quoted\\\"\" into member \"label\"\n\
             set stage bg_color to {\"r\":1,\"g\":2,\"b\":3,\"a\":255}\n\
             set movie loop to false\n\
             set member \"title\" font_size to 24\n\
             set member \"title\" style bold 0..8 to true\n",
        )
        .unwrap();
        assert_eq!(
            script.statements(),
            [
                Statement::GoToFrame(12),
                Statement::GoToMarker("act two".into()),
                Statement::GoLoop,
                Statement::GoNext,
                Statement::Pause,
                Statement::Put {
                    template: "Frame {frame} \"quoted\"".into(),
                    member: "label".into()
                },
                Statement::SetStage {
                    prop: "bg_color".into(),
                    value: Color::rgb(1, 2, 3).into()
                },
                Statement::SetMovie {
                    prop: "loop".into(),
                    value: false.into()
                },
                Statement::SetMember {
                    member: "title".into(),
                    prop: "font_size".into(),
                    value: 24.into()
                },
                Statement::SetStyle {
                    member: "title".into(),
                    style: "bold".into(),
                    start: 0,
                    end: 8,
                    value: true.into()
                },
            ]
        );
        assert_eq!(
            expand("F{frame}/{frame_count}@{tempo}", 3, 10, 30),
            "F3/10@30"
        );
    }

    #[test]
    fn errors_name_the_line() {
        let e = Script::parse("pause\ngo to frame x").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("expected a number"), "{e}");
        assert!(Script::parse("pause now").is_err());
        assert!(Script::parse("set stage width to").is_err());
        assert!(Script::parse("go to frame 0").is_err());
        assert!(Script::parse("jump").is_err());
    }
}

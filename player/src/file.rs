//! Movie files: the whole movie as one JSON document — the same document the `project`
//! request returns (protocol §8), so a project fetched from a running player can be saved and
//! played elsewhere.
//!
//! The shape is the protocol's, with the fields it leaves to the player: a bitmap's pixels as
//! `media: {"format":"png","base64":…}`, a text member's `styles`, a film loop's own `score`,
//! the score's `markers`, and a frame script's `code` (and `end_frame` when it spans frames).
//!
//! Loading reads the document with `serde_path_to_error`, then builds the movie through the
//! same validated setters commands use; any error names the file and the field
//! (`demo.json: score.sprites[3].blend: must be 0..=100, got 250`). Saving then loading gives
//! an identical [`Movie`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use stagelink_contracts::{Color, MemberRef, Palette, PropValue, TempoChange, Transition};

use crate::media;
use crate::member::{Member, MemberKind, StyleRun, check_style};
use crate::movie::{Cast, Movie, Stage};
use crate::score::{
    FrameScriptDef, KeyframeDef, Marker, Score, SoundCueDef, SpriteProp, SpriteSpan, SpriteState,
};
use crate::script::Script;

/// Why a movie file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum MovieFileError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The document is not a valid movie; `field` is the path inside it.
    #[error("{path}: {field}: {message}")]
    Invalid {
        path: PathBuf,
        field: String,
        message: String,
    },
}

impl MovieFileError {
    /// The path inside the document, for an invalid one.
    pub fn field(&self) -> Option<&str> {
        match self {
            MovieFileError::Invalid { field, .. } => Some(field),
            MovieFileError::Io { .. } => None,
        }
    }
}

/// The movie document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MovieDoc {
    pub name: String,
    pub stage: StageDoc,
    pub frame_count: u32,
    pub tempo: u32,
    pub movie_props: MoviePropsDoc,
    pub casts: Vec<CastDoc>,
    pub score: ScoreDoc,
}

/// `stage`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageDoc {
    pub width: u32,
    pub height: u32,
    pub bg_color: Color,
    pub title: String,
}

/// `movie_props` (a snapshot's read-only `frame_label` is ignored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MoviePropsDoc {
    pub name: String,
    #[serde(rename = "loop")]
    pub looped: bool,
    pub update_lock: bool,
}

/// One cast.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CastDoc {
    pub cast_lib: u32,
    pub name: String,
    pub members: Vec<MemberDoc>,
}

/// One member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberDoc {
    pub cast_lib: u32,
    pub member_num: u32,
    pub name: String,
    pub kind: String,
    #[serde(default)]
    pub props: BTreeMap<String, PropValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<MediaDoc>,
    /// Text members.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub styles: Option<Vec<StyleRunDoc>>,
    /// Film loops.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<Box<ScoreDoc>>,
}

/// Encoded media.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MediaDoc {
    pub format: String,
    pub base64: String,
}

/// A style run of a text member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StyleRunDoc {
    pub start: u32,
    pub end: u32,
    pub style: String,
    pub value: PropValue,
}

/// A score (the movie's, or a film loop's).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ScoreDoc {
    #[serde(default)]
    pub sprites: Vec<SpriteDoc>,
    #[serde(default)]
    pub tempos: Vec<TempoChange>,
    #[serde(default)]
    pub sounds: Vec<SoundCueDef>,
    #[serde(default)]
    pub transitions: Vec<Transition>,
    #[serde(default)]
    pub frame_scripts: Vec<FrameScriptDoc>,
    #[serde(default)]
    pub palettes: Vec<Palette>,
    #[serde(default)]
    pub markers: Vec<Marker>,
}

/// A sprite span: a full sprite plus its keyframes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpriteDoc {
    pub sprite_num: u32,
    pub begin_frame: u32,
    pub end_frame: u32,
    pub member: MemberRef,
    pub loc_h: f64,
    pub loc_v: f64,
    pub loc_z: i32,
    pub width: f64,
    pub height: f64,
    pub rotation: f64,
    pub skew: f64,
    pub blend: u8,
    pub ink: u32,
    pub visible: bool,
    pub color: Color,
    #[serde(default)]
    pub keyframes: Vec<KeyframeDoc>,
}

/// A keyframe of a span.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyframeDoc {
    pub frame: u32,
    pub prop: String,
    pub value: PropValue,
}

/// A frame script.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameScriptDoc {
    pub frame: u32,
    /// Absent: the script is on `frame` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_frame: Option<u32>,
    pub script: String,
    #[serde(default)]
    pub code: Script,
}

/// A problem found while building the movie: the field and what is wrong with it.
type Issue = (String, String);

fn issue(field: impl Into<String>, message: impl std::fmt::Display) -> Issue {
    (field.into(), message.to_string())
}

/// The movie's document.
pub fn to_doc(movie: &Movie) -> MovieDoc {
    MovieDoc {
        name: movie.name.clone(),
        stage: StageDoc {
            width: movie.stage.width,
            height: movie.stage.height,
            bg_color: movie.stage.bg_color,
            title: movie.stage.title.clone(),
        },
        frame_count: movie.score.frame_count,
        tempo: movie.tempo,
        movie_props: MoviePropsDoc {
            name: movie.name.clone(),
            looped: movie.looped,
            update_lock: movie.update_lock,
        },
        casts: movie
            .casts
            .iter()
            .enumerate()
            .map(|(i, cast)| CastDoc {
                cast_lib: i as u32 + 1,
                name: cast.name.clone(),
                members: cast
                    .members
                    .iter()
                    .map(|(n, m)| member_doc(i as u32 + 1, *n, m))
                    .collect(),
            })
            .collect(),
        score: score_doc(&movie.score),
    }
}

/// The movie's document as JSON (the `project` response).
pub fn to_document(movie: &Movie) -> serde_json::Value {
    serde_json::to_value(to_doc(movie)).unwrap_or_default()
}

fn member_doc(cast_lib: u32, member_num: u32, m: &Member) -> MemberDoc {
    let mut doc = MemberDoc {
        cast_lib,
        member_num,
        name: m.name.clone(),
        kind: m.kind_name().to_owned(),
        props: m
            .props()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
        media: None,
        styles: None,
        score: None,
    };
    match &m.kind {
        MemberKind::Bitmap(b) => {
            doc.media = media::png_encode(b.width, b.height, &b.pixels)
                .map(|png| MediaDoc {
                    format: "png".into(),
                    base64: media::base64_encode(&png),
                })
                .ok();
        }
        MemberKind::Text(t) if !t.styles.is_empty() => {
            doc.styles = Some(
                t.styles
                    .iter()
                    .map(|r| StyleRunDoc {
                        start: r.start,
                        end: r.end,
                        style: r.style.clone(),
                        value: r.value.clone(),
                    })
                    .collect(),
            );
        }
        MemberKind::FilmLoop(f) => doc.score = Some(Box::new(score_doc(&f.score))),
        _ => {}
    }
    doc
}

fn score_doc(score: &Score) -> ScoreDoc {
    ScoreDoc {
        sprites: score
            .sprites
            .iter()
            .map(|span| {
                let b = &span.base;
                SpriteDoc {
                    sprite_num: b.sprite_num,
                    begin_frame: b.begin_frame,
                    end_frame: b.end_frame,
                    member: b.member,
                    loc_h: b.loc_h,
                    loc_v: b.loc_v,
                    loc_z: b.loc_z,
                    width: b.width,
                    height: b.height,
                    rotation: b.rotation,
                    skew: b.skew,
                    blend: b.blend,
                    ink: b.ink,
                    visible: b.visible,
                    color: b.color,
                    keyframes: span
                        .keyframes
                        .iter()
                        .map(|k| KeyframeDoc {
                            frame: k.frame,
                            prop: k.prop.as_str().to_owned(),
                            value: k.value.clone(),
                        })
                        .collect(),
                }
            })
            .collect(),
        tempos: score.tempos.clone(),
        sounds: score.sounds.clone(),
        transitions: score.transitions.clone(),
        frame_scripts: score
            .frame_scripts
            .iter()
            .map(|s| FrameScriptDoc {
                frame: s.frame,
                end_frame: (s.end_frame != s.frame).then_some(s.end_frame),
                script: s.script.clone(),
                code: s.code.clone(),
            })
            .collect(),
        palettes: score.palettes.clone(),
        markers: score.markers.clone(),
    }
}

/// Builds and validates a movie from its document.
///
/// # Errors
/// The field that is wrong (a path into the document) and why.
pub fn from_doc(doc: MovieDoc) -> Result<Movie, (String, String)> {
    if doc.name != doc.movie_props.name {
        return Err(issue(
            "name",
            format!(
                "{:?} differs from movie_props.name {:?}",
                doc.name, doc.movie_props.name
            ),
        ));
    }
    let mut casts = Vec::with_capacity(doc.casts.len());
    for (ci, cast_doc) in doc.casts.into_iter().enumerate() {
        let expected = ci as u32 + 1;
        if cast_doc.cast_lib != expected {
            return Err(issue(
                format!("casts[{ci}].cast_lib"),
                format!(
                    "expected {expected}: casts are numbered 1, 2, … in order, got {}",
                    cast_doc.cast_lib
                ),
            ));
        }
        let mut cast = Cast::new(cast_doc.name);
        for (mi, m) in cast_doc.members.into_iter().enumerate() {
            let path = format!("casts[{ci}].members[{mi}]");
            if m.cast_lib != expected {
                return Err(issue(
                    format!("{path}.cast_lib"),
                    format!("expected {expected}, the cast it is in, got {}", m.cast_lib),
                ));
            }
            if m.member_num == 0 || cast.members.contains_key(&m.member_num) {
                return Err(issue(
                    format!("{path}.member_num"),
                    format!("{} is zero or used twice", m.member_num),
                ));
            }
            let number = m.member_num;
            let member = member_from_doc(m, &path)?;
            cast.members.insert(number, member);
        }
        casts.push(cast);
    }
    let mut movie = Movie {
        name: doc.movie_props.name,
        stage: Stage {
            width: doc.stage.width,
            height: doc.stage.height,
            bg_color: doc.stage.bg_color,
            title: doc.stage.title,
        },
        tempo: doc.tempo,
        looped: doc.movie_props.looped,
        update_lock: doc.movie_props.update_lock,
        casts,
        score: Score::new(doc.frame_count),
    };
    for (prop, value) in movie.stage_props() {
        movie
            .clone()
            .set_stage_prop(prop, &value)
            .map_err(|e| issue(format!("stage.{prop}"), e))?;
    }
    movie.score = score_from_doc(doc.score, doc.frame_count, "score")?;
    movie.validate().map_err(|i| (i.path, i.message))?;
    Ok(movie)
}

fn member_from_doc(m: MemberDoc, path: &str) -> Result<Member, Issue> {
    let kind = MemberKind::default_of(&m.kind).ok_or_else(|| {
        issue(
            format!("{path}.kind"),
            format!(
                "unknown kind {:?}, expected one of {:?}",
                m.kind,
                MemberKind::NAMES
            ),
        )
    })?;
    let mut member = Member::new(String::new(), kind);
    member
        .set("name", &m.name.into())
        .map_err(|e| issue(format!("{path}.name"), e))?;
    let mut film_frames = 1;
    for (prop, value) in &m.props {
        if prop == "frame_count" && matches!(member.kind, MemberKind::FilmLoop(_)) {
            film_frames = crate::props::int(prop, value, 1..=100_000)
                .map_err(|e| issue(format!("{path}.props.frame_count"), e))?
                as u32;
            continue;
        }
        member
            .set(prop, value)
            .map_err(|e| issue(format!("{path}.props.{prop}"), e))?;
    }
    match &mut member.kind {
        MemberKind::Bitmap(b) => {
            if let Some(media) = m.media {
                let field = format!("{path}.media");
                if media.format != "png" {
                    return Err(issue(
                        format!("{field}.format"),
                        format!("{:?} is not \"png\"", media.format),
                    ));
                }
                let bytes = media::base64_decode(&media.base64)
                    .map_err(|e| issue(format!("{field}.base64"), e))?;
                let (w, h, rgba) =
                    media::png_decode(&bytes).map_err(|e| issue(format!("{field}.base64"), e))?;
                if (w, h) != (b.width, b.height) {
                    return Err(issue(
                        field,
                        format!(
                            "the image is {w}x{h} but props say {}x{}",
                            b.width, b.height
                        ),
                    ));
                }
                b.pixels = Arc::new(rgba);
            }
        }
        MemberKind::Text(t) => {
            for (i, run) in m.styles.into_iter().flatten().enumerate() {
                let field = format!("{path}.styles[{i}]");
                check_style(&run.style, &run.value).map_err(|e| issue(&field, e))?;
                if run.start > run.end {
                    return Err(issue(format!("{field}.end"), "ends before it starts"));
                }
                t.styles.push(StyleRun {
                    start: run.start,
                    end: run.end,
                    style: run.style,
                    value: run.value,
                });
            }
        }
        MemberKind::FilmLoop(f) => {
            let doc = m.score.map(|s| *s).unwrap_or_default();
            f.score = score_from_doc(doc, film_frames, &format!("{path}.score"))?;
        }
        _ => {}
    }
    Ok(member)
}

fn score_from_doc(doc: ScoreDoc, frame_count: u32, path: &str) -> Result<Score, Issue> {
    let mut score = Score::new(frame_count);
    for (i, s) in doc.sprites.into_iter().enumerate() {
        let field = format!("{path}.sprites[{i}]");
        let base = SpriteState {
            sprite_num: s.sprite_num,
            begin_frame: s.begin_frame,
            end_frame: s.end_frame,
            member: s.member,
            loc_h: s.loc_h,
            loc_v: s.loc_v,
            loc_z: s.loc_z,
            width: s.width,
            height: s.height,
            rotation: s.rotation,
            skew: s.skew,
            blend: s.blend,
            ink: s.ink,
            visible: s.visible,
            color: s.color,
        };
        for prop in SpriteProp::ALL {
            base.clone()
                .set(prop, &base.get(prop))
                .map_err(|e| issue(format!("{field}.{}", prop.as_str()), e))?;
        }
        let mut span = SpriteSpan::new(base);
        for (k, kf) in s.keyframes.into_iter().enumerate() {
            let prop = SpriteProp::parse(&kf.prop)
                .map_err(|e| issue(format!("{field}.keyframes[{k}].prop"), e))?;
            span.add_keyframe(KeyframeDef {
                frame: kf.frame,
                prop,
                value: kf.value,
            })
            .map_err(|e| issue(format!("{field}.keyframes[{k}]"), e))?;
        }
        score.insert_span(span).map_err(|e| issue(field, e))?;
    }
    score.tempos = doc.tempos;
    score.sounds = doc.sounds;
    score.transitions = doc.transitions;
    score.palettes = doc.palettes;
    score.markers = doc.markers;
    score.frame_scripts = doc
        .frame_scripts
        .into_iter()
        .map(|s| FrameScriptDef {
            frame: s.frame,
            end_frame: s.end_frame.unwrap_or(s.frame),
            script: s.script,
            code: s.code,
        })
        .collect();
    Ok(score)
}

/// Reads a movie from JSON text; `path` names the source in errors.
///
/// # Errors
/// [`MovieFileError::Invalid`] naming the field.
pub fn parse(text: &[u8], path: &Path) -> Result<Movie, MovieFileError> {
    let mut de = serde_json::Deserializer::from_slice(text);
    let doc: MovieDoc = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let field = e.path().to_string();
        MovieFileError::Invalid {
            path: path.to_owned(),
            field: if field == "." {
                "(document)".into()
            } else {
                field
            },
            message: e.into_inner().to_string(),
        }
    })?;
    de.end().map_err(|e| MovieFileError::Invalid {
        path: path.to_owned(),
        field: "(document)".into(),
        message: e.to_string(),
    })?;
    from_doc(doc).map_err(|(field, message)| MovieFileError::Invalid {
        path: path.to_owned(),
        field,
        message,
    })
}

/// Loads a movie file.
///
/// # Errors
/// The file cannot be read, or is not a valid movie (the error names the field).
pub fn load(path: &Path) -> Result<Movie, MovieFileError> {
    let text = std::fs::read(path).map_err(|source| MovieFileError::Io {
        path: path.to_owned(),
        source,
    })?;
    parse(&text, path)
}

/// Saves a movie file (pretty-printed JSON).
///
/// # Errors
/// The file cannot be written.
pub fn save(movie: &Movie, path: &Path) -> Result<(), MovieFileError> {
    let mut text =
        serde_json::to_vec_pretty(&to_doc(movie)).map_err(|e| MovieFileError::Invalid {
            path: path.to_owned(),
            field: "(document)".into(),
            message: e.to_string(),
        })?;
    text.push(b'\n');
    std::fs::write(path, text).map_err(|source| MovieFileError::Io {
        path: path.to_owned(),
        source,
    })
}

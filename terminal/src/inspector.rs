//! The inspector's content, apart from its drawing: the rows for the selected sprite (its
//! properties, then its member's) and the property under the cursor, which `e` edits.

use stagelink_contracts::PropValue;

use crate::app::App;
use crate::edits::{EditKey, EditStatus};
use crate::values::{SPRITE_PROPS, sprite_prop};

/// One row of the inspector.
#[derive(Debug, Clone, PartialEq)]
pub enum InspectorRow {
    /// A section title.
    Heading(String),
    /// An editable property and its current value.
    Prop {
        /// Which property.
        key: EditKey,
        /// Its value in the model, if known.
        value: Option<PropValue>,
    },
    /// A line of explanation.
    Note(String),
}

impl App {
    /// The inspector's rows for the current selection.
    pub fn inspector_rows(&self) -> Vec<InspectorRow> {
        let mut rows = Vec::new();
        let Some((num, begin)) = self.selected_sprite() else {
            rows.push(InspectorRow::Note(
                "no sprite selected: ↑/↓ in the score, or click the stage".into(),
            ));
            return rows;
        };
        let live = self.state.sprite(num, begin);
        let span_end = live
            .and_then(|s| s.end_frame)
            .or_else(|| self.score.spans.get(&(num, begin)).map(|s| s.end_frame));
        rows.push(InspectorRow::Heading(format!(
            "Sprite {num} · frames {begin}–{}",
            span_end.map_or("?".into(), |e| e.to_string())
        )));
        if live.is_none() {
            rows.push(InspectorRow::Note(format!(
                "not on stage at frame {}",
                self.frame().map_or("?".into(), |f| f.to_string())
            )));
        }
        for prop in SPRITE_PROPS {
            rows.push(InspectorRow::Prop {
                key: EditKey::sprite(num, begin, prop),
                value: live.and_then(|s| sprite_prop(s, prop)),
            });
        }
        let member_ref = live
            .and_then(|s| s.member)
            .or_else(|| self.score.spans.get(&(num, begin)).and_then(|s| s.member));
        if let Some(m) = member_ref {
            match self.state.member(m.cast_lib, m.member_num) {
                Some(info) => {
                    rows.push(InspectorRow::Heading(format!(
                        "Member {}:{} {} ({})",
                        m.cast_lib, m.member_num, info.name, info.kind
                    )));
                    if !info.props.contains_key("name") {
                        rows.push(InspectorRow::Prop {
                            key: EditKey::member(m.cast_lib, m.member_num, "name"),
                            value: Some(PropValue::Text(info.name.clone())),
                        });
                    }
                    for (prop, value) in &info.props {
                        rows.push(InspectorRow::Prop {
                            key: EditKey::member(m.cast_lib, m.member_num, prop.clone()),
                            value: Some(value.clone()),
                        });
                    }
                }
                None => rows.push(InspectorRow::Note(format!(
                    "member {}:{} is not in the cast",
                    m.cast_lib, m.member_num
                ))),
            }
        }
        rows
    }

    /// The property rows only, in order (what the cursor moves over).
    pub fn inspector_props(&self) -> Vec<(EditKey, Option<PropValue>)> {
        self.inspector_rows()
            .into_iter()
            .filter_map(|r| match r {
                InspectorRow::Prop { key, value } => Some((key, value)),
                _ => None,
            })
            .collect()
    }

    /// The property under the inspector's cursor.
    pub fn selected_prop(&self) -> Option<(EditKey, Option<PropValue>)> {
        let props = self.inspector_props();
        let i = self.inspector_cursor.min(props.len().checked_sub(1)?);
        props.into_iter().nth(i)
    }

    /// The status of an edit of this property, if one is shown.
    pub fn edit_status(&self, key: &EditKey) -> Option<&EditStatus> {
        self.edits.get(key).map(|e| &e.status)
    }
}

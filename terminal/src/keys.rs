//! Keys and the mouse: [`App::handle_event`] turns a terminal event into state changes and
//! [`Effect`]s. [`KEY_HELP`] is the one list of bindings — the help overlay draws it, so the
//! overlay cannot drift from what the keys do.

use crossterm::event::{
    Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use ratatui::layout::Position;
use stagelink_contracts::{Command, PropValue};

use crate::app::{App, Effect, Overlay, Prompt, PromptKind};
use crate::edits::EditTarget;
use crate::layout::{Panel, inner};
use crate::score::ScoreGeometry;
use crate::stage::{StageProjection, stage_size};
use crate::values::{ValueKind, format_value, parse_value};

/// Every binding, as the help overlay shows it: (keys, what they do).
pub const KEY_HELP: &[(&str, &str)] = &[
    ("space", "pause / resume"),
    ("← / →", "step one frame back / forward"),
    ("Home", "rewind to frame 1"),
    ("g", "go to frame…"),
    ("t", "set the tempo…"),
    (
        "↑ / ↓",
        "score: channel · stage: sprite · inspector: property · log: scroll",
    ),
    ("PgUp / PgDn", "scroll the focused panel by a page"),
    ("[ / ]", "scroll the score a page of frames back / forward"),
    ("f", "the score follows the playhead again"),
    (
        "mouse",
        "click the score: go to that frame and select its channel",
    ),
    ("", "click the stage: select the sprite · wheel: scroll"),
    (
        "e / Enter",
        "edit the selected property (pending until the stream shows it)",
    ),
    ("x / Del", "dismiss a rejected edit"),
    ("Tab / S-Tab", "next / previous panel"),
    ("L", "cycle the panel layout"),
    ("r", "resync from a fresh snapshot"),
    ("?", "show / hide this help"),
    ("q", "quit"),
];

impl App {
    /// Handles a terminal event (keys, mouse; resizes need nothing: the next render lays out).
    pub fn handle_event(&mut self, event: &Event) -> Vec<Effect> {
        match event {
            Event::Key(key) if key.kind != KeyEventKind::Release => self.handle_key(*key),
            Event::Mouse(mouse) => self.handle_mouse(*mouse),
            _ => Vec::new(),
        }
    }

    /// Handles one key press.
    pub fn handle_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            return vec![Effect::Quit];
        }
        match &self.overlay {
            Overlay::Help => {
                if key.code == KeyCode::Char('q') {
                    return vec![Effect::Quit];
                }
                // Any other key closes the help.
                self.overlay = Overlay::None;
                Vec::new()
            }
            Overlay::Prompt(_) => self.prompt_key(key),
            Overlay::None => self.panel_key(key),
        }
    }

    fn panel_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let mut effects = Vec::new();
        match key.code {
            KeyCode::Char('q') => effects.push(Effect::Quit),
            KeyCode::Char('?') => self.overlay = Overlay::Help,
            KeyCode::Char(' ') => {
                let effect = if self.playing() {
                    self.transport(Command::Pause, "pause")
                } else {
                    self.transport(Command::Resume, "resume")
                };
                effects.push(effect);
            }
            KeyCode::Left => effects.push(self.transport(Command::Step { delta: -1 }, "step -1")),
            KeyCode::Right => effects.push(self.transport(Command::Step { delta: 1 }, "step +1")),
            KeyCode::Home => effects.push(self.transport(Command::Rewind, "rewind")),
            KeyCode::Char('g') => {
                self.overlay = Overlay::Prompt(Prompt::new(PromptKind::GoToFrame, ""));
            }
            KeyCode::Char('t') => {
                let tempo = self
                    .state
                    .movie
                    .map(|m| m.tempo.to_string())
                    .unwrap_or_default();
                self.overlay = Overlay::Prompt(Prompt::new(PromptKind::Tempo, tempo));
            }
            KeyCode::Char('e') => self.start_edit(),
            KeyCode::Enter if self.focus == Panel::Inspector => self.start_edit(),
            KeyCode::Char('x') | KeyCode::Delete => {
                if let Some((key, _)) = self.selected_prop() {
                    self.edits.dismiss(&key);
                }
            }
            KeyCode::Tab => self.focus = self.focus.next(),
            KeyCode::BackTab => self.focus = self.focus.prev(),
            KeyCode::Char('L') => {
                self.preset = self.preset.next();
                self.notify(format!("layout: {}", self.preset.name()), false);
            }
            KeyCode::Char('r') => {
                self.notify("resync requested", false);
                effects.push(Effect::Resync);
            }
            KeyCode::Char('f') => {
                self.score_view.follow = true;
                if let Some(frame) = self.frame() {
                    self.score_view.show_frame(frame, self.score.last_frame());
                }
            }
            KeyCode::Char('[') => {
                let page = i64::from(self.score_view.frames_visible.max(1));
                self.score_view
                    .scroll_frames(-page, self.score.last_frame());
            }
            KeyCode::Char(']') => {
                let page = i64::from(self.score_view.frames_visible.max(1));
                self.score_view.scroll_frames(page, self.score.last_frame());
            }
            KeyCode::Up => self.move_in_panel(-1),
            KeyCode::Down => self.move_in_panel(1),
            KeyCode::PageUp => self.page_in_panel(-1),
            KeyCode::PageDown => self.page_in_panel(1),
            KeyCode::End if self.focus == Panel::Log => self.log_scroll = 0,
            _ => {}
        }
        effects
    }

    /// ↑/↓ in the focused panel.
    fn move_in_panel(&mut self, delta: isize) {
        match self.focus {
            Panel::Score => self.move_channel(delta),
            Panel::Stage => self.move_stage_selection(delta),
            Panel::Movie => {}
            Panel::Inspector => {
                let n = self.inspector_props().len();
                if n > 0 {
                    self.inspector_cursor = self
                        .inspector_cursor
                        .min(n - 1)
                        .saturating_add_signed(delta)
                        .min(n - 1);
                }
            }
            Panel::Log => self.scroll_log(-delta),
        }
    }

    /// PgUp/PgDn in the focused panel.
    fn page_in_panel(&mut self, direction: isize) {
        match self.focus {
            Panel::Score => {
                let page = self.score_view.rows_visible.max(1) as isize;
                let rows = self.score.channels().len();
                self.score_view.scroll_rows(direction * page, rows);
            }
            Panel::Log => {
                let page = inner(self.regions.log).height.max(1) as isize;
                self.scroll_log(-direction * page);
            }
            _ => self.move_in_panel(direction * 5),
        }
    }

    fn scroll_log(&mut self, up: isize) {
        let max = self.log.len().saturating_sub(1);
        self.log_scroll = self.log_scroll.saturating_add_signed(up).min(max);
    }

    /// Moves the selection to the next channel of the score.
    fn move_channel(&mut self, delta: isize) {
        let channels = self.score.channels();
        if channels.is_empty() {
            return;
        }
        let row = match self
            .selected_channel
            .and_then(|c| channels.iter().position(|x| *x == c))
        {
            Some(i) => i.saturating_add_signed(delta).min(channels.len() - 1),
            None => 0,
        };
        self.select_channel(channels[row]);
    }

    /// Moves the selection among the sprites on stage (by channel).
    fn move_stage_selection(&mut self, delta: isize) {
        let frame = self.frame().unwrap_or(1);
        let mut on_stage: Vec<u32> = self
            .state
            .sprites_on(frame)
            .iter()
            .map(|s| s.sprite_num)
            .collect();
        on_stage.sort_unstable();
        on_stage.dedup();
        if on_stage.is_empty() {
            return;
        }
        let i = match self
            .selected_channel
            .and_then(|c| on_stage.iter().position(|x| *x == c))
        {
            Some(i) => i.saturating_add_signed(delta).min(on_stage.len() - 1),
            None => 0,
        };
        self.select_channel(on_stage[i]);
    }

    /// Selects a channel and brings it into the score's view.
    pub(crate) fn select_channel(&mut self, channel: u32) {
        if self.selected_channel != Some(channel) {
            self.selected_channel = Some(channel);
            self.inspector_cursor = 0;
        }
        if let Some(row) = self.score.channels().iter().position(|c| *c == channel) {
            self.score_view.show_row(row);
        }
        // Again at the next render, when the score's size is known.
        self.reveal_selection = true;
    }

    /// `e`: opens the prompt for the property under the inspector's cursor.
    fn start_edit(&mut self) {
        let Some((key, value)) = self.selected_prop() else {
            self.notify("nothing to edit: select a sprite first", true);
            return;
        };
        let kind = match key.target {
            EditTarget::Sprite { .. } => ValueKind::of_sprite_prop(&key.prop),
            EditTarget::Member { .. } => None,
        }
        .or_else(|| value.as_ref().map(ValueKind::of))
        .unwrap_or(ValueKind::Text);
        let input = value.as_ref().map(format_value).unwrap_or_default();
        self.overlay = Overlay::Prompt(Prompt::new(PromptKind::Edit { key, kind }, input));
    }

    fn prompt_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let Overlay::Prompt(prompt) = &mut self.overlay else {
            return Vec::new();
        };
        match key.code {
            KeyCode::Esc => self.overlay = Overlay::None,
            KeyCode::Backspace => {
                prompt.input.pop();
                prompt.error = None;
            }
            KeyCode::Char(c) => {
                prompt.input.push(c);
                prompt.error = None;
            }
            KeyCode::Enter => {
                let prompt = prompt.clone();
                match self.submit(&prompt) {
                    Ok(effect) => {
                        self.overlay = Overlay::None;
                        return vec![effect];
                    }
                    Err(error) => {
                        if let Overlay::Prompt(p) = &mut self.overlay {
                            p.error = Some(error);
                        }
                    }
                }
            }
            _ => {}
        }
        Vec::new()
    }

    /// What Enter in a prompt sends.
    fn submit(&mut self, prompt: &Prompt) -> Result<Effect, String> {
        let input = prompt.input.trim();
        match &prompt.kind {
            PromptKind::GoToFrame => {
                let frame: u32 = input
                    .parse()
                    .map_err(|_| format!("`{input}` is not a frame number"))?;
                let count = self.state.movie.map(|m| m.frame_count);
                if frame == 0 || count.is_some_and(|n| frame > n) {
                    return Err(format!(
                        "frame {frame} is outside 1–{}",
                        count.map_or("?".into(), |n| n.to_string())
                    ));
                }
                Ok(self.transport(Command::GoToFrame { frame }, format!("go to frame {frame}")))
            }
            PromptKind::Tempo => {
                let tempo: u32 = input
                    .parse()
                    .map_err(|_| format!("`{input}` is not a whole number of frames per second"))?;
                if !(1..=1000).contains(&tempo) {
                    return Err(format!("tempo {tempo} is outside 1–1000"));
                }
                Ok(self.transport(Command::SetTempo { tempo }, format!("tempo {tempo}")))
            }
            PromptKind::Edit { key, kind } => {
                let value: PropValue = parse_value(&prompt.input, *kind)?;
                Ok(self.edit(key.clone(), value))
            }
        }
    }

    /// Handles a mouse event: clicks focus and select, the wheel scrolls.
    pub fn handle_mouse(&mut self, mouse: MouseEvent) -> Vec<Effect> {
        if self.overlay != Overlay::None {
            return Vec::new();
        }
        let (col, row) = (mouse.column, mouse.row);
        let Some(panel) = self.regions.panel_at(col, row) else {
            return Vec::new();
        };
        match mouse.kind {
            MouseEventKind::Down(MouseButton::Left) => {
                self.focus = panel;
                match panel {
                    Panel::Score => return self.click_score(col, row),
                    Panel::Stage => self.click_stage(col, row),
                    Panel::Inspector => self.click_inspector(row),
                    Panel::Movie | Panel::Log => {}
                }
            }
            MouseEventKind::ScrollUp | MouseEventKind::ScrollDown => {
                let delta: isize = if mouse.kind == MouseEventKind::ScrollUp {
                    -1
                } else {
                    1
                };
                match panel {
                    Panel::Score if mouse.modifiers.contains(KeyModifiers::SHIFT) => {
                        self.score_view
                            .scroll_frames(delta as i64 * 10, self.score.last_frame());
                    }
                    Panel::Score => {
                        let rows = self.score.channels().len();
                        self.score_view.scroll_rows(delta * 3, rows);
                    }
                    Panel::Log => self.scroll_log(-delta * 3),
                    Panel::Inspector => {
                        let focus = self.focus;
                        self.focus = Panel::Inspector;
                        self.move_in_panel(delta);
                        self.focus = focus;
                    }
                    _ => {}
                }
            }
            MouseEventKind::ScrollLeft | MouseEventKind::ScrollRight if panel == Panel::Score => {
                let delta = if mouse.kind == MouseEventKind::ScrollLeft {
                    -10
                } else {
                    10
                };
                self.score_view
                    .scroll_frames(delta, self.score.last_frame());
            }
            _ => {}
        }
        Vec::new()
    }

    /// A click in the score: the ruler or a cell goes to that frame; a cell (or the gutter)
    /// also selects its channel.
    fn click_score(&mut self, col: u16, row: u16) -> Vec<Effect> {
        let geometry = ScoreGeometry::new(inner(self.regions.score));
        let channels = self.score.channels();
        let channel_at = |row: u16, this: &App| {
            let idx = this.score_view.first_row + usize::from(row - geometry.grid.y);
            channels.get(idx).copied()
        };
        let pos = Position::new(col, row);
        if geometry.gutter.contains(pos) {
            if let Some(channel) = channel_at(row, self) {
                self.select_channel(channel);
            }
            return Vec::new();
        }
        if !(geometry.grid.contains(pos) || geometry.ruler.contains(pos)) {
            return Vec::new();
        }
        if geometry.grid.contains(pos)
            && let Some(channel) = channel_at(row, self)
        {
            self.select_channel(channel);
        }
        let frame = self.score_view.first_frame + u32::from(col - geometry.grid.x);
        if frame > self.score.last_frame() {
            return Vec::new();
        }
        vec![self.transport(Command::GoToFrame { frame }, format!("go to frame {frame}"))]
    }

    /// A click on the stage selects the topmost sprite under it.
    fn click_stage(&mut self, col: u16, row: u16) {
        let (w, h) = stage_size(&self.state);
        let projection = StageProjection::fit(inner(self.regions.stage), w, h);
        let frame = self.frame().unwrap_or(1);
        if let Some((channel, _)) = projection.hit(&self.state, frame, col, row) {
            self.select_channel(channel);
        }
    }

    /// A click on an inspector line moves the cursor to its property.
    fn click_inspector(&mut self, row: u16) {
        let area = inner(self.regions.inspector);
        if row < area.y {
            return;
        }
        let line = self.inspector_scroll + usize::from(row - area.y);
        if let Some(Some(prop)) = crate::ui::inspector::line_props(self).get(line) {
            self.inspector_cursor = *prop;
        }
    }
}

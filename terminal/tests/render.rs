//! Rendering and key handling against recorded states, with ratatui's `TestBackend`: each
//! panel, the help overlay, the prompt, pending and rejected edits, the mouse, and the picker.
//!
//! The recorded state is the `stage` and `project` data of `docs/protocol.md` §8 (frame 25 of
//! the demo: a background, a text sprite and a ball with keyframes at frames 1 and 60).

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{
    Event, KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Color;
use stagelink_client::{ClientError, ClientEvent, CloseReason, ConnectionState};
use stagelink_contracts::{
    Ack, AckStatus, Command, ErrorBody, ErrorCode, Event as StreamEvent, PropValue, Role,
    SpriteDelta, StageFrame, StageSnapshot, StreamName, Welcome, encode_event,
};
use stagelink_terminal::keys::KEY_HELP;
use stagelink_terminal::layout::inner;
use stagelink_terminal::picker::{Choice, ChoiceSource, Picker};
use stagelink_terminal::score::ScoreGeometry;
use stagelink_terminal::stage::{StageProjection, stage_size};
use stagelink_terminal::{App, AppConfig, EditKey, EditStatus, Effect, Overlay, Panel};

const WELCOME: &str = r#"{"protocol":1,"session":"s-7f3a9c2e","server":{"name":"stagelink-player","version":"0.1.0"},"project":"demo","role":"controller","streams":[{"name":"frames","policy":"latest"},{"name":"sprites","policy":"coalesce"}],"capabilities":["commands","snapshots","pixels","custom"],"heartbeat_ms":5000,"idle_timeout_ms":30000}"#;

fn stage() -> StageSnapshot {
    serde_json::from_str(include_str!("fixtures/stage.json")).unwrap()
}

fn project() -> serde_json::Value {
    serde_json::from_str(include_str!("fixtures/project.json")).unwrap()
}

fn event<T: serde::Serialize>(
    stream: StreamName,
    seq: u64,
    frame: u32,
    items: &[T],
) -> ClientEvent {
    let bytes = encode_event(stream, seq, None, frame, items);
    let event: StreamEvent = serde_json::from_slice(&bytes).unwrap();
    ClientEvent::Event(Arc::new(event))
}

fn frames(seq: u64, frame: u32, playing: bool) -> ClientEvent {
    event(
        StreamName::Frames,
        seq,
        frame,
        &[StageFrame {
            frame,
            frame_count: 240,
            tempo: 30,
            playing,
            time_ms: u64::from(frame) * 1000 / 30,
            width: 640,
            height: 480,
        }],
    )
}

/// An app connected to the recorded session, its clock at `t0 + 1 s`.
fn recorded() -> (App, Instant) {
    let t0 = Instant::now();
    let mut app = App::new(
        AppConfig {
            endpoint: "ws://127.0.0.1:61699/ws".into(),
            project: None,
            role: Role::Controller,
            layout: Default::default(),
        },
        t0,
    );
    let welcome: Welcome = serde_json::from_str(WELCOME).unwrap();
    app.apply_client_event(&ClientEvent::Welcome(Arc::new(welcome)), t0);
    app.set_connection(ConnectionState::Connected, t0);
    app.apply_client_event(&ClientEvent::Snapshot(Arc::new(stage())), t0);
    app.set_project(Ok(project()), t0);
    (app, t0)
}

fn draw(app: &mut App, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|f| app.render(f)).unwrap();
    terminal
}

fn redraw(app: &mut App, terminal: &mut Terminal<TestBackend>) {
    terminal.draw(|f| app.render(f)).unwrap();
}

fn buffer(t: &Terminal<TestBackend>) -> &Buffer {
    t.backend().buffer()
}

/// The text of one rectangle of the screen, a line per row.
fn text_in(t: &Terminal<TestBackend>, r: Rect) -> String {
    let buf = buffer(t);
    (r.y..r.bottom())
        .map(|y| {
            (r.x..r.right())
                .map(|x| buf[(x, y)].symbol().to_owned())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn screen(t: &Terminal<TestBackend>) -> String {
    text_in(t, buffer(t).area)
}

fn key(app: &mut App, code: KeyCode) -> Vec<Effect> {
    app.handle_event(&Event::Key(KeyEvent::from(code)))
}

fn type_text(app: &mut App, text: &str) -> Vec<Effect> {
    text.chars()
        .flat_map(|c| key(app, KeyCode::Char(c)))
        .collect()
}

fn click(app: &mut App, column: u16, row: u16) -> Vec<Effect> {
    app.handle_event(&Event::Mouse(MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column,
        row,
        modifiers: KeyModifiers::NONE,
    }))
}

fn sent(effects: &[Effect]) -> (u64, Command) {
    match effects {
        [Effect::Command { ticket, command }] => (*ticket, command.clone()),
        other => panic!("expected one command, got {other:?}"),
    }
}

#[test]
fn status_line_shows_the_connection_and_follows_its_changes() {
    let (mut app, t0) = recorded();
    let t = draw(&mut app, 160, 45);
    let status = text_in(&t, app.regions().status);
    for expected in [
        "● connected",
        "ws://127.0.0.1:61699/ws",
        "project demo",
        "controller",
        "stagelink-player",
    ] {
        assert!(status.contains(expected), "{expected:?} not in {status:?}");
    }
    app.set_connection(ConnectionState::Reconnecting { attempt: 2 }, t0);
    let t = draw(&mut app, 160, 45);
    assert!(text_in(&t, app.regions().status).contains("◌ reconnecting (attempt 2)"));
    app.set_connection(
        ConnectionState::Closed(CloseReason::Fatal {
            code: ErrorCode::SessionReplaced,
            message: "the same client id connected again".into(),
        }),
        t0,
    );
    let t = draw(&mut app, 160, 45);
    assert!(text_in(&t, app.regions().status).contains("✗ closed: session_replaced"));
    assert!(
        screen(&t).contains("reconnecting (attempt 2)"),
        "the log keeps the history"
    );
}

#[test]
fn score_panel_shows_channels_spans_keyframes_and_the_playhead() {
    let (mut app, _) = recorded();
    let t = draw(&mut app, 200, 50);
    let regions = app.regions();
    let g = ScoreGeometry::new(inner(regions.score));
    let text = text_in(&t, regions.score);
    assert!(text.contains("Score · frame 25/240"), "{text}");
    assert_eq!(app.score_view().first_frame, 1);
    let buf = buffer(&t);
    let x_of = |frame: u32| g.grid.x + (frame - 1) as u16;
    // The ruler: numbers, then the playhead mark at frame 25.
    let ruler = text_in(&t, Rect::new(g.ruler.x, g.ruler.y, g.ruler.width, 1));
    assert!(
        ruler.starts_with("1        10        20        30"),
        "{ruler:?}"
    );
    assert_eq!(buf[(x_of(25), g.ruler.y + 1)].symbol(), "▼");
    // Channels 1, 2, 3; the ball (channel 3, the topmost sprite) is selected.
    let gutter = text_in(&t, g.gutter);
    assert!(gutter.starts_with("   1 \n   2 \n▸  3 "), "{gutter:?}");
    assert_eq!(app.selected_channel(), Some(3));
    let row3 = g.grid.y + 2;
    assert_eq!(buf[(x_of(1), row3)].symbol(), "◆", "keyframe on frame 1");
    assert_eq!(buf[(x_of(2), row3)].symbol(), "─");
    assert_eq!(buf[(x_of(60), row3)].symbol(), "◆", "keyframe on frame 60");
    assert_eq!(buf[(x_of(120), row3)].symbol(), "▪", "the span ends on 120");
    assert_eq!(buf[(x_of(121), row3)].symbol(), " ");
    assert_eq!(
        buf[(x_of(1), g.grid.y)].symbol(),
        "●",
        "channel 1 starts on frame 1"
    );
    // The playhead's column is tinted on every channel row.
    assert_ne!(buf[(x_of(25), row3)].bg, buf[(x_of(26), row3)].bg);
}

#[test]
fn score_follows_the_playhead_and_pages() {
    let (mut app, t0) = recorded();
    draw(&mut app, 100, 40);
    let width = app.score_view().frames_visible;
    assert!(width < 200, "a narrow score: {width}");
    app.apply_client_event(&frames(1500, 200, true), t0);
    let t = draw(&mut app, 100, 40);
    let view = *app.score_view();
    assert!(
        view.first_frame <= 200 && 200 < view.first_frame + width,
        "{view:?}"
    );
    let g = ScoreGeometry::new(inner(app.regions().score));
    assert_eq!(
        buffer(&t)[(g.grid.x + (200 - view.first_frame) as u16, g.ruler.y + 1)].symbol(),
        "▼"
    );
    // `[` scrolls back a page and stops following until `f`.
    key(&mut app, KeyCode::Char('['));
    draw(&mut app, 100, 40);
    assert!(!app.score_view().follow);
    assert!(app.score_view().first_frame < view.first_frame);
    key(&mut app, KeyCode::Char('f'));
    draw(&mut app, 100, 40);
    assert_eq!(app.score_view().first_frame, view.first_frame);
}

#[test]
fn stage_panel_draws_sprites_in_z_order_and_frames_the_selection() {
    let (mut app, _) = recorded();
    let t = draw(&mut app, 200, 70);
    let area = inner(app.regions().stage);
    let (w, h) = stage_size(app.state());
    assert_eq!((w, h), (640, 480));
    let projection = StageProjection::fit(area, w, h);
    let placed = projection.place_all(app.state(), 25);
    let keys: Vec<_> = placed.iter().map(|p| p.key).collect();
    assert_eq!(keys, [(1, 1), (2, 1), (3, 1)], "bottom first, by loc_z");
    let ball = &placed[2];
    let buf = buffer(&t);
    // The ball: the shape's red fill tinted by its red sprite colour, framed as selected.
    let inside = (
        ball.cells.x + ball.cells.width / 2,
        ball.cells.y + ball.cells.height / 2,
    );
    assert_eq!(buf[inside].bg, Color::Rgb(255, 16, 16));
    assert_eq!(buf[(ball.cells.x, ball.cells.y)].symbol(), "┏");
    assert_eq!(
        buf[(ball.cells.x + 1, ball.cells.y + 1)].symbol(),
        "3",
        "its channel"
    );
    let text = text_in(&t, app.regions().stage);
    assert!(text.contains("Stage · 640×480"), "{text}");
    assert!(
        text.contains("Score: 0"),
        "the text sprite shows its text:\n{text}"
    );

    // A click on the text sprite selects it; the frame moves there.
    let label = &placed[1];
    let effects = click(&mut app, label.cells.x + 1, label.cells.y);
    assert!(effects.is_empty());
    assert_eq!(app.selected_channel(), Some(2));
    assert_eq!(app.focus(), Panel::Stage);
    let t = draw(&mut app, 200, 70);
    assert_eq!(
        buffer(&t)[(ball.cells.x, ball.cells.y)].symbol(),
        "3",
        "no frame any more"
    );
}

#[test]
fn inspector_shows_the_sprite_and_its_member() {
    let (mut app, _) = recorded();
    let t = draw(&mut app, 200, 70);
    let text = text_in(&t, app.regions().inspector);
    for expected in [
        "Sprite 3 · frames 1–120",
        "member      1:2",
        "loc_h       260",
        "loc_v       204",
        "color       #ff4040",
        "visible     true",
        "Member 1:2 ball (shape)",
        "shape_type  oval",
        "fore_color  #ff4040",
    ] {
        assert!(text.contains(expected), "{expected:?} not in\n{text}");
    }
    // ↓ in the inspector moves the cursor; ↑/↓ in the score change the channel.
    app.handle_event(&Event::Key(KeyEvent::from(KeyCode::Tab)));
    app.handle_event(&Event::Key(KeyEvent::from(KeyCode::Tab)));
    assert_eq!(app.focus(), Panel::Inspector);
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Down);
    assert_eq!(
        app.selected_prop().unwrap().0,
        EditKey::sprite(3, 1, "loc_h")
    );
    let t = draw(&mut app, 200, 50);
    assert!(text_in(&t, app.regions().inspector).contains("›loc_h"));
    key(&mut app, KeyCode::BackTab);
    key(&mut app, KeyCode::BackTab);
    assert_eq!(app.focus(), Panel::Score);
    key(&mut app, KeyCode::Up);
    assert_eq!(app.selected_channel(), Some(2));
    let t = draw(&mut app, 200, 70);
    let text = text_in(&t, app.regions().inspector);
    assert!(text.contains("Sprite 2 · frames 1–240"), "{text}");
    assert!(text.contains("Member 1:5 score_text (text)"), "{text}");
    assert!(text.contains("text        Score: 0"), "{text}");
}

#[test]
fn movie_panel_shows_the_playhead_tempo_and_the_measured_rate() {
    let (mut app, t0) = recorded();
    // Seqs continue after the snapshot's (`frames` 1210); older events are stale and skipped.
    app.apply_client_event(&frames(1000, 99, true), t0);
    for i in 1..=30u32 {
        let at = t0 + Duration::from_millis(u64::from(i) * 1000 / 30);
        app.apply_client_event(&frames(1210 + u64::from(i), 25 + i, true), at);
    }
    app.tick(t0 + Duration::from_millis(1000));
    let t = draw(&mut app, 160, 45);
    let text = text_in(&t, app.regions().movie);
    for expected in [
        "frame       55 / 240",
        "tempo       30 fps",
        "state       ▶ playing",
        "fps         30.0 measured",
        "time        1.8 s",
        "loop        true",
        "update_lock false",
    ] {
        assert!(text.contains(expected), "{expected:?} not in\n{text}");
    }
    app.apply_client_event(&frames(1300, 55, false), t0 + Duration::from_secs(3));
    let t = draw(&mut app, 160, 45);
    let text = text_in(&t, app.regions().movie);
    assert!(text.contains("⏸ paused"), "{text}");
    assert!(text.contains("0.0 measured"), "{text}");
}

#[test]
fn log_shows_events_acks_and_notices() {
    let (mut app, t0) = recorded();
    let mut delta = SpriteDelta::new(3, 1);
    delta.loc_h = Some(270.0);
    for seq in 1050..1060 {
        app.apply_client_event(&event(StreamName::Sprites, seq, 26, &[delta.clone()]), t0);
    }
    app.apply_client_event(
        &ClientEvent::Notice(stagelink_contracts::Notice {
            code: ErrorCode::HostLeft,
            message: "the host of demo went away".into(),
        }),
        t0,
    );
    app.apply_client_event(&ClientEvent::Resynced(Arc::new(stage())), t0);
    let effects = key(&mut app, KeyCode::Char(' '));
    let (ticket, command) = sent(&effects);
    assert_eq!(command, Command::Pause);
    app.command_done(
        ticket,
        Ok(Ack {
            id: 9,
            status: AckStatus::Applied,
            frame: Some(26),
            result: None,
            error: None,
        }),
        t0 + Duration::from_millis(1500),
    );
    let t = draw(&mut app, 160, 45);
    let text = text_in(&t, app.regions().log);
    for expected in [
        "sprites ×10 seq 1050–1059: 1 item",
        "notice host_left: the host of demo went away",
        "resynced: frame 25, 3 sprites, 6 members",
        "ack    pause applied on frame 26",
        "1.5s",
    ] {
        assert!(text.contains(expected), "{expected:?} not in\n{text}");
    }
    assert!(
        screen(&t).contains("host_left: the host of demo went away"),
        "and in the bottom line"
    );
}

#[test]
fn help_overlay_lists_every_binding() {
    let (mut app, _) = recorded();
    assert!(key(&mut app, KeyCode::Char('?')).is_empty());
    assert_eq!(app.overlay(), &Overlay::Help);
    let t = draw(&mut app, 120, 40);
    let text = screen(&t);
    assert!(text.contains("Keys — any key closes"), "{text}");
    for (keys, what) in KEY_HELP {
        assert!(text.contains(what), "{what:?} missing");
        assert!(text.contains(keys), "{keys:?} missing");
    }
    // Keys do nothing else while it shows; any key closes it.
    assert!(key(&mut app, KeyCode::Char(' ')).is_empty());
    assert_eq!(app.overlay(), &Overlay::None);
    let t = draw(&mut app, 120, 40);
    assert!(!screen(&t).contains("Keys — any key closes"));
    key(&mut app, KeyCode::Char('?'));
    assert_eq!(key(&mut app, KeyCode::Char('q')), vec![Effect::Quit]);
}

#[test]
fn transport_keys_send_commands() {
    let (mut app, t0) = recorded();
    assert_eq!(sent(&key(&mut app, KeyCode::Char(' '))).1, Command::Pause);
    app.apply_client_event(&frames(1300, 25, false), t0);
    assert_eq!(sent(&key(&mut app, KeyCode::Char(' '))).1, Command::Resume);
    assert_eq!(
        sent(&key(&mut app, KeyCode::Left)).1,
        Command::Step { delta: -1 }
    );
    assert_eq!(
        sent(&key(&mut app, KeyCode::Right)).1,
        Command::Step { delta: 1 }
    );
    assert_eq!(sent(&key(&mut app, KeyCode::Home)).1, Command::Rewind);

    // `g` asks for a frame, refuses one past the end, then sends.
    assert!(key(&mut app, KeyCode::Char('g')).is_empty());
    assert!(type_text(&mut app, "999").is_empty());
    assert!(key(&mut app, KeyCode::Enter).is_empty());
    let t = draw(&mut app, 120, 40);
    assert!(
        screen(&t).contains("frame 999 is outside 1–240"),
        "{}",
        screen(&t)
    );
    for _ in 0..3 {
        key(&mut app, KeyCode::Backspace);
    }
    type_text(&mut app, "42");
    assert_eq!(
        sent(&key(&mut app, KeyCode::Enter)).1,
        Command::GoToFrame { frame: 42 }
    );
    assert_eq!(app.overlay(), &Overlay::None);

    // `t` starts from the current tempo.
    key(&mut app, KeyCode::Char('t'));
    let t = draw(&mut app, 120, 40);
    assert!(screen(&t).contains("Tempo (frames per second)"));
    assert!(screen(&t).contains("› 30"));
    key(&mut app, KeyCode::Backspace);
    key(&mut app, KeyCode::Backspace);
    type_text(&mut app, "12");
    assert_eq!(
        sent(&key(&mut app, KeyCode::Enter)).1,
        Command::SetTempo { tempo: 12 }
    );
    // Esc leaves a prompt without sending.
    key(&mut app, KeyCode::Char('g'));
    assert!(key(&mut app, KeyCode::Esc).is_empty());
    assert_eq!(app.overlay(), &Overlay::None);

    // A refused command shows in the bottom line.
    let (ticket, _) = sent(&key(&mut app, KeyCode::Right));
    app.command_done(
        ticket,
        Ok(Ack {
            id: 3,
            status: AckStatus::Rejected,
            frame: None,
            result: None,
            error: Some(ErrorBody::new(
                ErrorCode::Forbidden,
                "observers cannot send commands",
            )),
        }),
        t0,
    );
    let t = draw(&mut app, 120, 40);
    let hints = text_in(&t, app.regions().hints);
    assert!(
        hints.contains("step +1 rejected: forbidden: observers cannot send commands"),
        "{hints}"
    );

    assert_eq!(key(&mut app, KeyCode::Char('q')), vec![Effect::Quit]);
    assert_eq!(
        app.handle_event(&Event::Key(KeyEvent::new(
            KeyCode::Char('c'),
            KeyModifiers::CONTROL
        ))),
        vec![Effect::Quit]
    );
}

#[test]
fn tab_moves_the_focus_and_the_title_shows_it() {
    let (mut app, _) = recorded();
    let t = draw(&mut app, 160, 45);
    assert!(text_in(&t, app.regions().score).contains("▶ Score"));
    key(&mut app, KeyCode::Tab);
    let t = draw(&mut app, 160, 45);
    assert!(text_in(&t, app.regions().stage).contains("▶ Stage"));
    assert!(!text_in(&t, app.regions().score).contains("▶ Score"));
    key(&mut app, KeyCode::Char('L'));
    assert_eq!(app.layout().preset, stagelink_terminal::LayoutPreset::Score);
    assert_eq!(app.layout().focus, Panel::Stage);
}

#[test]
fn clicking_the_score_goes_to_that_frame_and_selects_the_channel() {
    let (mut app, _) = recorded();
    draw(&mut app, 200, 50);
    let g = ScoreGeometry::new(inner(app.regions().score));
    let effects = click(&mut app, g.grid.x + 39, g.grid.y + 1);
    assert_eq!(sent(&effects).1, Command::GoToFrame { frame: 40 });
    assert_eq!(app.selected_channel(), Some(2));
    assert_eq!(app.focus(), Panel::Score);
    // The ruler goes to a frame without changing the channel.
    let effects = click(&mut app, g.grid.x + 9, g.ruler.y);
    assert_eq!(sent(&effects).1, Command::GoToFrame { frame: 10 });
    assert_eq!(app.selected_channel(), Some(2));
    // Past the last frame: nothing.
    draw(&mut app, 300, 50);
    let g = ScoreGeometry::new(inner(app.regions().score));
    assert!(click(&mut app, g.grid.right() - 1, g.grid.y).is_empty());
}

/// Opens the edit prompt on a sprite property of the selected sprite and sends `value`.
fn edit(app: &mut App, prop: &str, value: &str) -> (u64, Command) {
    key(app, KeyCode::Tab);
    key(app, KeyCode::Tab);
    assert_eq!(app.focus(), Panel::Inspector);
    let index = app
        .inspector_props()
        .iter()
        .position(|(k, _)| k.prop == prop)
        .unwrap();
    while app.inspector_cursor() < index {
        key(app, KeyCode::Down);
    }
    assert!(key(app, KeyCode::Char('e')).is_empty());
    let Overlay::Prompt(p) = app.overlay().clone() else {
        panic!("no prompt");
    };
    for _ in 0..p.input.chars().count() {
        key(app, KeyCode::Backspace);
    }
    type_text(app, value);
    sent(&key(app, KeyCode::Enter))
}

#[test]
fn an_edit_stays_pending_until_the_stream_confirms_it() {
    let (mut app, t0) = recorded();
    let (ticket, command) = edit(&mut app, "loc_h", "300");
    assert_eq!(
        command,
        Command::SetSpriteProp {
            sprite_num: 3,
            begin_frame: 1,
            prop: "loc_h".into(),
            value: PropValue::Int(300),
        }
    );
    let key_loc_h = EditKey::sprite(3, 1, "loc_h");
    assert_eq!(
        app.edits().get(&key_loc_h).unwrap().status,
        EditStatus::Sent
    );
    let t = draw(&mut app, 200, 50);
    let text = text_in(&t, app.regions().inspector);
    assert!(text.contains("loc_h       260  ⧗ 300 pending"), "{text}");
    assert!(text.contains("Inspector · 1 pending"), "{text}");

    // The ack alone does not confirm it.
    app.command_done(
        ticket,
        Ok(Ack {
            id: 4,
            status: AckStatus::Applied,
            frame: Some(26),
            result: None,
            error: None,
        }),
        t0,
    );
    let t = draw(&mut app, 200, 50);
    let text = text_in(&t, app.regions().inspector);
    assert!(
        text.contains("⧗ 300 applied f26, awaiting stream"),
        "{text}"
    );

    // The host's stream shows it: confirmed, the marker goes, the value is the stream's.
    let mut delta = SpriteDelta::new(3, 1);
    delta.loc_h = Some(300.0);
    app.apply_client_event(&event(StreamName::Sprites, 2000, 26, &[delta]), t0);
    assert!(app.edits().is_empty());
    let t = draw(&mut app, 200, 50);
    let text = text_in(&t, app.regions().inspector);
    assert!(text.contains("loc_h       300"), "{text}");
    assert!(!text.contains('⧗'), "{text}");
    assert!(screen(&t).contains("sprite 3@1 loc_h = 300 confirmed by the stream"));
}

#[test]
fn a_rejected_edit_shows_its_reason() {
    let (mut app, t0) = recorded();
    let (ticket, command) = edit(&mut app, "blend", "500");
    assert!(
        matches!(command, Command::SetSpriteProp { ref prop, value: PropValue::Int(500), .. } if prop == "blend")
    );
    app.command_done(
        ticket,
        Ok(Ack {
            id: 5,
            status: AckStatus::Rejected,
            frame: None,
            result: None,
            error: Some(ErrorBody::new(
                ErrorCode::OutOfRange,
                "`blend` must be within 0..=100, got 500",
            )),
        }),
        t0,
    );
    let t = draw(&mut app, 200, 50);
    let text = text_in(&t, app.regions().inspector);
    assert!(text.contains("blend       100  ✗ 500 rejected"), "{text}");
    assert!(
        text.contains("✗ out_of_range: `blend` must be within 0..=100, got 500"),
        "{text}"
    );
    // On a narrow screen the reason wraps instead of being cut.
    let t = draw(&mut app, 90, 70);
    let text = text_in(&t, app.regions().inspector).replace(['│', '\n', ' '], "");
    assert!(
        text.contains("✗out_of_range:`blend`mustbewithin0..=100,got500"),
        "{text}"
    );
    let hints = text_in(&t, app.regions().hints);
    assert!(
        hints.contains("sprite 3@1 blend rejected: out_of_range"),
        "{hints}"
    );
    // It stays through stream events, until dismissed with `x`.
    let mut delta = SpriteDelta::new(3, 1);
    delta.blend = Some(100);
    app.apply_client_event(&event(StreamName::Sprites, 2001, 26, &[delta]), t0);
    assert!(matches!(
        app.edits()
            .get(&EditKey::sprite(3, 1, "blend"))
            .unwrap()
            .status,
        EditStatus::Rejected { .. }
    ));
    key(&mut app, KeyCode::Char('x'));
    assert!(app.edits().is_empty());
}

#[test]
fn an_edit_without_an_ack_says_so_and_bad_input_is_refused_in_the_prompt() {
    let (mut app, t0) = recorded();
    let (ticket, _) = edit(&mut app, "visible", "false");
    app.command_done(
        ticket,
        Err(ClientError::Timeout {
            what: "command 7 `set_sprite_prop`".into(),
            after: Duration::from_secs(10),
        }),
        t0,
    );
    let t = draw(&mut app, 200, 50);
    let text = text_in(&t, app.regions().inspector);
    assert!(text.contains("? false no ack"), "{text}");
    assert!(text.contains("no answer to command 7"), "{text}");

    // A value of the wrong kind never leaves the prompt.
    key(&mut app, KeyCode::Up);
    key(&mut app, KeyCode::Char('e'));
    type_text(&mut app, "x");
    assert!(key(&mut app, KeyCode::Enter).is_empty());
    let t = draw(&mut app, 200, 50);
    assert!(screen(&t).contains("expected an integer"), "{}", screen(&t));
}

#[test]
fn member_properties_are_edited_with_set_member_prop() {
    let (mut app, _) = recorded();
    let (_, command) = edit(&mut app, "shape_type", "rect");
    assert_eq!(
        command,
        Command::SetMemberProp {
            cast_lib: 1,
            member_num: 2,
            prop: "shape_type".into(),
            value: PropValue::Text("rect".into()),
        }
    );
}

#[test]
fn a_gap_or_a_lagging_reader_resyncs() {
    let (mut app, t0) = recorded();
    let effects = app.apply_client_event(&ClientEvent::Lagged(12), t0);
    assert_eq!(effects, vec![Effect::Resync]);
    assert_eq!(key(&mut app, KeyCode::Char('r')), vec![Effect::Resync]);
    // A second welcome (a reconnect) re-reads the score.
    let welcome: Welcome = serde_json::from_str(WELCOME).unwrap();
    let effects = app.apply_client_event(&ClientEvent::Welcome(Arc::new(welcome)), t0);
    assert_eq!(effects, vec![Effect::FetchProject]);
    let t = draw(&mut app, 160, 45);
    let status = text_in(&t, app.regions().status);
    assert!(status.contains("resyncing"), "{status}");
    app.apply_client_event(&ClientEvent::Resynced(Arc::new(stage())), t0);
    let t = draw(&mut app, 160, 45);
    assert!(!text_in(&t, app.regions().status).contains("resyncing"));
}

#[test]
fn a_small_terminal_still_renders() {
    let (mut app, _) = recorded();
    for (w, h) in [(20, 8), (40, 12), (1, 1)] {
        let t = draw(&mut app, w, h);
        assert_eq!(buffer(&t).area, Rect::new(0, 0, w, h));
    }
    key(&mut app, KeyCode::Char('?'));
    draw(&mut app, 30, 10);
    let mut app = App::new(
        AppConfig {
            endpoint: "pipe://demo".into(),
            project: Some("demo".into()),
            role: Role::Observer,
            layout: Default::default(),
        },
        Instant::now(),
    );
    let mut t = draw(&mut app, 120, 40);
    assert!(screen(&t).contains("waiting for the score…"));
    assert!(screen(&t).contains("waiting for the stage…"));
    assert!(screen(&t).contains("◌ connecting"));
    redraw(&mut app, &mut t);
}

#[test]
fn picker_offers_recent_urls_and_local_sockets() {
    let picker = Picker::new(
        vec![
            Choice {
                url: "ws://10.0.0.5:61699/ws".into(),
                project: None,
                source: ChoiceSource::Recent,
            },
            Choice {
                url: "pipe:///run/user/1000/stagelink/demo.sock".into(),
                project: None,
                source: ChoiceSource::LocalSocket,
            },
        ],
        None,
    );
    let mut t = Terminal::new(TestBackend::new(110, 20)).unwrap();
    t.draw(|f| f.render_widget(&picker, f.area())).unwrap();
    let text = screen(&t);
    for expected in [
        "connect to",
        "› 1 ws://10.0.0.5:61699/ws",
        "used before",
        "2 pipe:///run/user/1000/stagelink/demo.sock",
        "local socket found",
        "Type a URL…",
        "q quit",
    ] {
        assert!(text.contains(expected), "{expected:?} not in\n{text}");
    }
}

/// Frame 60 of the player's built-in demo, recorded from a running `stagelink-player` (the
/// `stage` response, and the score of its `project` document).
fn recorded_demo() -> App {
    let t0 = Instant::now();
    let mut app = App::new(
        AppConfig {
            endpoint: "pipe:///run/user/1000/stagelink/demo.sock".into(),
            project: Some("demo".into()),
            role: Role::Controller,
            layout: Default::default(),
        },
        t0,
    );
    let stage: StageSnapshot =
        serde_json::from_str(include_str!("fixtures/demo-stage.json")).unwrap();
    app.set_model(stagelink_client::ClientState::from_snapshot(&stage), t0);
    app.set_connection(ConnectionState::Connected, t0);
    let project = serde_json::from_str(include_str!("fixtures/demo-project.json")).unwrap();
    app.set_project(Ok(project), t0);
    app
}

#[test]
fn the_recorded_demo_renders_every_panel() {
    let mut app = recorded_demo();
    assert_eq!(app.state().sprites.len(), 76);
    assert_eq!(app.selected_channel(), Some(79), "the topmost sprite");
    let t = draw(&mut app, 160, 48);
    let r = app.regions();
    let score = text_in(&t, r.score);
    assert!(score.contains("frame 60/240"), "{score}");
    let g = ScoreGeometry::new(inner(r.score));
    assert_eq!(
        app.score_view().first_row + usize::from(g.grid.height) - 1,
        app.score()
            .channels()
            .iter()
            .position(|c| *c == 79)
            .unwrap(),
        "the selected channel is scrolled into view, at the bottom"
    );
    assert!(score.contains("▸ 79"), "{score}");
    let inspector = text_in(&t, r.inspector);
    assert!(
        inspector.contains("Sprite 79 · frames 30–210"),
        "{inspector}"
    );
    assert!(
        inspector.contains("Member 1:7 star (bitmap)"),
        "{inspector}"
    );
    assert!(text_in(&t, r.movie).contains("frame       60 / 240"));
    let stage = text_in(&t, r.stage);
    assert!(
        stage.contains("Stagelink demo"),
        "the title sprite's text:\n{stage}"
    );
    let (w, h) = stage_size(app.state());
    let placed = StageProjection::fit(inner(r.stage), w, h).place_all(app.state(), 60);
    assert!(
        placed.len() > 60,
        "most sprites are drawn: {}",
        placed.len()
    );

    // ↑ in the score walks the channels; on the stage ↓ walks the sprites on stage.
    key(&mut app, KeyCode::Up);
    assert_eq!(app.selected_channel(), Some(78));
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::Down);
    assert_eq!(app.selected_channel(), Some(79));
    // Rows scroll with PgUp in the score, the wheel too.
    key(&mut app, KeyCode::BackTab);
    let before = app.score_view().first_row;
    key(&mut app, KeyCode::PageUp);
    assert!(app.score_view().first_row < before);
    app.handle_event(&Event::Mouse(MouseEvent {
        kind: MouseEventKind::ScrollDown,
        column: g.grid.x + 3,
        row: g.grid.y + 1,
        modifiers: KeyModifiers::NONE,
    }));
    draw(&mut app, 160, 48);
}

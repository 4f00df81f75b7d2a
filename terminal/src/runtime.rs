//! The event loop and the terminal's lifecycle: [`launch`] (settings, picker, connecting, the
//! session, restoring the terminal), [`TerminalGuard`] (raw mode, alternate screen and mouse,
//! undone on drop and on panic), and [`App::run`], which feeds keys, client events, command
//! answers and time into the [`App`] and carries out its [`Effect`]s.

use std::io::{self, Stdout};
use std::time::{Duration, Instant};

use anyhow::Context;
use crossterm::event::{
    DisableMouseCapture, EnableMouseCapture, Event, EventStream, KeyCode, KeyEventKind,
    KeyModifiers,
};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use futures_util::{FutureExt, Stream, StreamExt};
use ratatui::Terminal;
use ratatui::backend::{Backend, CrosstermBackend};
use stagelink_client::{Client, ClientConfig, ClientError, ClientEvent, Target};
use stagelink_contracts::Ack;
use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;

use crate::app::{App, AppConfig, Effect};
use crate::cli::Args;
use crate::edits::Ticket;
use crate::log::LogKind;
use crate::picker::{Choice, ChoiceSource, Picker, PickerAction, choices, local_sockets};
use crate::settings::{Settings, Transport, strip_token};
use crate::ui::picker::ConnectingScreen;

/// How often time-driven state (fps, pending edits, messages) is refreshed.
const TICK: Duration = Duration::from_millis(250);
/// The shortest time between two redraws caused by stream events (~30 per second).
const FRAME: Duration = Duration::from_millis(33);
/// Client events applied in one go before the screen gets a chance to redraw.
const EVENT_BATCH: usize = 512;
/// How long quitting waits for the client's `bye`.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// The real terminal, in raw mode on the alternate screen, restored when dropped.
pub struct TerminalGuard {
    /// The ratatui terminal.
    pub terminal: Terminal<CrosstermBackend<Stdout>>,
    /// Mouse capture was turned on (and must be turned off).
    mouse: bool,
}

impl std::fmt::Debug for TerminalGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TerminalGuard")
            .field("mouse", &self.mouse)
            .finish()
    }
}

impl TerminalGuard {
    /// Enters raw mode and the alternate screen (and captures the mouse when asked). A panic
    /// from then on restores the terminal before its message is printed.
    ///
    /// # Errors
    /// When the terminal cannot be switched (not a terminal).
    pub fn enter(mouse: bool) -> io::Result<Self> {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore(true);
            previous(info);
        }));
        enable_raw_mode()?;
        let mut stdout = io::stdout();
        if let Err(e) = execute!(stdout, EnterAlternateScreen) {
            restore(false);
            return Err(e);
        }
        if mouse && let Err(e) = execute!(stdout, EnableMouseCapture) {
            restore(false);
            return Err(e);
        }
        let terminal = match Terminal::new(CrosstermBackend::new(stdout)) {
            Ok(t) => t,
            Err(e) => {
                restore(mouse);
                return Err(e);
            }
        };
        Ok(Self { terminal, mouse })
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        let _ = self.terminal.show_cursor();
        restore(self.mouse);
    }
}

/// Leaves the alternate screen and raw mode (best effort: this runs on the way out).
fn restore(mouse: bool) {
    let mut stdout = io::stdout();
    if mouse {
        let _ = execute!(stdout, DisableMouseCapture);
    }
    let _ = execute!(stdout, LeaveAlternateScreen, crossterm::cursor::Show);
    let _ = disable_raw_mode();
}

/// The whole program after argument parsing.
///
/// # Errors
/// A URL that cannot be used, a terminal that cannot be driven, or a first connection that
/// fails when the URL came from the command line.
pub async fn launch(args: Args) -> anyhow::Result<()> {
    if let Some(url) = &args.url {
        Target::parse(url).with_context(|| format!("cannot use `{url}`"))?;
    }
    let settings_path = match &args.config {
        Some(p) => Ok(p.clone()),
        None => Settings::default_path(),
    };
    let (mut settings, settings_problem) = match &settings_path {
        Ok(path) => match Settings::load(path) {
            Ok(s) => (s, None),
            Err(e) => (Settings::default(), Some(e.to_string())),
        },
        Err(e) => (Settings::default(), Some(e.to_string())),
    };
    if let Some(problem) = &settings_problem {
        tracing::warn!(%problem, "using default settings");
    }

    let mut guard = TerminalGuard::enter(!args.no_mouse).context("setting up the terminal")?;
    let mut input = EventStream::new();
    let mut picker = args.url.is_none().then(|| {
        let sockets = local_sockets(args.project.as_deref());
        let mut p = Picker::new(
            choices(&settings, args.project.as_deref(), &sockets),
            args.project.clone(),
        );
        p.message = settings_problem.clone().map(|m| (m, true));
        p
    });

    let (client, choice) = loop {
        let choice = match (&mut picker, &args.url) {
            (Some(p), _) => match pick(&mut guard.terminal, &mut input, p).await? {
                Some(choice) => choice,
                None => return Ok(()),
            },
            (None, Some(url)) => Choice {
                url: url.clone(),
                project: args.project.clone(),
                source: ChoiceSource::Typed,
            },
            (None, None) => return Ok(()),
        };
        let config = args.client_config(&choice.url, choice.project.as_deref());
        match connect(&mut guard.terminal, &mut input, config, &choice.url).await? {
            Connecting::Connected(client) => break (client, choice),
            Connecting::Cancelled if picker.is_some() => {}
            Connecting::Cancelled => return Ok(()),
            Connecting::Failed(e) => match &mut picker {
                Some(p) => p.message = Some((format!("{}: {e}", strip_token(&choice.url)), true)),
                None => {
                    drop(guard);
                    return Err(anyhow::Error::new(e)
                        .context(format!("connecting to {}", strip_token(&choice.url))));
                }
            },
        }
    };

    settings.remember(&choice.url, choice.project.as_deref());
    if client
        .welcome()
        .and_then(|w| w.server.name.clone())
        .is_some_and(|n| n == "stagelink-relay")
    {
        settings.preferred_transport = Some(Transport::Relay);
    }
    save(&settings, &settings_path);

    let app = App::new(
        AppConfig {
            endpoint: strip_token(&choice.url),
            project: choice.project.clone(),
            role: args.role(),
            layout: settings.layout,
        },
        Instant::now(),
    );
    let outcome = app.run(&mut guard.terminal, &client, &mut input).await;
    let _ = tokio::time::timeout(CLOSE_WAIT, client.close()).await;
    drop(guard);
    let app = outcome?;
    settings.layout = app.layout();
    save(&settings, &settings_path);
    Ok(())
}

fn save(settings: &Settings, path: &Result<std::path::PathBuf, crate::settings::SettingsError>) {
    match path {
        Ok(path) => {
            if let Err(e) = settings.save(path) {
                tracing::warn!(error = %e, "settings not saved");
            }
        }
        Err(e) => tracing::warn!(error = %e, "settings not saved"),
    }
}

fn is_quit_key(event: &Event) -> bool {
    matches!(event, Event::Key(k) if k.kind != KeyEventKind::Release
        && (matches!(k.code, KeyCode::Char('q') | KeyCode::Esc)
            || (k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL))))
}

/// Shows the picker until something is chosen (`None`: the user quit).
async fn pick<B, S>(
    terminal: &mut Terminal<B>,
    input: &mut S,
    picker: &mut Picker,
) -> anyhow::Result<Option<Choice>>
where
    B: Backend,
    B::Error: Send + Sync + 'static,
    S: Stream<Item = io::Result<Event>> + Unpin,
{
    loop {
        terminal.draw(|f| f.render_widget(&*picker, f.area()))?;
        let Some(event) = input.next().await else {
            return Ok(None);
        };
        if let Event::Key(key) = event.context("reading the terminal")?
            && key.kind != KeyEventKind::Release
        {
            match picker.handle_key(key) {
                PickerAction::None => {}
                PickerAction::Connect(choice) => {
                    picker.message = None;
                    return Ok(Some(choice));
                }
                PickerAction::Quit => return Ok(None),
            }
        }
    }
}

/// How a first connection ended.
enum Connecting {
    Connected(Client),
    Cancelled,
    Failed(ClientError),
}

/// Connects, showing "connecting…" and letting `q` cancel.
async fn connect<B, S>(
    terminal: &mut Terminal<B>,
    input: &mut S,
    config: ClientConfig,
    url: &str,
) -> anyhow::Result<Connecting>
where
    B: Backend,
    B::Error: Send + Sync + 'static,
    S: Stream<Item = io::Result<Event>> + Unpin,
{
    let shown = strip_token(url);
    let connecting = Client::connect(config);
    tokio::pin!(connecting);
    loop {
        terminal.draw(|f| f.render_widget(ConnectingScreen { url: &shown }, f.area()))?;
        tokio::select! {
            result = &mut connecting => {
                return Ok(match result {
                    Ok(client) => Connecting::Connected(client),
                    Err(e) => Connecting::Failed(e),
                });
            }
            event = input.next() => match event {
                Some(Ok(event)) if is_quit_key(&event) => return Ok(Connecting::Cancelled),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(anyhow::Error::new(e).context("reading the terminal")),
                None => return Ok(Connecting::Cancelled),
            },
        }
    }
}

/// An answer coming back from a spawned task.
enum Done {
    Command {
        ticket: Ticket,
        result: Result<Ack, ClientError>,
    },
    Project(Result<serde_json::Value, String>),
}

impl App {
    /// Runs a session until the user quits: draws, reads keys and the mouse, follows every
    /// stream of `client` (its reconnects and resyncs included), and sends commands.
    /// Returns the app, so its layout can be remembered.
    ///
    /// # Errors
    /// When the terminal cannot be read or drawn.
    pub async fn run<B, S>(
        mut self,
        terminal: &mut Terminal<B>,
        client: &Client,
        input: &mut S,
    ) -> anyhow::Result<App>
    where
        B: Backend,
        B::Error: Send + Sync + 'static,
        S: Stream<Item = io::Result<Event>> + Unpin,
    {
        // The model and the stream after it, taken together so nothing falls in between.
        let (model, mut events) = client.subscribe_state();
        let now = Instant::now();
        self.welcome = client.welcome();
        self.set_model(model, now);
        let mut connection = client.state();
        self.set_connection(connection.borrow_and_update().clone(), now);

        let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Done>();
        self.carry_out(Effect::FetchProject, client, &done_tx);

        let mut ticker = tokio::time::interval(TICK);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let mut frame_timer = tokio::time::interval(FRAME);
        frame_timer.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let (mut events_open, mut connection_open) = (true, true);
        let mut dirty = false;
        terminal.draw(|f| self.render(f))?;

        loop {
            tokio::select! {
                event = input.next() => match event {
                    Some(Ok(event)) => {
                        let effects = self.handle_event(&event);
                        if self.carry_out_all(effects, client, &done_tx) {
                            break;
                        }
                        // Keys answer at once; stream redraws are paced by the frame timer.
                        terminal.draw(|f| self.render(f))?;
                        dirty = false;
                    }
                    Some(Err(e)) => return Err(anyhow::Error::new(e).context("reading the terminal")),
                    None => break,
                },
                event = events.next(), if events_open => match event {
                    Some(event) => {
                        let mut effects = self.apply_one(&event);
                        // Apply whatever else is already there before drawing again.
                        for _ in 0..EVENT_BATCH {
                            match events.next().now_or_never() {
                                Some(Some(event)) => effects.extend(self.apply_one(&event)),
                                Some(None) => {
                                    events_open = false;
                                    break;
                                }
                                None => break,
                            }
                        }
                        if self.carry_out_all(effects, client, &done_tx) {
                            break;
                        }
                        dirty = true;
                    }
                    None => events_open = false,
                },
                changed = connection.changed(), if connection_open => match changed {
                    Ok(()) => {
                        let state = connection.borrow_and_update().clone();
                        self.set_connection(state, Instant::now());
                        dirty = true;
                    }
                    Err(_) => connection_open = false,
                },
                Some(done) = done_rx.recv() => {
                    let now = Instant::now();
                    match done {
                        Done::Command { ticket, result } => self.command_done(ticket, result, now),
                        Done::Project(result) => self.set_project(result, now),
                    }
                    dirty = true;
                }
                _ = ticker.tick() => {
                    self.tick(Instant::now());
                    dirty = true;
                }
                _ = frame_timer.tick(), if dirty => {
                    terminal.draw(|f| self.render(f))?;
                    dirty = false;
                }
            }
        }
        Ok(self)
    }

    fn apply_one(&mut self, event: &ClientEvent) -> Vec<Effect> {
        self.apply_client_event(event, Instant::now())
    }

    /// Carries out effects; true when one of them is `Quit`.
    fn carry_out_all(
        &mut self,
        effects: Vec<Effect>,
        client: &Client,
        done: &mpsc::UnboundedSender<Done>,
    ) -> bool {
        let mut quit = false;
        for effect in effects {
            quit |= self.carry_out(effect, client, done);
        }
        quit
    }

    fn carry_out(
        &mut self,
        effect: Effect,
        client: &Client,
        done: &mpsc::UnboundedSender<Done>,
    ) -> bool {
        match effect {
            Effect::Command { ticket, command } => {
                let (client, done) = (client.clone(), done.clone());
                tokio::spawn(async move {
                    let result = client.command(command).await;
                    let _ = done.send(Done::Command { ticket, result });
                });
            }
            Effect::FetchProject => {
                let (client, done) = (client.clone(), done.clone());
                tokio::spawn(async move {
                    let result = client.project().await.map_err(|e| e.to_string());
                    let _ = done.send(Done::Project(result));
                });
            }
            Effect::Resync => {
                if let Err(e) = client.resync() {
                    self.log
                        .push(LogKind::Error, format!("resync: {e}"), Instant::now());
                }
            }
            Effect::Quit => return true,
        }
        false
    }
}

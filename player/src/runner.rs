//! The tick thread: runs the engine at its tempo on a std thread of its own.
//!
//! The thread owns the [`Engine`] and the [`Publisher`] and touches nothing else: publishing
//! is an in-memory record and a non-blocking fan-out, so a slow or stalled client can never
//! hold the engine back. Pacing follows deadlines (`next += period`), so tick cost does not
//! accumulate as drift; a thread that falls more than a few periods behind skips ahead
//! instead of bursting to catch up.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use stagelink_publisher::{Publisher, TickReport};

use crate::engine::Engine;
use crate::publish::publish_tick;
use crate::render::Renderer;

/// How the runner paces and what it renders with.
#[derive(Default)]
pub struct RunnerConfig {
    /// Ticks per second regardless of the movie's tempo (`--fps`); `None` follows the tempo.
    pub fps: Option<u32>,
    /// Draws each tick's frame for the `pixels` stream.
    pub renderer: Option<Box<dyn Renderer>>,
}

impl std::fmt::Debug for RunnerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunnerConfig")
            .field("fps", &self.fps)
            .field("renderer", &self.renderer.as_ref().map(|r| r.name()))
            .finish()
    }
}

/// The running tick thread. Dropping it stops the thread too.
#[derive(Debug)]
pub struct RunnerHandle {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Engine>>,
}

/// One tick: commands, engine, publisher flush, acks, then the picture handed to the
/// renderer when one is given (it draws on its own thread and publishes the pixels; this
/// never waits for it).
pub fn step(
    engine: &mut Engine,
    publisher: &mut Publisher,
    renderer: Option<&mut (dyn Renderer + '_)>,
) -> TickReport {
    let report = publish_tick(engine, publisher);
    if let Some(renderer) = renderer {
        renderer.submit(engine.state());
    }
    report
}

/// Starts the tick thread at the movie's tempo, or at `fps` when given.
///
/// # Errors
/// The thread could not be spawned.
pub fn spawn(
    engine: Engine,
    publisher: Publisher,
    fps: Option<u32>,
) -> std::io::Result<RunnerHandle> {
    spawn_with(
        engine,
        publisher,
        RunnerConfig {
            fps,
            renderer: None,
        },
    )
}

/// Starts the tick thread with a full configuration.
///
/// # Errors
/// The thread could not be spawned.
pub fn spawn_with(
    mut engine: Engine,
    mut publisher: Publisher,
    mut config: RunnerConfig,
) -> std::io::Result<RunnerHandle> {
    let stop = Arc::new(AtomicBool::new(false));
    let stopping = stop.clone();
    let thread = std::thread::Builder::new()
        .name("stagelink-engine".into())
        .spawn(move || {
            let mut next = Instant::now();
            while !stopping.load(Ordering::Acquire) {
                step(&mut engine, &mut publisher, config.renderer.as_deref_mut());
                let fps = config
                    .fps
                    .unwrap_or_else(|| engine.state().tempo())
                    .clamp(1, 1000);
                let period = Duration::from_secs(1) / fps;
                next += period;
                let now = Instant::now();
                if now > next + period * 4 {
                    tracing::debug!(
                        behind_ms = (now - next).as_millis() as u64,
                        "engine fell behind; skipping ahead"
                    );
                    next = now;
                }
                while !stopping.load(Ordering::Acquire) {
                    let now = Instant::now();
                    if now >= next {
                        break;
                    }
                    std::thread::park_timeout(next - now);
                }
            }
            engine
        })?;
    Ok(RunnerHandle {
        stop,
        thread: Some(thread),
    })
}

impl RunnerHandle {
    /// Stops the thread after its current tick and returns the engine (`None` if the thread
    /// panicked).
    pub fn stop(mut self) -> Option<Engine> {
        self.stop_and_join()
    }

    /// Whether the thread has ended.
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }

    fn stop_and_join(&mut self) -> Option<Engine> {
        self.stop.store(true, Ordering::Release);
        let thread = self.thread.take()?;
        thread.thread().unpark();
        thread.join().ok()
    }
}

impl Drop for RunnerHandle {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

//! The render thread and the single-slot mailbox that feeds it.
//!
//! The engine thread posts each tick's [`RenderList`] into the [`Mailbox`] and goes on: a
//! newer list replaces one not yet taken, so when rendering is slower than the tempo, frames
//! are skipped, never queued, and the engine never waits for the renderer (posting holds a
//! lock only for a pointer swap). The render thread takes the newest list, renders it and
//! hands the pixels to [`Hub::publish_pixels`], which tiles, compresses and flow-controls
//! them per client.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;

use stagelink_publisher::Hub;

use super::Renderer;
use super::list::RenderList;
use super::stage::StageRenderer;
use super::transition::in_progress;
use crate::engine::EngineState;

#[derive(Debug)]
struct Slot<T> {
    value: Option<T>,
    closed: bool,
}

/// A single-slot mailbox: [`post`](Mailbox::post) replaces what is there and never blocks
/// for longer than a swap; [`take`](Mailbox::take) waits for a value.
#[derive(Debug)]
pub struct Mailbox<T> {
    slot: Mutex<Slot<T>>,
    ready: Condvar,
}

impl<T> Default for Mailbox<T> {
    fn default() -> Self {
        Self {
            slot: Mutex::new(Slot {
                value: None,
                closed: false,
            }),
            ready: Condvar::new(),
        }
    }
}

impl<T> Mailbox<T> {
    /// An empty, open mailbox.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Slot<T>> {
        // A panic while holding the lock cannot leave the slot half-written.
        self.slot.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Puts `value` in the slot. Returns the value it replaced (one the taker never saw).
    pub fn post(&self, value: T) -> Option<T> {
        let old = self.lock().value.replace(value);
        self.ready.notify_one();
        old
    }

    /// Takes the value, waiting for one; `None` once the mailbox is closed and empty.
    pub fn take(&self) -> Option<T> {
        let mut slot = self.lock();
        loop {
            if let Some(v) = slot.value.take() {
                return Some(v);
            }
            if slot.closed {
                return None;
            }
            slot = self
                .ready
                .wait(slot)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Takes the value if there is one.
    pub fn try_take(&self) -> Option<T> {
        self.lock().value.take()
    }

    /// Closes the mailbox: [`take`](Mailbox::take) returns what is left, then `None`.
    pub fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
    }
}

/// Counters of the render thread.
#[derive(Debug, Default)]
pub struct RenderStats {
    /// Lists the engine posted.
    pub posted: AtomicU64,
    /// Lists replaced in the mailbox before the render thread took them.
    pub skipped: AtomicU64,
    /// Frames rendered and published.
    pub rendered: AtomicU64,
    /// Lists not rendered because the picture had not changed (or `update_lock` was on).
    pub unchanged: AtomicU64,
    /// Frames the GPU failed (the thread then goes on with the CPU).
    pub failed: AtomicU64,
}

/// The render thread: implements [`Renderer`] for the runner.
#[derive(Debug)]
pub struct RenderThread {
    name: String,
    mailbox: Arc<Mailbox<RenderList>>,
    stats: Arc<RenderStats>,
    thread: Option<JoinHandle<()>>,
}

impl RenderThread {
    /// Starts a thread that renders with `renderer` and publishes to `hub`.
    ///
    /// # Errors
    /// The thread could not be spawned.
    pub fn spawn(renderer: StageRenderer, hub: Hub) -> std::io::Result<Self> {
        let name = renderer.name();
        let mailbox = Arc::new(Mailbox::new());
        let stats = Arc::new(RenderStats::default());
        let thread = {
            let mailbox = mailbox.clone();
            let stats = stats.clone();
            std::thread::Builder::new()
                .name("stagelink-render".into())
                .spawn(move || run(renderer, hub, &mailbox, &stats))?
        };
        Ok(Self {
            name,
            mailbox,
            stats,
            thread: Some(thread),
        })
    }

    /// Posts a list (replacing one not yet rendered).
    pub fn post(&self, list: RenderList) {
        self.stats.posted.fetch_add(1, Ordering::Relaxed);
        if self.mailbox.post(list).is_some() {
            self.stats.skipped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The thread's counters (they outlive the thread).
    pub fn stats(&self) -> Arc<RenderStats> {
        self.stats.clone()
    }

    /// Stops the thread after the frame it is drawing (a posted list not yet taken is still
    /// drawn) and waits for it.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.mailbox.close();
        if let Some(t) = self.thread.take()
            && t.join().is_err()
        {
            tracing::error!("the render thread panicked");
        }
    }
}

impl Drop for RenderThread {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Renderer for RenderThread {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn submit(&mut self, state: &EngineState) {
        self.post(RenderList::from_state(state));
    }
}

/// Whether `next` shows the same picture as `last` (so there is nothing to draw).
fn same_picture(last: &RenderList, next: &RenderList) -> bool {
    !in_progress(last)
        && !in_progress(next)
        && last.width == next.width
        && last.height == next.height
        && last.background == next.background
        && last.items == next.items
}

fn run(mut renderer: StageRenderer, hub: Hub, mailbox: &Mailbox<RenderList>, stats: &RenderStats) {
    let mut last: Option<RenderList> = None;
    while let Some(list) = mailbox.take() {
        if list.update_lock || last.as_ref().is_some_and(|l| same_picture(l, &list)) {
            stats.unchanged.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let rgba = match renderer.render(&list) {
            Ok(rgba) => rgba,
            Err(e) => {
                stats.failed.fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %e, "the GPU renderer failed; going on with the CPU renderer");
                renderer.fall_back_to_cpu();
                match renderer.render(&list) {
                    Ok(rgba) => rgba,
                    Err(e) => {
                        tracing::error!(error = %e, "rendering failed");
                        continue;
                    }
                }
            }
        };
        hub.publish_pixels(list.frame, list.width, list.height, rgba);
        stats.rendered.fetch_add(1, Ordering::Relaxed);
        last = Some(list);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_newer_post_replaces_an_older_one() {
        let m = Mailbox::new();
        assert_eq!(m.post(1), None);
        assert_eq!(m.post(2), Some(1));
        assert_eq!(m.try_take(), Some(2));
        assert_eq!(m.try_take(), None);
        m.post(3);
        m.close();
        assert_eq!(
            m.take(),
            Some(3),
            "what was posted before closing is still taken"
        );
        assert_eq!(m.take(), None);
    }
}

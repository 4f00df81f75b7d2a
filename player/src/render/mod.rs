//! The renderer: draws the stage every tick for the `pixels` stream, on the GPU through wgpu
//! (headless; any adapter, Mesa's lavapipe included) or on the CPU, which draws the same
//! image.
//!
//! ```text
//! engine thread: tick ─▶ RenderList::from_state ─▶ Mailbox (one slot: newer replaces older)
//! render thread: take ─▶ prepare (text → images) ─▶ CPU | GPU ─▶ transition ─▶ Hub::publish_pixels
//! ```
//!
//! The engine never waits for the renderer: when drawing is slower than the tempo, frames
//! are skipped, never queued. `Hub::publish_pixels` does the rest (64×64 tiles, change
//! detection, LZ4, per-client windows and keyframes).
//!
//! ## Layout
//! - [`list`] — [`RenderList`]: one tick's picture as draw items, built from the engine's
//!   state with the browser viewer's conventions (z-order, registration, tint, ink, blend).
//! - [`text`] — text layout (the viewer's word wrap) and the embedded 8×8 bitmap font.
//! - [`raster`] — the per-pixel rules both rasterisers follow ([`raster::shade`]; the GPU
//!   runs the same function in `stage.wgsl`).
//! - [`cpu`] / [`gpu`] — the two rasterisers.
//! - [`transition`] — dissolves, fades and wipes between the old and the new picture.
//! - [`stage`] — [`StageRenderer`]: a list in, the stage's RGBA8 pixels out.
//! - [`thread`] — the [`Mailbox`] and the [`RenderThread`] that publishes.
//!
//! ## Example
//! ```
//! use stagelink_player::demo;
//! use stagelink_player::render::{RenderList, StageRenderer};
//!
//! let mut engine = demo::demo_engine();
//! engine.tick([]);
//! let list = RenderList::from_state(engine.state());
//! let mut renderer = StageRenderer::cpu();
//! let rgba = renderer.render(&list).unwrap();
//! assert_eq!(rgba.len(), 640 * 480 * 4);
//! ```

pub mod cpu;
pub mod gpu;
pub mod list;
pub mod raster;
pub mod stage;
pub mod text;
pub mod thread;
pub mod transition;

use stagelink_publisher::Hub;

use crate::engine::EngineState;

pub use list::RenderList;
pub use stage::StageRenderer;
pub use thread::{Mailbox, RenderThread};

/// Which renderer the player should use (`--renderer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RendererKind {
    /// The GPU when wgpu offers an adapter, else the CPU.
    #[default]
    Auto,
    /// wgpu only (a software adapter such as lavapipe counts).
    Gpu,
    /// The CPU rasteriser only.
    Cpu,
    /// No pixels: the `pixels` stream stays silent and `welcome` omits the capability.
    Off,
}

impl RendererKind {
    /// Every kind, as `--renderer` spells it.
    pub const NAMES: [&'static str; 4] = ["auto", "gpu", "cpu", "off"];

    /// The name `--renderer` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            RendererKind::Auto => "auto",
            RendererKind::Gpu => "gpu",
            RendererKind::Cpu => "cpu",
            RendererKind::Off => "off",
        }
    }
}

impl std::str::FromStr for RendererKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(RendererKind::Auto),
            "gpu" => Ok(RendererKind::Gpu),
            "cpu" => Ok(RendererKind::Cpu),
            "off" => Ok(RendererKind::Off),
            other => Err(format!(
                "unknown renderer {other:?}, expected one of {:?}",
                Self::NAMES
            )),
        }
    }
}

/// What the runner calls after each tick. Runs on the engine thread, so it must not block:
/// the renderer takes a cheap snapshot and draws elsewhere.
pub trait Renderer: Send {
    /// For the startup line `renderer: NAME`, e.g. `gpu (llvmpipe (LLVM 15.0.6, 256 bits))`.
    fn name(&self) -> String;

    /// Hands the tick's picture to the renderer (which publishes the pixels itself).
    fn submit(&mut self, state: &EngineState);
}

/// Why no renderer could be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error(
        "no GPU adapter: wgpu found no Vulkan, Metal or DX12 device (install Mesa's lavapipe, `mesa-vulkan-drivers`, for a software one)"
    )]
    NoAdapter,
    #[error("GPU renderer: {0}")]
    Gpu(String),
    #[error("could not start the render thread: {0}")]
    Thread(String),
}

/// Opens the stage renderer `kind` asks for (`auto`: the GPU when wgpu offers an adapter,
/// else the CPU); `Ok(None)` for `off`.
///
/// # Errors
/// `gpu` without a usable adapter: [`RenderError::NoAdapter`] / [`RenderError::Gpu`].
pub fn open(kind: RendererKind) -> Result<Option<StageRenderer>, RenderError> {
    match kind {
        RendererKind::Off => Ok(None),
        RendererKind::Cpu => Ok(Some(StageRenderer::cpu())),
        RendererKind::Gpu => StageRenderer::gpu().map(Some),
        RendererKind::Auto => match StageRenderer::gpu() {
            Ok(r) => Ok(Some(r)),
            Err(e) => {
                tracing::info!(reason = %e, "no GPU renderer; using the CPU renderer");
                Ok(Some(StageRenderer::cpu()))
            }
        },
    }
}

/// Creates the renderer `kind` asks for, drawing on its own thread and publishing to `hub`;
/// `Ok(None)` for `off`.
///
/// # Errors
/// As [`open`]; [`RenderError::Thread`] when the thread cannot start.
pub fn create(kind: RendererKind, hub: Hub) -> Result<Option<Box<dyn Renderer>>, RenderError> {
    let Some(renderer) = open(kind)? else {
        return Ok(None);
    };
    let thread =
        RenderThread::spawn(renderer, hub).map_err(|e| RenderError::Thread(e.to_string()))?;
    Ok(Some(Box::new(thread)))
}

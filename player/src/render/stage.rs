//! [`StageRenderer`]: a render list in, the stage's pixels out — preparation, text cache,
//! the CPU or GPU rasteriser, and the transition in progress.

use std::collections::HashMap;

use super::RenderError;
use super::cpu::CpuRasterizer;
use super::gpu::GpuRasterizer;
use super::list::{ImageData, RenderList, TextBlock};
use super::raster::{prepare, unpremultiply};
use super::text::rasterize;
use super::transition::TransitionMixer;

/// Renders whose text an entry survives unused.
const TEXT_CACHE_FRAMES: u64 = 8;

enum Backend {
    Cpu(CpuRasterizer),
    Gpu(Box<GpuRasterizer>),
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Backend::Cpu(_) => f.write_str("Cpu"),
            Backend::Gpu(g) => write!(f, "Gpu({})", g.adapter().name),
        }
    }
}

/// Draws render lists into RGBA8 frames (straight alpha, row-major).
#[derive(Debug)]
pub struct StageRenderer {
    backend: Backend,
    /// Rasterised text by everything that decides its pixels, with the render that last used it.
    text_cache: HashMap<TextBlock, (ImageData, u64)>,
    renders: u64,
    transitions: TransitionMixer,
    /// The last frame produced (what a viewer shows now), `shown_size` big.
    shown: Vec<u8>,
    shown_size: Option<(u32, u32)>,
    scratch: Vec<u8>,
}

impl StageRenderer {
    fn with(backend: Backend) -> Self {
        Self {
            backend,
            text_cache: HashMap::new(),
            renders: 0,
            transitions: TransitionMixer::default(),
            shown: Vec::new(),
            shown_size: None,
            scratch: Vec::new(),
        }
    }

    /// The CPU renderer.
    pub fn cpu() -> Self {
        Self::with(Backend::Cpu(CpuRasterizer::default()))
    }

    /// The GPU renderer on the first adapter wgpu offers.
    ///
    /// # Errors
    /// [`RenderError::NoAdapter`] or [`RenderError::Gpu`].
    pub fn gpu() -> Result<Self, RenderError> {
        Ok(Self::with(Backend::Gpu(Box::new(GpuRasterizer::new()?))))
    }

    /// `cpu` or `gpu`.
    pub fn kind(&self) -> &'static str {
        match self.backend {
            Backend::Cpu(_) => "cpu",
            Backend::Gpu(_) => "gpu",
        }
    }

    /// For the startup line: `gpu (ADAPTER)` or `cpu (software)`.
    pub fn name(&self) -> String {
        match &self.backend {
            Backend::Cpu(_) => "cpu (software)".into(),
            Backend::Gpu(g) => format!("gpu ({})", g.adapter().name),
        }
    }

    /// Goes on with the CPU rasteriser (after the GPU failed); the picture stays the same.
    pub fn fall_back_to_cpu(&mut self) {
        self.backend = Backend::Cpu(CpuRasterizer::default());
    }

    /// Renders `list` at the stage's size.
    ///
    /// # Errors
    /// [`RenderError::Gpu`] when the GPU fails (the CPU renderer never does).
    pub fn render(&mut self, list: &RenderList) -> Result<&[u8], RenderError> {
        self.render_scaled(list, list.width, list.height)
    }

    /// Renders `list` with the stage scaled to `width × height`.
    ///
    /// # Errors
    /// [`RenderError::Gpu`] when the GPU fails.
    pub fn render_scaled(
        &mut self,
        list: &RenderList,
        width: u32,
        height: u32,
    ) -> Result<&[u8], RenderError> {
        let (width, height) = (width.max(1), height.max(1));
        self.renders += 1;
        let now = self.renders;
        let cache = &mut self.text_cache;
        let prepared = prepare(list, width, height, |block| {
            if let Some((image, used)) = cache.get_mut(block) {
                *used = now;
                return image.clone();
            }
            let image = rasterize(block);
            cache.insert(block.clone(), (image.clone(), now));
            image
        });
        cache.retain(|_, (_, used)| now - *used < TEXT_CACHE_FRAMES);
        match &mut self.backend {
            Backend::Cpu(cpu) => cpu.draw(&prepared, &mut self.scratch),
            Backend::Gpu(gpu) => gpu.draw(&prepared, &mut self.scratch)?,
        }
        unpremultiply(&mut self.scratch);
        let shown = (self.shown_size == Some((width, height))).then_some(self.shown.as_slice());
        self.transitions
            .apply(list, &mut self.scratch, width, height, shown);
        std::mem::swap(&mut self.shown, &mut self.scratch);
        self.shown_size = Some((width, height));
        Ok(&self.shown)
    }

    /// The last frame rendered, if any.
    pub fn last_frame(&self) -> Option<&[u8]> {
        self.shown_size.map(|_| self.shown.as_slice())
    }
}

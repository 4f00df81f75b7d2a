//! The GPU renderer (wgpu, headless): one instanced draw of every item into an RGBA8 target,
//! then a copy back to memory for the tile encoder.
//!
//! Items live in a storage buffer (the [`GpuItem`] layout); images — bitmaps and rasterised
//! text — in one storage buffer of RGBA8 texels that the shader samples by hand (so keying
//! and filtering are exactly the CPU's). Images are uploaded once and found again by identity;
//! when the buffer fills, it is rebuilt with just the current frame's images.

use std::collections::HashMap;
use std::sync::Arc;

use super::RenderError;
use super::raster::{GpuItem, KIND_IMAGE, Prepared, background_pixel};

/// The first size of the image buffer, in texels (16 MiB).
const INITIAL_IMAGE_TEXELS: u64 = 4 << 20;

/// A usable adapter: its name, for `renderer: gpu (NAME)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdapterSummary {
    pub name: String,
    pub backend: String,
    pub device_type: String,
}

fn instance() -> wgpu::Instance {
    // Vulkan, Metal or DX12 (storage buffers in fragment shaders); `WGPU_BACKEND` may narrow
    // it. GL is left out: downlevel GL lacks what the shader needs.
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle().with_env();
    if desc.backends == wgpu::Backends::all() {
        desc.backends = wgpu::Backends::PRIMARY;
    }
    wgpu::Instance::new(desc)
}

fn pick_adapter(instance: &wgpu::Instance) -> Option<wgpu::Adapter> {
    pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
        power_preference: wgpu::PowerPreference::HighPerformance,
        ..Default::default()
    }))
    .ok()
}

/// Whether wgpu offers an adapter here (a GPU, or a software one such as lavapipe).
pub fn probe() -> Option<AdapterSummary> {
    let adapter = pick_adapter(&instance())?;
    Some(summary(&adapter.get_info()))
}

fn summary(info: &wgpu::AdapterInfo) -> AdapterSummary {
    AdapterSummary {
        name: info.name.clone(),
        backend: format!("{:?}", info.backend).to_lowercase(),
        device_type: format!("{:?}", info.device_type),
    }
}

/// A cached image in the image buffer.
#[derive(Debug)]
struct Resident {
    offset: u32,
    /// Keeps the pixels (and so the identity key) alive while cached.
    _keep: Arc<Vec<u8>>,
}

/// The render target and its readback buffer, for one output size.
#[derive(Debug)]
struct Target {
    width: u32,
    height: u32,
    padded_row: u32,
    texture: wgpu::Texture,
    view: wgpu::TextureView,
    readback: wgpu::Buffer,
}

/// Draws prepared frames with wgpu.
#[derive(Debug)]
pub struct GpuRasterizer {
    adapter: AdapterSummary,
    device: wgpu::Device,
    queue: wgpu::Queue,
    pipeline: wgpu::RenderPipeline,
    layout: wgpu::BindGroupLayout,
    uniforms: wgpu::Buffer,
    items: wgpu::Buffer,
    items_capacity: u64,
    images: wgpu::Buffer,
    images_capacity: u64,
    images_used: u64,
    resident: HashMap<(usize, u32, u32), Resident>,
    max_binding: u64,
    target: Option<Target>,
    bind_group: Option<wgpu::BindGroup>,
    scratch: Vec<GpuItem>,
}

impl GpuRasterizer {
    /// Opens the first adapter wgpu offers.
    ///
    /// # Errors
    /// [`RenderError::NoAdapter`] when there is none; [`RenderError::Gpu`] when the device
    /// cannot be opened or the pipeline does not build.
    pub fn new() -> Result<Self, RenderError> {
        let instance = instance();
        let adapter = pick_adapter(&instance).ok_or(RenderError::NoAdapter)?;
        let info = summary(&adapter.get_info());
        let limits = adapter.limits();
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("stagelink renderer"),
            required_limits: limits.clone(),
            ..Default::default()
        }))
        .map_err(|e| RenderError::Gpu(format!("request_device on {}: {e}", info.name)))?;
        device.on_uncaptured_error(Arc::new(|e| {
            tracing::error!(error = %e, "wgpu error in the renderer");
        }));
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let shader = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("stage.wgsl"),
            source: wgpu::ShaderSource::Wgsl(include_str!("stage.wgsl").into()),
        });
        let storage = |binding, ty| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::VERTEX_FRAGMENT,
            ty,
            count: None,
        };
        let read_only = wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Storage { read_only: true },
            has_dynamic_offset: false,
            min_binding_size: None,
        };
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("stage"),
            entries: &[
                storage(
                    0,
                    wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Uniform,
                        has_dynamic_offset: false,
                        min_binding_size: None,
                    },
                ),
                storage(1, read_only),
                storage(2, read_only),
            ],
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("stage"),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipeline = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("stage"),
            layout: Some(&pipeline_layout),
            vertex: wgpu::VertexState {
                module: &shader,
                entry_point: Some("vs_main"),
                compilation_options: Default::default(),
                buffers: &[],
            },
            primitive: wgpu::PrimitiveState::default(),
            depth_stencil: None,
            multisample: wgpu::MultisampleState::default(),
            fragment: Some(wgpu::FragmentState {
                module: &shader,
                entry_point: Some("fs_main"),
                compilation_options: Default::default(),
                targets: &[Some(wgpu::ColorTargetState {
                    format: wgpu::TextureFormat::Rgba8Unorm,
                    blend: Some(wgpu::BlendState::PREMULTIPLIED_ALPHA_BLENDING),
                    write_mask: wgpu::ColorWrites::ALL,
                })],
            }),
            multiview_mask: None,
            cache: None,
        });
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(RenderError::Gpu(format!("building the pipeline: {e}")));
        }
        let max_binding = limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size);
        let uniforms = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("frame"),
            size: 16,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let items_capacity = 256;
        let items = Self::items_buffer(&device, items_capacity);
        let images_capacity = INITIAL_IMAGE_TEXELS.min(max_binding / 4);
        let images = Self::images_buffer(&device, images_capacity);
        Ok(Self {
            adapter: info,
            device,
            queue,
            pipeline,
            layout,
            uniforms,
            items,
            items_capacity,
            images,
            images_capacity,
            images_used: 0,
            resident: HashMap::new(),
            max_binding,
            target: None,
            bind_group: None,
            scratch: Vec::new(),
        })
    }

    fn items_buffer(device: &wgpu::Device, capacity: u64) -> wgpu::Buffer {
        device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("items"),
            size: capacity * std::mem::size_of::<GpuItem>() as u64,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })
    }

    fn images_buffer(device: &wgpu::Device, texels: u64) -> wgpu::Buffer {
        device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("images"),
            size: texels.max(1) * 4,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })
    }

    /// The adapter in use.
    pub fn adapter(&self) -> &AdapterSummary {
        &self.adapter
    }

    /// Makes every image of `frame` resident; returns each slot's texel offset (`None` for an
    /// image too big for the buffer, which is then not drawn).
    fn upload_images(&mut self, frame: &Prepared) -> Vec<Option<u32>> {
        let key = |i: &super::list::ImageData| (i.id(), i.width, i.height);
        let texels = |i: &super::list::ImageData| u64::from(i.width) * u64::from(i.height);
        let missing: u64 = frame
            .images
            .iter()
            .filter(|i| !self.resident.contains_key(&key(i)))
            .map(texels)
            .sum();
        if self.images_used + missing > self.images_capacity {
            // Start over with just this frame's images, in a bigger buffer if they need it.
            let needed: u64 = frame.images.iter().map(texels).sum();
            let max_texels = self.max_binding / 4;
            let mut capacity = self.images_capacity;
            while capacity < needed * 2 && capacity < max_texels {
                capacity = (capacity * 2).min(max_texels);
            }
            if capacity != self.images_capacity {
                self.images = Self::images_buffer(&self.device, capacity);
                self.images_capacity = capacity;
            }
            self.resident.clear();
            self.images_used = 0;
            self.bind_group = None;
        }
        let mut offsets = Vec::with_capacity(frame.images.len());
        for image in &frame.images {
            if let Some(r) = self.resident.get(&key(image)) {
                offsets.push(Some(r.offset));
                continue;
            }
            let n = texels(image);
            if self.images_used + n > self.images_capacity
                || image.pixels.len() as u64 != n * 4
                || self.images_used + n > u64::from(u32::MAX)
            {
                tracing::warn!(
                    width = image.width,
                    height = image.height,
                    "an image does not fit the GPU image buffer; not drawn"
                );
                offsets.push(None);
                continue;
            }
            let offset = self.images_used as u32;
            self.queue
                .write_buffer(&self.images, self.images_used * 4, &image.pixels);
            self.images_used += n;
            self.resident.insert(
                key(image),
                Resident {
                    offset,
                    _keep: image.pixels.clone(),
                },
            );
            offsets.push(Some(offset));
        }
        offsets
    }

    fn ensure_target(&mut self, width: u32, height: u32) {
        if self
            .target
            .as_ref()
            .is_some_and(|t| t.width == width && t.height == height)
        {
            return;
        }
        let texture = self.device.create_texture(&wgpu::TextureDescriptor {
            label: Some("stage"),
            size: wgpu::Extent3d {
                width,
                height,
                depth_or_array_layers: 1,
            },
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: wgpu::TextureFormat::Rgba8Unorm,
            usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
            view_formats: &[],
        });
        let view = texture.create_view(&wgpu::TextureViewDescriptor::default());
        let align = wgpu::COPY_BYTES_PER_ROW_ALIGNMENT;
        let padded_row = (width * 4).div_ceil(align) * align;
        let readback = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size: u64::from(padded_row) * u64::from(height),
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        self.target = Some(Target {
            width,
            height,
            padded_row,
            texture,
            view,
            readback,
        });
    }

    /// Draws `frame` into `out` (`width × height × 4`, premultiplied).
    ///
    /// # Errors
    /// [`RenderError::Gpu`] when the frame cannot be read back (device lost).
    pub fn draw(&mut self, frame: &Prepared, out: &mut Vec<u8>) -> Result<(), RenderError> {
        let (width, height) = (frame.width.max(1), frame.height.max(1));
        let offsets = self.upload_images(frame);
        self.scratch.clear();
        for item in &frame.items {
            let mut g = *item;
            if g.kind[0] == KIND_IMAGE {
                match offsets.get(g.kind[2] as usize).copied().flatten() {
                    Some(offset) => g.kind[2] = offset,
                    None => continue,
                }
            }
            self.scratch.push(g);
        }
        let count = self.scratch.len() as u64;
        if count > self.items_capacity {
            let mut capacity = self.items_capacity;
            while capacity < count {
                capacity *= 2;
            }
            self.items = Self::items_buffer(&self.device, capacity);
            self.items_capacity = capacity;
            self.bind_group = None;
        }
        if count > 0 {
            self.queue
                .write_buffer(&self.items, 0, bytemuck::cast_slice(&self.scratch));
        }
        let size = [width as f32, height as f32, 0.0, 0.0];
        self.queue
            .write_buffer(&self.uniforms, 0, bytemuck::cast_slice(&size));
        self.ensure_target(width, height);
        if self.bind_group.is_none() {
            self.bind_group = Some(self.device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("stage"),
                layout: &self.layout,
                entries: &[
                    wgpu::BindGroupEntry {
                        binding: 0,
                        resource: self.uniforms.as_entire_binding(),
                    },
                    wgpu::BindGroupEntry {
                        binding: 1,
                        resource: self.items.as_entire_binding(),
                    },
                    wgpu::BindGroupEntry {
                        binding: 2,
                        resource: self.images.as_entire_binding(),
                    },
                ],
            }));
        }
        let (Some(target), Some(bind_group)) = (&self.target, &self.bind_group) else {
            return Err(RenderError::Gpu("no render target".into()));
        };
        let bg = background_pixel(frame.background);
        let clear = wgpu::Color {
            r: f64::from(bg[0]) / 255.0,
            g: f64::from(bg[1]) / 255.0,
            b: f64::from(bg[2]) / 255.0,
            a: f64::from(bg[3]) / 255.0,
        };
        let mut encoder = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("stage"),
            });
        {
            let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some("stage"),
                color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                    view: &target.view,
                    depth_slice: None,
                    resolve_target: None,
                    ops: wgpu::Operations {
                        load: wgpu::LoadOp::Clear(clear),
                        store: wgpu::StoreOp::Store,
                    },
                })],
                depth_stencil_attachment: None,
                timestamp_writes: None,
                occlusion_query_set: None,
                multiview_mask: None,
            });
            if count > 0 {
                pass.set_pipeline(&self.pipeline);
                pass.set_bind_group(0, bind_group, &[]);
                pass.draw(0..6, 0..count as u32);
            }
        }
        encoder.copy_texture_to_buffer(
            wgpu::TexelCopyTextureInfo {
                texture: &target.texture,
                mip_level: 0,
                origin: wgpu::Origin3d::ZERO,
                aspect: wgpu::TextureAspect::All,
            },
            wgpu::TexelCopyBufferInfo {
                buffer: &target.readback,
                layout: wgpu::TexelCopyBufferLayout {
                    offset: 0,
                    bytes_per_row: Some(target.padded_row),
                    rows_per_image: Some(height),
                },
            },
            wgpu::Extent3d {
                width,
                height,
                depth_or_array_layers: 1,
            },
        );
        let submission = self.queue.submit([encoder.finish()]);
        let (tx, rx) = std::sync::mpsc::channel();
        target
            .readback
            .map_async(wgpu::MapMode::Read, .., move |r| {
                let _ = tx.send(r);
            });
        self.device
            .poll(wgpu::PollType::Wait {
                submission_index: Some(submission),
                timeout: None,
            })
            .map_err(|e| RenderError::Gpu(format!("waiting for the frame: {e}")))?;
        match rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(RenderError::Gpu(format!("mapping the frame: {e}"))),
            Err(_) => return Err(RenderError::Gpu("the frame was never mapped".into())),
        }
        {
            let mapped = target
                .readback
                .get_mapped_range(..)
                .map_err(|e| RenderError::Gpu(format!("reading the frame: {e}")))?;
            let row = width as usize * 4;
            out.clear();
            out.reserve(row * height as usize);
            for y in 0..height as usize {
                let start = y * target.padded_row as usize;
                out.extend_from_slice(&mapped[start..start + row]);
            }
        }
        target.readback.unmap();
        Ok(())
    }
}

//! The wgpu side, shaped like glyphon's `TextRenderer`: [`GpuOverlay`] holds the
//! overlay's pipelines (`shaders/frame.wgsl`, `shaders/overlay.wgsl`) and textures on a
//! device someone else may own, uploads a frame's data (`prepare`), then records its
//! draw calls into a render pass the caller begins (`draw`). [`GpuRenderer`] owns a
//! device and is the two thin users of that: the offscreen target read back into an
//! image, and a window surface presented.
//!
//! Output is `Rgba8Unorm`, not sRGB: camera pixels are copied through unchanged and
//! colours from the settings land exactly as written, which is what tests compare.

use image::{RgbImage, RgbaImage};
use wgpu::util::DeviceExt;

use super::RenderError;
use super::atlas::GlyphAtlas;
use super::draw::Quad;

/// The offscreen target's format (see the module docs for why not sRGB).
pub const OFFSCREEN_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba8Unorm;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Globals {
    screen: [f32; 2],
    atlas_size: [f32; 2],
}

struct Target {
    width: u32,
    height: u32,
    texture: wgpu::Texture,
    view: wgpu::TextureView,
    readback: wgpu::Buffer,
    padded_row: u32,
}

struct FrameTexture {
    width: u32,
    height: u32,
    texture: wgpu::Texture,
    bind_group: wgpu::BindGroup,
}

struct AtlasTexture {
    size: u32,
    generation: u64,
    texture: wgpu::Texture,
    bind_group: wgpu::BindGroup,
}

/// The frame and overlay pipelines for one target format.
struct Pipelines {
    format: wgpu::TextureFormat,
    frame: wgpu::RenderPipeline,
    overlay: wgpu::RenderPipeline,
}

/// A wgpu device of its own, with the offscreen target and, for a window, the
/// surface's format: the caller of a [`GpuOverlay`] that owns the passes.
pub struct GpuRenderer {
    device: wgpu::Device,
    queue: wgpu::Queue,
    adapter: wgpu::Adapter,
    info: wgpu::AdapterInfo,
    /// The format a window surface is drawn through, once configured.
    surface_format: Option<wgpu::TextureFormat>,
    target: Option<Target>,
}

/// What [`GpuOverlay::prepare`] left for [`GpuOverlay::draw`].
#[derive(Clone, Copy, Default)]
struct Prepared {
    background: bool,
    quads: usize,
}

/// The overlay's GPU resources on one device: pipelines per target format, the camera
/// frame and glyph atlas textures, the quads. It never begins a pass or submits: the
/// caller does, so the overlay can go into any frame on the same device.
pub struct GpuOverlay {
    /// Pipelines for each target format drawn to so far; `current` is in use.
    pipelines: Vec<Pipelines>,
    current: usize,
    frame_layout: wgpu::BindGroupLayout,
    overlay_layout: wgpu::BindGroupLayout,
    linear: wgpu::Sampler,
    nearest: wgpu::Sampler,
    globals: wgpu::Buffer,
    instances: wgpu::Buffer,
    instance_capacity: usize,
    frame: Option<FrameTexture>,
    atlas: Option<AtlasTexture>,
    prepared: Prepared,
}

/// Finds an adapter: whatever the system prefers first, then a software fallback
/// (lavapipe), so machines without a GPU still render.
async fn adapter(
    instance: &wgpu::Instance,
    surface: Option<&wgpu::Surface<'_>>,
) -> Result<wgpu::Adapter, RenderError> {
    let mut opts = wgpu::RequestAdapterOptions {
        power_preference: wgpu::PowerPreference::HighPerformance,
        force_fallback_adapter: false,
        compatible_surface: surface,
        ..Default::default()
    };
    match instance.request_adapter(&opts).await {
        Ok(a) => Ok(a),
        Err(first) => {
            opts.force_fallback_adapter = true;
            instance
                .request_adapter(&opts)
                .await
                .map_err(|_| RenderError::NoAdapter(first.to_string()))
        }
    }
}

fn texture_entry(binding: u32) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::FRAGMENT,
        ty: wgpu::BindingType::Texture {
            sample_type: wgpu::TextureSampleType::Float { filterable: true },
            view_dimension: wgpu::TextureViewDimension::D2,
            multisampled: false,
        },
        count: None,
    }
}

fn sampler_entry(binding: u32) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::FRAGMENT,
        ty: wgpu::BindingType::Sampler(wgpu::SamplerBindingType::Filtering),
        count: None,
    }
}

fn sampler(device: &wgpu::Device, filter: wgpu::FilterMode) -> wgpu::Sampler {
    device.create_sampler(&wgpu::SamplerDescriptor {
        label: Some("emocue sampler"),
        address_mode_u: wgpu::AddressMode::ClampToEdge,
        address_mode_v: wgpu::AddressMode::ClampToEdge,
        mag_filter: filter,
        min_filter: filter,
        ..Default::default()
    })
}

fn pipeline(
    device: &wgpu::Device,
    format: wgpu::TextureFormat,
    label: &str,
    source: &str,
    layout: &wgpu::BindGroupLayout,
    buffers: &[Option<wgpu::VertexBufferLayout<'_>>],
) -> wgpu::RenderPipeline {
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(label),
        source: wgpu::ShaderSource::Wgsl(source.into()),
    });
    let pl = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some(label),
        bind_group_layouts: &[Some(layout)],
        immediate_size: 0,
    });
    device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
        label: Some(label),
        layout: Some(&pl),
        vertex: wgpu::VertexState {
            module: &module,
            entry_point: Some("vs_main"),
            compilation_options: Default::default(),
            buffers,
        },
        primitive: wgpu::PrimitiveState::default(),
        depth_stencil: None,
        multisample: wgpu::MultisampleState::default(),
        fragment: Some(wgpu::FragmentState {
            module: &module,
            entry_point: Some("fs_main"),
            compilation_options: Default::default(),
            targets: &[Some(wgpu::ColorTargetState {
                format,
                // Straight alpha over an opaque background; destination alpha stays 1.
                blend: Some(wgpu::BlendState {
                    color: wgpu::BlendComponent {
                        src_factor: wgpu::BlendFactor::SrcAlpha,
                        dst_factor: wgpu::BlendFactor::OneMinusSrcAlpha,
                        operation: wgpu::BlendOperation::Add,
                    },
                    alpha: wgpu::BlendComponent {
                        src_factor: wgpu::BlendFactor::One,
                        dst_factor: wgpu::BlendFactor::OneMinusSrcAlpha,
                        operation: wgpu::BlendOperation::Add,
                    },
                }),
                write_mask: wgpu::ColorWrites::ALL,
            })],
        }),
        multiview_mask: None,
        cache: None,
    })
}

/// A 2D texture: sampled and CPU-filled (camera frame, glyph atlas) or the offscreen
/// render target.
fn texture_2d(
    device: &wgpu::Device,
    label: &str,
    width: u32,
    height: u32,
    format: wgpu::TextureFormat,
    usage: wgpu::TextureUsages,
) -> wgpu::Texture {
    device.create_texture(&wgpu::TextureDescriptor {
        label: Some(label),
        size: wgpu::Extent3d {
            width,
            height,
            depth_or_array_layers: 1,
        },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format,
        usage,
        view_formats: &[],
    })
}

const SAMPLED: wgpu::TextureUsages =
    wgpu::TextureUsages::TEXTURE_BINDING.union(wgpu::TextureUsages::COPY_DST);

fn pipelines(
    device: &wgpu::Device,
    format: wgpu::TextureFormat,
    frame_layout: &wgpu::BindGroupLayout,
    overlay_layout: &wgpu::BindGroupLayout,
) -> Pipelines {
    let attributes =
        wgpu::vertex_attr_array![0 => Float32x4, 1 => Float32x4, 2 => Float32x4, 3 => Float32x4];
    Pipelines {
        format,
        frame: pipeline(
            device,
            format,
            "frame.wgsl",
            include_str!("../../shaders/frame.wgsl"),
            frame_layout,
            &[],
        ),
        overlay: pipeline(
            device,
            format,
            "overlay.wgsl",
            include_str!("../../shaders/overlay.wgsl"),
            overlay_layout,
            &[Some(wgpu::VertexBufferLayout {
                array_stride: std::mem::size_of::<Quad>() as u64,
                step_mode: wgpu::VertexStepMode::Instance,
                attributes: &attributes,
            })],
        ),
    }
}

impl GpuOverlay {
    /// The overlay's pipelines for targets of `format`, and its buffers, on `device`.
    pub fn new(device: &wgpu::Device, format: wgpu::TextureFormat) -> Self {
        let frame_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("frame"),
            entries: &[texture_entry(0), sampler_entry(1)],
        });
        let overlay_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("overlay"),
            entries: &[
                wgpu::BindGroupLayoutEntry {
                    binding: 0,
                    visibility: wgpu::ShaderStages::VERTEX_FRAGMENT,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Uniform,
                        has_dynamic_offset: false,
                        min_binding_size: None,
                    },
                    count: None,
                },
                texture_entry(1),
                sampler_entry(2),
            ],
        });
        let first = pipelines(device, format, &frame_layout, &overlay_layout);
        let globals = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("globals"),
            size: std::mem::size_of::<Globals>() as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let instance_capacity = 256;
        let instances = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("quads"),
            size: (instance_capacity * std::mem::size_of::<Quad>()) as u64,
            usage: wgpu::BufferUsages::VERTEX | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        GpuOverlay {
            linear: sampler(device, wgpu::FilterMode::Linear),
            nearest: sampler(device, wgpu::FilterMode::Nearest),
            pipelines: vec![first],
            current: 0,
            frame_layout,
            overlay_layout,
            globals,
            instances,
            instance_capacity,
            frame: None,
            atlas: None,
            prepared: Prepared::default(),
        }
    }

    /// Draws to targets of `format` from now on (pipelines are built once per format).
    pub fn use_format(&mut self, device: &wgpu::Device, format: wgpu::TextureFormat) {
        if let Some(i) = self.pipelines.iter().position(|p| p.format == format) {
            self.current = i;
            return;
        }
        self.pipelines.push(pipelines(
            device,
            format,
            &self.frame_layout,
            &self.overlay_layout,
        ));
        self.current = self.pipelines.len() - 1;
    }

    fn upload_frame(&mut self, device: &wgpu::Device, queue: &wgpu::Queue, img: &RgbImage) {
        let (width, height) = img.dimensions();
        if !self
            .frame
            .as_ref()
            .is_some_and(|f| f.width == width && f.height == height)
        {
            let texture = texture_2d(
                device,
                "camera frame",
                width,
                height,
                wgpu::TextureFormat::Rgba8Unorm,
                SAMPLED,
            );
            let view = texture.create_view(&Default::default());
            let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("frame"),
                layout: &self.frame_layout,
                entries: &[
                    wgpu::BindGroupEntry {
                        binding: 0,
                        resource: wgpu::BindingResource::TextureView(&view),
                    },
                    wgpu::BindGroupEntry {
                        binding: 1,
                        resource: wgpu::BindingResource::Sampler(&self.linear),
                    },
                ],
            });
            self.frame = Some(FrameTexture {
                width,
                height,
                texture,
                bind_group,
            });
        }
        let Some(f) = &self.frame else { return };
        let mut rgba = Vec::with_capacity((width * height * 4) as usize);
        for p in img.as_raw().chunks_exact(3) {
            rgba.extend_from_slice(&[p[0], p[1], p[2], 255]);
        }
        queue.write_texture(
            f.texture.as_image_copy(),
            &rgba,
            wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(width * 4),
                rows_per_image: Some(height),
            },
            wgpu::Extent3d {
                width,
                height,
                depth_or_array_layers: 1,
            },
        );
    }

    fn upload_atlas(&mut self, device: &wgpu::Device, queue: &wgpu::Queue, atlas: &GlyphAtlas) {
        let size = atlas.size();
        if self.atlas.as_ref().is_none_or(|a| a.size != size) {
            let texture = texture_2d(
                device,
                "glyph atlas",
                size,
                size,
                wgpu::TextureFormat::R8Unorm,
                SAMPLED,
            );
            let view = texture.create_view(&Default::default());
            let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("overlay"),
                layout: &self.overlay_layout,
                entries: &[
                    wgpu::BindGroupEntry {
                        binding: 0,
                        resource: self.globals.as_entire_binding(),
                    },
                    wgpu::BindGroupEntry {
                        binding: 1,
                        resource: wgpu::BindingResource::TextureView(&view),
                    },
                    wgpu::BindGroupEntry {
                        binding: 2,
                        resource: wgpu::BindingResource::Sampler(&self.nearest),
                    },
                ],
            });
            self.atlas = Some(AtlasTexture {
                size,
                generation: 0,
                texture,
                bind_group,
            });
        }
        let Some(a) = &mut self.atlas else { return };
        if a.generation == atlas.generation() {
            return;
        }
        queue.write_texture(
            a.texture.as_image_copy(),
            atlas.pixels(),
            wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(size),
                rows_per_image: Some(size),
            },
            wgpu::Extent3d {
                width: size,
                height: size,
                depth_or_array_layers: 1,
            },
        );
        a.generation = atlas.generation();
    }

    /// Uploads what a frame needs: camera texture (`background`; `None` leaves the
    /// pass's clear colour behind the captions), atlas, screen size (`width`,
    /// `height`), quads.
    pub fn prepare(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        (width, height): (u32, u32),
        background: Option<&RgbImage>,
        quads: &[Quad],
        atlas: &GlyphAtlas,
    ) -> Result<(), RenderError> {
        if width == 0 || height == 0 {
            return Err(RenderError::Gpu(format!("empty target {width}x{height}")));
        }
        if let Some(img) = background {
            self.upload_frame(device, queue, img);
        }
        self.upload_atlas(device, queue, atlas);
        queue.write_buffer(
            &self.globals,
            0,
            bytemuck::bytes_of(&Globals {
                screen: [width as f32, height as f32],
                atlas_size: [atlas.size() as f32; 2],
            }),
        );
        if quads.len() > self.instance_capacity {
            self.instance_capacity = quads.len().next_power_of_two();
            self.instances = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("quads"),
                contents: &vec![0u8; self.instance_capacity * std::mem::size_of::<Quad>()],
                usage: wgpu::BufferUsages::VERTEX | wgpu::BufferUsages::COPY_DST,
            });
        }
        if !quads.is_empty() {
            queue.write_buffer(&self.instances, 0, bytemuck::cast_slice(quads));
        }
        self.prepared = Prepared {
            background: background.is_some(),
            quads: quads.len(),
        };
        Ok(())
    }

    /// Records the prepared frame into `pass` (begun by the caller on a target of
    /// the format last given to [`GpuOverlay::use_format`]): the camera frame, if
    /// any, then the quads. Clearing and the viewport are the caller's.
    pub fn draw(&self, pass: &mut wgpu::RenderPass<'_>) -> Result<(), RenderError> {
        let Some(atlas_tex) = &self.atlas else {
            return Err(RenderError::Gpu("glyph atlas missing".into()));
        };
        let Some(pipes) = self.pipelines.get(self.current) else {
            return Err(RenderError::Gpu("overlay pipelines missing".into()));
        };
        if let (true, Some(f)) = (self.prepared.background, &self.frame) {
            pass.set_pipeline(&pipes.frame);
            pass.set_bind_group(0, &f.bind_group, &[]);
            pass.draw(0..3, 0..1);
        }
        let quads = self.prepared.quads;
        if quads > 0 {
            pass.set_pipeline(&pipes.overlay);
            pass.set_bind_group(0, &atlas_tex.bind_group, &[]);
            pass.set_vertex_buffer(0, self.instances.slice(..));
            pass.draw(0..6, 0..quads as u32);
        }
        Ok(())
    }
}

/// A black-cleared pass over `view` (the overlay draws over black where it has no
/// camera frame); `viewport` letterboxes the frame-sized picture in a window.
fn overlay_pass<'a>(
    encoder: &'a mut wgpu::CommandEncoder,
    view: &wgpu::TextureView,
    viewport: Option<[f32; 4]>,
) -> wgpu::RenderPass<'a> {
    let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
        label: Some("overlay"),
        color_attachments: &[Some(wgpu::RenderPassColorAttachment {
            view,
            depth_slice: None,
            resolve_target: None,
            ops: wgpu::Operations {
                load: wgpu::LoadOp::Clear(wgpu::Color::BLACK),
                store: wgpu::StoreOp::Store,
            },
        })],
        ..Default::default()
    });
    if let Some([x, y, w, h]) = viewport {
        pass.set_viewport(x, y, w, h, 0.0, 1.0);
    }
    pass
}

impl GpuRenderer {
    /// Opens a device and builds the pipelines. Fails with
    /// [`RenderError::NoAdapter`] when the machine has neither a GPU nor lavapipe.
    pub fn new() -> Result<Self, RenderError> {
        let instance =
            wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        Self::with_instance(&instance, None)
    }

    /// A renderer on an adapter that can present to `surface` (a window), or any
    /// adapter when `None`.
    pub fn with_instance(
        instance: &wgpu::Instance,
        surface: Option<&wgpu::Surface<'_>>,
    ) -> Result<Self, RenderError> {
        let adapter = pollster::block_on(adapter(instance, surface))?;
        let info = adapter.get_info();
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("emocue overlay"),
            required_limits: wgpu::Limits::downlevel_defaults().using_resolution(adapter.limits()),
            ..Default::default()
        }))
        .map_err(|e| RenderError::Device(e.to_string()))?;

        Ok(GpuRenderer {
            device,
            queue,
            adapter,
            info,
            surface_format: None,
            target: None,
        })
    }

    /// The device, for a [`GpuOverlay`] (or anything else) drawing on it.
    pub fn device(&self) -> &wgpu::Device {
        &self.device
    }

    /// The device's queue.
    pub fn queue(&self) -> &wgpu::Queue {
        &self.queue
    }

    /// The adapter's name and backend, for logs and benchmark reports.
    pub fn adapter_name(&self) -> String {
        format!(
            "{} ({:?}, {:?})",
            self.info.name, self.info.backend, self.info.device_type
        )
    }

    fn ensure_target(&mut self, width: u32, height: u32) {
        if self
            .target
            .as_ref()
            .is_some_and(|t| t.width == width && t.height == height)
        {
            return;
        }
        let texture = texture_2d(
            &self.device,
            "overlay target",
            width,
            height,
            OFFSCREEN_FORMAT,
            wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
        );
        let align = wgpu::COPY_BYTES_PER_ROW_ALIGNMENT;
        let padded_row = (width * 4).div_ceil(align) * align;
        let readback = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size: padded_row as u64 * height as u64,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        self.target = Some(Target {
            width,
            height,
            view: texture.create_view(&Default::default()),
            texture,
            readback,
            padded_row,
        });
    }

    /// Offscreen: a `width`×`height` target of [`OFFSCREEN_FORMAT`] cleared to black,
    /// `draw` records into its pass (the overlay's `render`), and the pixels are read
    /// back. The caller wraps it in an error scope with its `prepare`.
    pub fn read_back(
        &mut self,
        width: u32,
        height: u32,
        draw: impl FnOnce(&mut wgpu::RenderPass<'_>) -> Result<(), RenderError>,
    ) -> Result<RgbaImage, RenderError> {
        self.ensure_target(width, height);
        let Some(target) = &self.target else {
            return Err(RenderError::Gpu("render target missing".into()));
        };
        let mut encoder = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("overlay"),
            });
        {
            let mut pass = overlay_pass(&mut encoder, &target.view, None);
            draw(&mut pass)?;
        }
        encoder.copy_texture_to_buffer(
            target.texture.as_image_copy(),
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
        self.queue.submit([encoder.finish()]);

        let (tx, rx) = std::sync::mpsc::channel();
        target
            .readback
            .map_async(wgpu::MapMode::Read, .., move |r| {
                let _ = tx.send(r);
            });
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| RenderError::Gpu(e.to_string()))?;
        rx.recv()
            .map_err(|e| RenderError::Gpu(e.to_string()))?
            .map_err(|e| RenderError::Gpu(e.to_string()))?;
        let mut out = Vec::with_capacity((width * height * 4) as usize);
        {
            let view = target
                .readback
                .get_mapped_range(..)
                .map_err(|e| RenderError::Gpu(e.to_string()))?;
            for row in view.chunks_exact(target.padded_row as usize) {
                out.extend_from_slice(&row[..(width * 4) as usize]);
            }
        }
        target.readback.unmap();
        RgbaImage::from_raw(width, height, out)
            .ok_or_else(|| RenderError::Gpu("readback size mismatch".into()))
    }

    /// Configures a window surface at `width`×`height`; [`GpuRenderer::surface_format`]
    /// then says which format to draw it with. Colours stay exact: an sRGB surface is
    /// drawn through its linear view.
    pub fn configure_surface(
        &mut self,
        surface: &wgpu::Surface<'_>,
        adapter_surface_caps: &wgpu::SurfaceCapabilities,
        width: u32,
        height: u32,
    ) -> Result<(), RenderError> {
        let Some(&format) = adapter_surface_caps.formats.first() else {
            return Err(RenderError::Gpu(
                "the window surface offers no pixel format".into(),
            ));
        };
        let view_format = format.remove_srgb_suffix();
        let Some(mut config) =
            surface.get_default_config(&self.adapter, width.max(1), height.max(1))
        else {
            return Err(RenderError::Gpu(
                "the window surface is not supported by this adapter".into(),
            ));
        };
        config.format = format;
        config.present_mode = wgpu::PresentMode::Fifo;
        config.desired_maximum_frame_latency = 1;
        if let Some(&alpha) = adapter_surface_caps.alpha_modes.first() {
            config.alpha_mode = alpha;
        }
        config.view_formats = if view_format == format {
            vec![]
        } else {
            vec![view_format]
        };
        surface.configure(&self.device, &config);
        self.surface_format = Some(view_format);
        Ok(())
    }

    /// The format a configured window surface is drawn through (its linear view).
    pub fn surface_format(&self) -> Option<wgpu::TextureFormat> {
        self.surface_format
    }

    /// What a surface made on this renderer's adapter can do (formats, alpha modes).
    pub fn surface_caps(&self, surface: &wgpu::Surface<'_>) -> wgpu::SurfaceCapabilities {
        surface.get_capabilities(&self.adapter)
    }

    /// Window: the surface's current texture cleared to black, `draw` records into its
    /// pass with a `width`×`height` picture (the camera frame size) letterboxed, and
    /// the texture is presented. `Ok(false)`: the surface is out of date (a resize is
    /// under way) and the caller should reconfigure and retry.
    pub fn present(
        &mut self,
        surface: &wgpu::Surface<'_>,
        width: u32,
        height: u32,
        draw: impl FnOnce(&mut wgpu::RenderPass<'_>) -> Result<(), RenderError>,
    ) -> Result<bool, RenderError> {
        let texture = match surface.get_current_texture() {
            wgpu::CurrentSurfaceTexture::Success(t)
            | wgpu::CurrentSurfaceTexture::Suboptimal(t) => t,
            wgpu::CurrentSurfaceTexture::Outdated | wgpu::CurrentSurfaceTexture::Lost => {
                return Ok(false);
            }
            // minimised or busy: skip this picture, the next one comes soon
            wgpu::CurrentSurfaceTexture::Timeout | wgpu::CurrentSurfaceTexture::Occluded => {
                return Ok(true);
            }
            other => return Err(RenderError::Gpu(format!("window surface: {other:?}"))),
        };
        let Some(format) = self.surface_format else {
            return Err(RenderError::Gpu("window surface not configured".into()));
        };
        let view = texture.texture.create_view(&wgpu::TextureViewDescriptor {
            format: Some(format),
            ..Default::default()
        });
        let (sw, sh) = (
            texture.texture.width() as f32,
            texture.texture.height() as f32,
        );
        let scale = (sw / width as f32).min(sh / height as f32);
        let (w, h) = (width as f32 * scale, height as f32 * scale);
        let viewport = [(sw - w) / 2.0, (sh - h) / 2.0, w, h];
        let mut encoder = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("window"),
            });
        {
            let mut pass = overlay_pass(&mut encoder, &view, Some(viewport));
            draw(&mut pass)?;
        }
        self.queue.submit([encoder.finish()]);
        self.queue.present(texture);
        Ok(true)
    }
}

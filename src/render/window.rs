//! The overlay in a window (winit + a wgpu surface): the head-mounted display is
//! usually a second monitor, so the window can go fullscreen on a chosen one.
//!
//! The caller's loop owns time: it hands each new picture to [`Window::show`] and,
//! between pictures, calls [`Window::idle`] so resizes and keys are handled while
//! inference is busy. winit is pumped (never `run`), which keeps one loop for the
//! live camera, replays and tests. Esc or closing the window asks the loop to stop.

use std::sync::Arc;
use std::time::Duration;

use image::RgbImage;
use winit::application::ApplicationHandler;
use winit::event::{ElementState, KeyEvent, WindowEvent};
use winit::event_loop::{ActiveEventLoop, EventLoop};
use winit::keyboard::{Key, NamedKey};
use winit::platform::pump_events::{EventLoopExtPumpEvents, PumpStatus};
use winit::window::{Fullscreen, WindowId};

use super::{GpuRenderer, OverlayOptions, RenderError, RenderMode, Renderer, Scene};

/// Where the window goes.
#[derive(Clone, Debug, Default)]
pub struct WindowOptions {
    /// Fullscreen on this monitor (index in `emocue devices` / the error's list);
    /// `None`: a normal 1280x720 window on the primary screen.
    pub monitor: Option<usize>,
}

/// Why a window could not be opened (the fix is in the message).
#[derive(Debug, thiserror::Error)]
pub enum WindowError {
    /// No X11 or Wayland session to open a window on.
    #[error(
        "cannot open a window: {0}. --window needs a desktop session or the display's \
         compositor (DISPLAY or WAYLAND_DISPLAY set); headless, use --render DIR instead"
    )]
    NoDisplay(String),
    /// The requested monitor does not exist.
    #[error("there is no monitor {index}; monitors: {list}")]
    NoMonitor {
        /// The index asked for.
        index: usize,
        /// The monitors there are, numbered.
        list: String,
    },
    /// The GPU side failed.
    #[error(transparent)]
    Render(#[from] RenderError),
}

/// What the window shows: the last picture, kept to redraw after a resize.
struct Picture {
    frame: RgbImage,
    scene: Scene,
}

struct App {
    options: WindowOptions,
    overlay: OverlayOptions,
    mode: RenderMode,
    window: Option<Arc<winit::window::Window>>,
    surface: Option<wgpu::Surface<'static>>,
    renderer: Option<Renderer>,
    picture: Option<Picture>,
    size: (u32, u32),
    reconfigure: bool,
    redraw: bool,
    quit: bool,
    error: Option<WindowError>,
}

impl App {
    fn open(&mut self, el: &ActiveEventLoop) -> Result<(), WindowError> {
        let monitors: Vec<_> = el.available_monitors().collect();
        let mut attrs = winit::window::Window::default_attributes()
            .with_title("emocue")
            .with_inner_size(winit::dpi::LogicalSize::new(1280.0, 720.0));
        if let Some(index) = self.options.monitor {
            let Some(m) = monitors.get(index) else {
                let list = monitors
                    .iter()
                    .enumerate()
                    .map(|(i, m)| format!("{i}: {}", m.name().unwrap_or_else(|| "unnamed".into())))
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(WindowError::NoMonitor {
                    index,
                    list: if list.is_empty() { "none".into() } else { list },
                });
            };
            attrs = attrs.with_fullscreen(Some(Fullscreen::Borderless(Some(m.clone()))));
        }
        let window = Arc::new(
            el.create_window(attrs)
                .map_err(|e| WindowError::NoDisplay(e.to_string()))?,
        );
        let instance = wgpu::Instance::new(
            wgpu::InstanceDescriptor::new_with_display_handle_from_env(Box::new(window.clone())),
        );
        let surface = instance
            .create_surface(window.clone())
            .map_err(|e| RenderError::Gpu(format!("window surface: {e}")))?;
        let gpu = GpuRenderer::with_instance(&instance, Some(&surface))?;
        let size = window.inner_size();
        self.size = (size.width, size.height);
        self.renderer = Some(Renderer::with_gpu(gpu, self.overlay.clone(), self.mode)?);
        self.surface = Some(surface);
        self.window = Some(window);
        self.reconfigure = true;
        Ok(())
    }

    /// Draws the last picture, reconfiguring the surface first when the size changed.
    fn draw(&mut self) -> Result<(), RenderError> {
        let (Some(r), Some(surface)) = (self.renderer.as_mut(), self.surface.as_ref()) else {
            return Ok(());
        };
        for _ in 0..2 {
            if self.reconfigure {
                r.configure_surface(surface, self.size.0, self.size.1)?;
                self.reconfigure = false;
            }
            let Some(p) = &self.picture else {
                return Ok(());
            };
            if r.present(surface, &p.frame, &p.scene)? {
                return Ok(());
            }
            self.reconfigure = true; // outdated surface: reconfigure and try once more
        }
        Ok(())
    }
}

impl ApplicationHandler for App {
    fn resumed(&mut self, el: &ActiveEventLoop) {
        if self.window.is_none()
            && self.error.is_none()
            && let Err(e) = self.open(el)
        {
            self.error = Some(e);
        }
    }

    fn window_event(&mut self, _el: &ActiveEventLoop, _id: WindowId, event: WindowEvent) {
        match event {
            WindowEvent::CloseRequested
            | WindowEvent::KeyboardInput {
                event:
                    KeyEvent {
                        logical_key: Key::Named(NamedKey::Escape),
                        state: ElementState::Pressed,
                        ..
                    },
                ..
            } => self.quit = true,
            WindowEvent::Resized(size) => {
                self.size = (size.width, size.height);
                self.reconfigure = true;
                self.redraw = true;
            }
            WindowEvent::RedrawRequested => self.redraw = true,
            _ => {}
        }
    }
}

/// A window showing the overlay; see the module doc for the loop it expects.
pub struct Window {
    event_loop: EventLoop<()>,
    app: App,
}

impl Window {
    /// Opens the window (and its GPU device). Fails with the fix when there is no
    /// display session, no such monitor, or no GPU adapter.
    pub fn open(
        options: WindowOptions,
        overlay: OverlayOptions,
        mode: RenderMode,
    ) -> Result<Self, WindowError> {
        let mut builder = EventLoop::builder();
        // Tests and embedders may drive the window from a thread other than main;
        // emocue itself opens it on the main thread.
        #[cfg(target_os = "linux")]
        {
            use winit::platform::wayland::EventLoopBuilderExtWayland;
            use winit::platform::x11::EventLoopBuilderExtX11;
            EventLoopBuilderExtX11::with_any_thread(&mut builder, true);
            EventLoopBuilderExtWayland::with_any_thread(&mut builder, true);
        }
        let event_loop = builder
            .build()
            .map_err(|e| WindowError::NoDisplay(e.to_string()))?;
        let mut w = Window {
            event_loop,
            app: App {
                options,
                overlay,
                mode,
                window: None,
                surface: None,
                renderer: None,
                picture: None,
                size: (1, 1),
                reconfigure: false,
                redraw: false,
                quit: false,
                error: None,
            },
        };
        // the window is created when the event loop first resumes
        for _ in 0..100 {
            w.pump(Duration::from_millis(10));
            if let Some(e) = w.app.error.take() {
                return Err(e);
            }
            if w.app.renderer.is_some() {
                return Ok(w);
            }
        }
        Err(WindowError::NoDisplay(
            "the window system never delivered the window".into(),
        ))
    }

    fn pump(&mut self, timeout: Duration) {
        if let PumpStatus::Exit(_) = self
            .event_loop
            .pump_app_events(Some(timeout), &mut self.app)
        {
            self.app.quit = true;
        }
    }

    /// Shows a new picture: the camera frame (its size is the picture's; letterboxed
    /// into the window) with its scene.
    pub fn show(&mut self, frame: &RgbImage, scene: &Scene) -> Result<(), RenderError> {
        self.app.picture = Some(Picture {
            frame: frame.clone(),
            scene: scene.clone(),
        });
        self.pump(Duration::ZERO);
        self.app.redraw = false;
        self.app.draw()
    }

    /// Handles window events for up to `wait` (resize, Esc) and redraws the last
    /// picture if the window needs it.
    pub fn idle(&mut self, wait: Duration) -> Result<(), RenderError> {
        self.pump(wait);
        if std::mem::take(&mut self.app.redraw) {
            self.app.draw()?;
        }
        Ok(())
    }

    /// Esc was pressed or the window was closed.
    pub fn wants_quit(&self) -> bool {
        self.app.quit
    }

    /// The adapter drawing the window, for the log.
    pub fn adapter(&self) -> String {
        self.app
            .renderer
            .as_ref()
            .map(Renderer::adapter)
            .unwrap_or_default()
    }

    /// Inner size of the window in pixels (changes on resize).
    pub fn size(&self) -> (u32, u32) {
        self.app.size
    }

    /// Asks the window system for a new inner size (tests, and `--window` sizes).
    pub fn request_size(&mut self, width: u32, height: u32) {
        if let Some(w) = &self.app.window {
            let _ = w.request_inner_size(winit::dpi::PhysicalSize::new(width, height));
        }
    }
}

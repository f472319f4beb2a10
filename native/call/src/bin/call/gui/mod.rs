//! `--gui`: the call in a window (eframe, OpenGL through glow; Mesa's llvmpipe renders it
//! without a GPU, e.g. under Xvfb). The remote video large, the self-view small in its
//! corner, chat on the right, call state and stats on top, mute / camera / hang-up below.

mod shot;
mod video;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use eframe::egui;
use mobilertc_call::{Call, CallConfig, CallEvent, Status, VideoSide};

use crate::{Args, Opened};
use video::{fit, Frames, VideoView};

/// Who said a line in the chat pane.
#[derive(Clone, Copy, PartialEq)]
enum Who {
    Me,
    Them,
    Note,
}

/// What the call's events leave for the window.
#[derive(Default)]
struct Log {
    lines: Vec<(Who, String)>,
    ended: Option<String>,
}

/// Opens the window on this (the main) thread and runs the call until the window closes;
/// then prints the summary like the console mode. Ok(success) as [`crate::console::run`].
pub fn run(args: &Args, config: CallConfig, mut opened: Opened) -> Result<bool> {
    let frames = Arc::new(Frames::default());
    opened.devices.video_sink = Some(frames.sink());
    let log = Arc::new(Mutex::new(Log::default()));
    for note in &opened.notes {
        eprintln!("note: {note}");
        log.lock().unwrap().lines.push((Who::Note, note.clone()));
    }
    let names = Names {
        mic: opened.devices.microphone.as_ref().map(|m| m.describe()),
        speaker: opened.devices.speaker.as_ref().map(|s| s.describe()),
        camera: match &opened.devices.camera {
            Some(c) => Some(c.describe()),
            None if config.video => Some("test pattern".into()),
            None => None,
        },
        tone: match &config.audio {
            mobilertc_call::AudioInput::Tone(hz) => Some(format!("tone {hz} Hz")),
            mobilertc_call::AudioInput::Wav(p) => Some(format!("{}", p.display())),
            mobilertc_call::AudioInput::None => None,
        },
    };
    let chat_at_open = config.chat.clone();
    let room = config.room.clone();
    let events = log.clone();
    let repaint = frames.clone();
    let call = Call::start_with(config, opened.devices, move |e| {
        let mut l = events.lock().unwrap_or_else(|p| p.into_inner());
        match e {
            CallEvent::Chat(text) => l.lines.push((Who::Them, text)),
            CallEvent::ChatOpen => {
                l.lines.push((Who::Note, "chat open".into()));
                l.lines
                    .extend(chat_at_open.iter().map(|t| (Who::Me, t.clone())));
            }
            CallEvent::Log(text) => {
                eprintln!("note: {text}");
                l.lines.push((Who::Note, text));
            }
            CallEvent::Connected(pair) => l.lines.push((
                Who::Note,
                format!("connected ({})", pair.map_or("-", |p| p.kind())),
            )),
            CallEvent::Ended { result, reason } => {
                eprintln!("call ended ({result}): {reason}");
                l.ended = Some(format!("call ended ({result}): {reason}"));
            }
            CallEvent::Joined { role, peer_id } => l
                .lines
                .push((Who::Note, format!("joined as {peer_id} ({role:?})"))),
            CallEvent::State(_) => {}
        }
        drop(l);
        if let Some(ctx) = repaint.ctx.get() {
            ctx.request_repaint();
        }
    })?;
    let handle = call.handle();
    handle.set_mic_muted(args.muted);
    handle.set_camera_on(!args.camera_off);

    let app = App {
        call: &call,
        frames: frames.clone(),
        log,
        remote: VideoView::new(VideoSide::Remote),
        local: VideoView::new(VideoSide::Local),
        input: String::new(),
        muted: args.muted,
        camera_on: !args.camera_off,
        names,
        close_on_end: args.close_on_end || args.duration.is_some(),
        screenshot: args.screenshot.clone().map(|p| (p, Shot::Waiting)),
        ended_at: None,
    };
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title(format!("mobilertc call — {room}"))
            .with_inner_size([960.0, 600.0]),
        renderer: eframe::Renderer::Glow,
        ..Default::default()
    };
    let shown = eframe::run_native(
        "mobilertc-call",
        options,
        Box::new(move |cc| {
            let _ = frames.ctx.set(cc.egui_ctx.clone());
            Ok(Box::new(app))
        }),
    );
    if !call.is_finished() {
        call.hang_up();
    }
    let summary = call.wait();
    crate::console::print_summary(&summary, args.json.as_deref())?;
    shown.map_err(|e| {
        anyhow!("the window could not be shown: {e} (is DISPLAY set, with OpenGL 2+ or Mesa's llvmpipe?)")
    })?;
    Ok(summary.ok())
}

/// The devices, for the top bar.
struct Names {
    mic: Option<String>,
    speaker: Option<String>,
    camera: Option<String>,
    tone: Option<String>,
}

enum Shot {
    Waiting,
    Requested,
    Done,
}

struct App<'a> {
    call: &'a Call,
    frames: Arc<Frames>,
    log: Arc<Mutex<Log>>,
    remote: VideoView,
    local: VideoView,
    input: String,
    muted: bool,
    camera_on: bool,
    names: Names,
    /// A scripted call (`--duration`) closes its window when it ends.
    close_on_end: bool,
    screenshot: Option<(PathBuf, Shot)>,
    ended_at: Option<Instant>,
}

impl eframe::App for App<'_> {
    fn update(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        let status = self.call.status();
        let ended = self
            .log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .ended
            .clone();
        egui::TopBottomPanel::top("state").show(ctx, |ui| self.top(ui, &status, ended.as_deref()));
        egui::TopBottomPanel::bottom("controls").show(ctx, |ui| self.controls(ui, ended.is_some()));
        egui::SidePanel::right("chat")
            .default_width(300.0)
            .resizable(false)
            .show(ctx, |ui| self.chat(ui, ended.is_some()));
        egui::CentralPanel::default()
            .frame(egui::Frame::NONE.fill(egui::Color32::from_gray(12)))
            .show(ctx, |ui| self.videos(ctx, ui));
        self.take_screenshot(ctx);
        if ended.is_some() {
            let at = *self.ended_at.get_or_insert_with(Instant::now);
            // A short grace so the end reason is seen; a pending screenshot never comes.
            if self.close_on_end && at.elapsed() > Duration::from_millis(500) {
                ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            }
        }
        ctx.request_repaint_after(Duration::from_millis(250));
    }
}

impl App<'_> {
    fn top(&self, ui: &mut egui::Ui, s: &Status, ended: Option<&str>) {
        ui.horizontal_wrapped(|ui| {
            let (text, colour) = match (ended, s.state.as_str()) {
                (Some(e), _) => (e.to_owned(), egui::Color32::LIGHT_RED),
                (None, "connected") => ("connected".into(), egui::Color32::LIGHT_GREEN),
                (None, other) => (format!("{other}…"), egui::Color32::YELLOW),
            };
            ui.colored_label(colour, egui::RichText::new(text).strong());
            if let Some(role) = s.role {
                ui.label(format!("{role:?}").to_lowercase());
            }
            ui.separator();
            let pair = s.pair.as_ref().map_or("-".into(), |p| {
                format!("{} ({}/{})", p.kind(), p.local_type, p.remote_type)
            });
            ui.label(format!("pair {pair}"));
            ui.label(format!(
                "rtt {}",
                s.rtt_ms.map_or("-".into(), |r| format!("{r:.0} ms"))
            ));
            ui.label(format!(
                "audio {}/{} kB out/in",
                s.audio_sent_bytes / 1000,
                s.audio_received_bytes / 1000
            ));
            ui.add(
                egui::ProgressBar::new((s.audio_level * 4.0).min(1.0) as f32)
                    .desired_width(60.0)
                    .text("level"),
            );
            ui.label(format!("video in {}", s.frames_received));
            ui.label(format!("{:.0} s", s.elapsed_s));
        });
        ui.horizontal_wrapped(|ui| {
            let n = &self.names;
            let mic = n
                .mic
                .as_ref()
                .map(|m| format!("mic {m}"))
                .or(n.tone.clone());
            ui.weak(format!(
                "sending {}",
                mic.unwrap_or_else(|| "silence".into())
            ));
            ui.weak(format!(
                "· speaker {}",
                n.speaker.as_deref().unwrap_or("none")
            ));
            ui.weak(format!(
                "· camera {}",
                n.camera.as_deref().unwrap_or("none")
            ));
        });
    }

    fn controls(&mut self, ui: &mut egui::Ui, ended: bool) {
        ui.horizontal(|ui| {
            ui.add_enabled_ui(!ended, |ui| {
                let mute = if self.muted { "Unmute" } else { "Mute" };
                if ui.button(mute).clicked() {
                    self.muted = !self.muted;
                    self.call.handle().set_mic_muted(self.muted);
                }
                let cam = if self.camera_on {
                    "Camera off"
                } else {
                    "Camera on"
                };
                if ui.button(cam).clicked() {
                    self.camera_on = !self.camera_on;
                    self.call.handle().set_camera_on(self.camera_on);
                }
                let hang_up =
                    egui::Button::new(egui::RichText::new("Hang up").color(egui::Color32::WHITE))
                        .fill(egui::Color32::from_rgb(180, 30, 30));
                if ui.add(hang_up).clicked() {
                    self.call.hang_up();
                }
            });
            if self.muted {
                ui.colored_label(egui::Color32::YELLOW, "microphone muted");
            }
        });
    }

    fn chat(&mut self, ui: &mut egui::Ui, ended: bool) {
        ui.heading("Chat");
        let input_height = 36.0;
        egui::ScrollArea::vertical()
            .stick_to_bottom(true)
            .auto_shrink([false, false])
            .max_height(ui.available_height() - input_height)
            .show(ui, |ui| {
                let log = self.log.lock().unwrap_or_else(|p| p.into_inner());
                for (who, text) in &log.lines {
                    match who {
                        Who::Me => ui.label(format!("me: {text}")),
                        Who::Them => {
                            ui.colored_label(egui::Color32::LIGHT_BLUE, format!("them: {text}"))
                        }
                        Who::Note => ui.weak(text),
                    };
                }
            });
        ui.separator();
        let edit = ui.add_enabled(
            !ended,
            egui::TextEdit::singleline(&mut self.input)
                .hint_text("type a line, Enter to send")
                .desired_width(f32::INFINITY),
        );
        if edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
            let text = std::mem::take(&mut self.input);
            let text = text.trim();
            if !text.is_empty() {
                let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
                match self.call.handle().send_chat(text) {
                    Ok(()) => log.lines.push((Who::Me, text.to_owned())),
                    Err(e) => log.lines.push((Who::Note, format!("not sent: {e:#}"))),
                }
            }
            edit.request_focus();
        }
    }

    fn videos(&mut self, ctx: &egui::Context, ui: &mut egui::Ui) {
        let area = ui.max_rect();
        let painter = ui.painter_at(area);
        let uv = egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0));
        match self.remote.update(ctx, &self.frames) {
            Some((id, size)) => {
                painter.image(id, fit(area, size), uv, egui::Color32::WHITE);
            }
            None => {
                painter.text(
                    area.center(),
                    egui::Align2::CENTER_CENTER,
                    "waiting for the other side's video",
                    egui::FontId::proportional(18.0),
                    egui::Color32::GRAY,
                );
            }
        }
        // The self-view: a quarter of the width, in the bottom-right corner.
        let w = area.width() / 4.0;
        let corner = egui::Rect::from_min_size(
            area.right_bottom() - egui::vec2(w + 12.0, w * 0.75 + 12.0),
            egui::vec2(w, w * 0.75),
        );
        match (self.camera_on, self.local.update(ctx, &self.frames)) {
            (true, Some((id, size))) => {
                let r = fit(corner, size);
                painter.rect_filled(r.expand(2.0), 2.0, egui::Color32::from_gray(90));
                painter.image(id, r, uv, egui::Color32::WHITE);
            }
            (on, _) if self.names.camera.is_some() || !on => {
                painter.rect_filled(corner, 2.0, egui::Color32::from_gray(40));
                painter.text(
                    corner.center(),
                    egui::Align2::CENTER_CENTER,
                    if on { "camera starting" } else { "camera off" },
                    egui::FontId::proportional(14.0),
                    egui::Color32::GRAY,
                );
            }
            _ => {}
        }
    }

    /// `--screenshot`: once the remote video has shown for a while, ask for the frame and
    /// save it when it arrives.
    fn take_screenshot(&mut self, ctx: &egui::Context) {
        let Some((path, state)) = &mut self.screenshot else {
            return;
        };
        match state {
            Shot::Waiting if self.remote.shown() >= 20 => {
                ctx.send_viewport_cmd(egui::ViewportCommand::Screenshot(Default::default()));
                *state = Shot::Requested;
            }
            Shot::Requested => {
                let image = ctx.input(|i| {
                    i.raw.events.iter().find_map(|e| match e {
                        egui::Event::Screenshot { image, .. } => Some(image.clone()),
                        _ => None,
                    })
                });
                if let Some(image) = image {
                    match shot::save_png(&image, path) {
                        Ok(()) => eprintln!("screenshot: {}", path.display()),
                        Err(e) => eprintln!("error: screenshot {}: {e:#}", path.display()),
                    }
                    *state = Shot::Done;
                }
            }
            _ => {}
        }
    }
}

// Factory, threads, logging and the app-fed audio device module.
#include <algorithm>
#include <atomic>
#include <cstdio>

#include "factory_parts.h"
#include "mrtc_internal.h"

// The modular factory (for a platform network monitor): checked against M150's API only.
#define MRTC_MODULAR_FACTORY (MRTC_WEBRTC_MILESTONE >= 150)
#if MRTC_MODULAR_FACTORY
#include "api/audio/builtin_audio_processing_builder.h"
#include "api/create_modular_peer_connection_factory.h"
#include "api/enable_media.h"
#include "api/environment/environment_factory.h"
#include "api/field_trials_view.h"
#include "api/rtc_event_log/rtc_event_log_factory.h"
#endif

namespace mrtc {

std::string AbiProbe(const std::string& s) { return s; }

namespace {

// Capture beyond this is dropped oldest-first: a stalled call must not grow memory.
constexpr size_t kMaxQueuedMs = 2000;

// libwebrtc's log, written to stderr by our own sink at the app's level (none by default).
//
// Why a sink and not LogToDebug(level): from M150 on, libwebrtc's built-in stderr output
// obeys a LoggingConfig fixed at the first log line (INFO unless InitializeLogging ran
// first), and the deprecated LogToDebug no longer changes it; M150 logged at INFO to
// stderr whatever the app asked (a `call` process with a piped, unread stderr blocked on
// it). SetLogToStderr(false) + AddLogToStream behave the same from M110 to M150.
class StderrSink : public rtcx::LogSink {
 public:
  void OnLogMessage(const std::string& message) override {
    fwrite(message.data(), 1, message.size(), stderr);
  }
};

#if MRTC_MODULAR_FACTORY
// The process's field trials, plus upstream's two call-setup accelerations unless the
// app's own field-trial string sets them (e.g. ".../Disabled/"): DTLS-in-STUN ("SPED", ICE
// option goog-sped-v1: the DTLS handshake rides on the ICE checks) and SNAP
// (draft-hancke-tsvwg-snap, a=sctp-init: the SCTP handshake is done in the SDP). Both are
// offered in the SDP and fall back to the plain handshakes with a peer that lacks them.
// Upstream measures them in pc/peer_connection_callsetup_perf_tests.cc.
class SetupTrials : public webrtc::FieldTrialsView {
 public:
  std::string Lookup(absl::string_view key) const override {
    std::string v = base_.field_trials().Lookup(key);
    if (v.empty() && (key == "WebRTC-IceHandshakeDtls" || key == "WebRTC-Sctp-Snap")) {
      return "Enabled";
    }
    return v;
  }

 private:
  webrtc::Environment base_ = webrtc::CreateEnvironment();  // the global field trials
};
#endif

std::mutex g_log_mu;
StderrSink* g_sink = nullptr;  // never freed: libwebrtc threads may log until exit

void ApplyLogLevel(int level) {
  std::lock_guard<std::mutex> lock(g_log_mu);
  rtcx::LogMessage::SetLogToStderr(false);
  rtcx::LogMessage::LogToDebug(rtcx::LS_NONE);
  if (g_sink) {
    rtcx::LogMessage::RemoveLogToStream(g_sink);
  } else {
    g_sink = new StderrSink();
  }
  if (level < rtcx::LS_NONE) {
    rtcx::LogMessage::AddLogToStream(g_sink, static_cast<rtcx::LoggingSeverity>(level));
  }
}

std::atomic<bool> g_log_level_set{false};

}  // namespace

void AudioBridge::Push(const int16_t* pcm, size_t frames) {
  const size_t samples = frames * channels_;
  const size_t cap = static_cast<size_t>(sample_rate_) * channels_ * kMaxQueuedMs / 1000;
  std::lock_guard<std::mutex> lock(capture_mu_);
  capture_.insert(capture_.end(), pcm, pcm + samples);
  if (capture_.size() > cap) {
    // Drop whole frames so channels stay interleaved correctly.
    size_t excess = capture_.size() - cap;
    excess += (channels_ - excess % channels_) % channels_;
    capture_.erase(capture_.begin(), capture_.begin() + std::min(excess, capture_.size()));
  }
}

void AudioBridge::Pull(int16_t* out, size_t samples) {
  std::lock_guard<std::mutex> lock(capture_mu_);
  const size_t n = std::min(samples, capture_.size());
  std::copy(capture_.begin(), capture_.begin() + n, out);
  capture_.erase(capture_.begin(), capture_.begin() + n);
  std::fill(out + n, out + samples, 0);
}

void AudioBridge::SetPlayout(mrtc_audio_cb cb, void* user_data) {
  std::lock_guard<std::mutex> lock(playout_mu_);
  playout_cb_ = cb;
  playout_user_data_ = user_data;
}

void AudioBridge::Render(const int16_t* pcm, size_t samples) {
  std::lock_guard<std::mutex> lock(playout_mu_);
  if (playout_cb_) {
    playout_cb_(playout_user_data_, pcm, samples / channels_, sample_rate_, channels_);
  }
}

rtcx::scoped_refptr<rtcx::RTCCertificate> FactoryCertificate(mrtc_factory* factory) {
  std::lock_guard<std::mutex> lock(factory->certificate_mu);
  const uint64_t now_ms = static_cast<uint64_t>(rtcx::TimeMillis());
  if (!factory->certificate || factory->certificate->HasExpired(now_ms)) {
    // ECDSA P-256, libwebrtc's default key type; default lifetime (30 days).
    factory->certificate =
        rtcx::RTCCertificateGenerator::GenerateCertificate(rtcx::KeyParams::ECDSA(), {});
  }
  return factory->certificate;
}

// VP8 first (what every peer decodes), then VP9 and AV1; H.264 stays out (licensing;
// rtc_use_h264=false). See MRTC_VIDEO_CODEC_TEMPLATES.
std::unique_ptr<webrtc::VideoEncoderFactory> CreateVideoEncoderFactory() {
#if MRTC_VIDEO_CODEC_TEMPLATES
  return std::make_unique<webrtc::VideoEncoderFactoryTemplate<
      webrtc::LibvpxVp8EncoderTemplateAdapter, webrtc::LibvpxVp9EncoderTemplateAdapter,
      webrtc::LibaomAv1EncoderTemplateAdapter>>();
#else
  return webrtc::CreateBuiltinVideoEncoderFactory();
#endif
}

std::unique_ptr<webrtc::VideoDecoderFactory> CreateVideoDecoderFactory() {
#if MRTC_VIDEO_CODEC_TEMPLATES
  return std::make_unique<webrtc::VideoDecoderFactoryTemplate<
      webrtc::LibvpxVp8DecoderTemplateAdapter, webrtc::LibvpxVp9DecoderTemplateAdapter,
      webrtc::Dav1dDecoderTemplateAdapter>>();
#else
  return webrtc::CreateBuiltinVideoDecoderFactory();
#endif
}

}  // namespace mrtc

extern "C" {

uint32_t mrtc_webrtc_milestone(void) { return MRTC_WEBRTC_MILESTONE; }

void mrtc_set_log_level(int level) {
  mrtc::GuardVoid([&] {
    mrtc::g_log_level_set = true;
    const int clamped = std::clamp(level, 0, 4);
    // Timestamps and thread ids make WebRTC's log useful for timing questions.
    rtcx::LogMessage::LogTimestamps(true);
    rtcx::LogMessage::LogThreads(true);
    mrtc::ApplyLogLevel(clamped);
  });
}

}  // extern "C"

namespace mrtc {

mrtc_status CreateFactory(const mrtc_factory_config* config, FactoryParts parts,
                          mrtc_factory** out) {
  return mrtc::Guard(MRTC_ERR_INTERNAL, [&]() -> mrtc_status {
    if (!out) return MRTC_ERR_INVALID_ARGUMENT;
    *out = nullptr;
    const int rate = config && config->audio_sample_rate ? config->audio_sample_rate : 48000;
    const int channels = config && config->audio_channels ? config->audio_channels : 1;
    if (rate < 8000 || rate > 192000 || rate % 100 != 0 || channels < 1 || channels > 2) {
      return MRTC_ERR_INVALID_ARGUMENT;
    }

    static std::once_flag init_once;
    std::call_once(init_once, [] {
      // The header promises "default none"; WebRTC's own default is to log to stderr.
      if (!mrtc::g_log_level_set) mrtc::ApplyLogLevel(rtcx::LS_NONE);
      rtcx::InitializeSSL();
    });

    auto f = std::make_unique<mrtc_factory>();
    f->raw_audio = config && config->raw_audio != 0;
    f->network = rtcx::Thread::CreateWithSocketServer();
    f->worker = rtcx::Thread::Create();
    f->signaling = rtcx::Thread::Create();
    f->network->SetName("mrtc-network", nullptr);
    f->worker->SetName("mrtc-worker", nullptr);
    f->signaling->SetName("mrtc-signaling", nullptr);
    if (!f->network->Start() || !f->worker->Start() || !f->signaling->Start()) {
      return MRTC_ERR_INTERNAL;
    }

    f->task_queue_factory = webrtc::CreateDefaultTaskQueueFactory();
    f->audio = std::make_shared<mrtc::AudioBridge>(rate, channels);
    // The shim's own device (audio_device.cc): a real-time 10 ms clock pulling the app's
    // capture and pushing the mixed playout, which is what makes remote audio sinks
    // receive PCM at all without a sound card module.
    f->adm = parts.make_adm ? f->worker->BlockingCall(parts.make_adm)
                            : mrtc::CreateBridgeAudioDevice(f->audio);
    if (!f->adm) return MRTC_ERR_INTERNAL;
    auto video_encoders = parts.video_encoder_factory ? std::move(parts.video_encoder_factory)
                                                      : mrtc::CreateVideoEncoderFactory();
    auto video_decoders = parts.video_decoder_factory ? std::move(parts.video_decoder_factory)
                                                      : mrtc::CreateVideoDecoderFactory();
    // The codec list spelled out, Opus first (so it is what calls negotiate): the
    // "builtin" factories include Opus only when libwebrtc was built with
    // WEBRTC_USE_BUILTIN_OPUS, and Debian's tg_owt was not — its calls fell back to ISAC,
    // and to G722 with browsers. The Opus codec itself is in every build.
    auto audio_encoders =
        webrtc::CreateAudioEncoderFactory<webrtc::AudioEncoderOpus, webrtc::AudioEncoderG722,
                                          webrtc::AudioEncoderG711>();
    auto audio_decoders =
        webrtc::CreateAudioDecoderFactory<webrtc::AudioDecoderOpus, webrtc::AudioDecoderG722,
                                          webrtc::AudioDecoderG711>();

#if MRTC_MODULAR_FACTORY
    // What CreatePeerConnectionFactory does, plus what only the modular dependencies
    // take: the platform's network monitor and the factory's own field trials.
    webrtc::PeerConnectionFactoryDependencies deps;
    deps.network_thread = f->network.get();
    deps.worker_thread = f->worker.get();
    deps.signaling_thread = f->signaling.get();
    deps.socket_factory = f->network->socketserver();
    deps.event_log_factory = std::make_unique<webrtc::RtcEventLogFactory>();
    deps.env = webrtc::CreateEnvironment(std::make_unique<SetupTrials>());
    deps.adm = f->adm;
    deps.audio_encoder_factory = std::move(audio_encoders);
    deps.audio_decoder_factory = std::move(audio_decoders);
    deps.audio_processing_builder = std::make_unique<webrtc::BuiltinAudioProcessingBuilder>();
    deps.video_encoder_factory = std::move(video_encoders);
    deps.video_decoder_factory = std::move(video_decoders);
    deps.network_monitor_factory = std::move(parts.network_monitor_factory);
    webrtc::EnableMedia(deps);
    f->pcf = webrtc::CreateModularPeerConnectionFactory(std::move(deps));
#else
    // A network monitor needs M150's modular API.
    if (parts.network_monitor_factory) return MRTC_ERR_INVALID_ARGUMENT;
    f->pcf = webrtc::CreatePeerConnectionFactory(
        f->network.get(), f->worker.get(), f->signaling.get(), f->adm,
        std::move(audio_encoders), std::move(audio_decoders), std::move(video_encoders),
        std::move(video_decoders), nullptr /* default mixer */,
        nullptr /* default audio processing */);
#endif
#if MRTC_SRTP_KEEPALIVE
    f->srtp_keepalive = mrtc::StartSrtpKeepalive(f->network.get());
#endif
    if (!f->pcf) {
      f->worker->BlockingCall([&] { f->adm = nullptr; });
      return MRTC_ERR_INTERNAL;
    }
    *out = f.release();
    return MRTC_OK;
  });
}

}  // namespace mrtc

extern "C" {

mrtc_status mrtc_factory_create(const mrtc_factory_config* config, mrtc_factory** out) {
  return mrtc::CreateFactory(config, mrtc::FactoryParts{}, out);
}

void mrtc_factory_destroy(mrtc_factory* factory) {
  mrtc::GuardVoid([&] {
    if (!factory) return;
    std::unique_ptr<mrtc_factory> f(factory);
    f->audio->SetPlayout(nullptr, nullptr);
    {
      std::lock_guard<std::mutex> lock(f->audio_source_mu);
      f->audio_source = nullptr;
    }
#if MRTC_SRTP_KEEPALIVE
    f->network->BlockingCall([&] { f->srtp_keepalive.reset(); });
#endif
    f->pcf = nullptr;  // the proxy tears the factory down on the signaling thread
    // The device's last reference goes on the worker thread, where WebRTC used it.
    f->worker->BlockingCall([&] { f->adm = nullptr; });
    f->signaling->Stop();
    f->worker->Stop();
    f->network->Stop();
  });
}

mrtc_status mrtc_factory_push_audio(mrtc_factory* factory, const int16_t* pcm, size_t frames) {
  return mrtc::Guard(MRTC_ERR_INTERNAL, [&]() -> mrtc_status {
    if (!factory || (!pcm && frames)) return MRTC_ERR_INVALID_ARGUMENT;
    if (frames) factory->audio->Push(pcm, frames);
    return MRTC_OK;
  });
}

void mrtc_factory_set_playout_callback(mrtc_factory* factory, mrtc_audio_cb cb, void* user_data) {
  mrtc::GuardVoid([&] {
    if (factory) factory->audio->SetPlayout(cb, user_data);
  });
}

}  // extern "C"

// Factory, threads, logging and the app-fed audio device module.
#include <algorithm>
#include <atomic>

#include "mrtc_internal.h"

namespace mrtc {

std::string AbiProbe(const std::string& s) { return s; }

namespace {

// Capture beyond this is dropped oldest-first: a stalled call must not grow memory.
constexpr size_t kMaxQueuedMs = 2000;

std::atomic<bool> g_log_level_set{false};

class BridgeCapturer : public webrtc::TestAudioDeviceModule::Capturer {
 public:
  explicit BridgeCapturer(std::shared_ptr<AudioBridge> bridge) : bridge_(std::move(bridge)) {}
  int SamplingFrequency() const override { return bridge_->sample_rate(); }
  int NumChannels() const override { return bridge_->channels(); }
  bool Capture(rtcx::BufferT<int16_t>* buffer) override {
    const size_t samples =
        webrtc::TestAudioDeviceModule::SamplesPerFrame(bridge_->sample_rate()) *
        bridge_->channels();
    buffer->SetData(samples, [&](rtcx::ArrayView<int16_t> data) {
      bridge_->Pull(data.data(), data.size());
      return data.size();
    });
    return true;  // never ends: silence when the app has nothing queued
  }

 private:
  std::shared_ptr<AudioBridge> bridge_;
};

class BridgeRenderer : public webrtc::TestAudioDeviceModule::Renderer {
 public:
  explicit BridgeRenderer(std::shared_ptr<AudioBridge> bridge) : bridge_(std::move(bridge)) {}
  int SamplingFrequency() const override { return bridge_->sample_rate(); }
  int NumChannels() const override { return bridge_->channels(); }
  bool Render(rtcx::ArrayView<const int16_t> data) override {
    bridge_->Render(data.data(), data.size());
    return true;
  }

 private:
  std::shared_ptr<AudioBridge> bridge_;
};

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
    rtcx::LogMessage::LogToDebug(static_cast<rtcx::LoggingSeverity>(clamped));
  });
}

mrtc_status mrtc_factory_create(const mrtc_factory_config* config, mrtc_factory** out) {
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
      if (!mrtc::g_log_level_set) rtcx::LogMessage::LogToDebug(rtcx::LS_NONE);
      rtcx::InitializeSSL();
    });

    auto f = std::make_unique<mrtc_factory>();
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
    // The device runs on its own task queue in real time (speed 1): it pulls 10 ms of
    // capture every 10 ms and pushes the mixed playout, which is what makes remote audio
    // sinks receive PCM at all (WEBRTC_DUMMY_AUDIO_BUILD has no sound-card module).
    // Created on the worker thread, where WebRTC uses it.
    f->adm = f->worker->BlockingCall([&] {
      return rtcx::scoped_refptr<webrtc::AudioDeviceModule>(
          webrtc::TestAudioDeviceModule::Create(
#if MRTC_ADM_TAKES_ENVIRONMENT
              // A borrowed factory, as the deprecated overload did: it must outlive the ADM.
              webrtc::CreateEnvironment(f->task_queue_factory.get()),
#else
              f->task_queue_factory.get(),
#endif
              std::make_unique<mrtc::BridgeCapturer>(f->audio),
              std::make_unique<mrtc::BridgeRenderer>(f->audio), 1.0f));
    });
    if (!f->adm) return MRTC_ERR_INTERNAL;

    f->pcf = webrtc::CreatePeerConnectionFactory(
        f->network.get(), f->worker.get(), f->signaling.get(), f->adm,
        // The codec list spelled out, Opus first (so it is what calls negotiate): the
        // "builtin" factories include Opus only when libwebrtc was built with
        // WEBRTC_USE_BUILTIN_OPUS, and Debian's tg_owt was not — its calls fell back to
        // ISAC, and to G722 with browsers. The Opus codec itself is in every build.
        webrtc::CreateAudioEncoderFactory<webrtc::AudioEncoderOpus, webrtc::AudioEncoderG722,
                                          webrtc::AudioEncoderG711>(),
        webrtc::CreateAudioDecoderFactory<webrtc::AudioDecoderOpus, webrtc::AudioDecoderG722,
                                          webrtc::AudioDecoderG711>(),
        webrtc::CreateBuiltinVideoEncoderFactory(), webrtc::CreateBuiltinVideoDecoderFactory(),
        nullptr /* default mixer */, nullptr /* default audio processing */);
    // WebRTC initialises libsrtp when its count of SRTP sessions goes 0 -> 1 and shuts it
    // down at 1 -> 0; libsrtp's init runs its cipher self-tests, ~65 ms on this machine's
    // distro libsrtp2, on the network thread between DTLS and SCTP. Back-to-back calls
    // (and every call of an app with one call at a time) paid it on each setup. One idle
    // session keeps the count above zero for the factory's lifetime.
    f->network->BlockingCall([&] {
      static const uint8_t kKey[30] = {1};  // AES_CM_128_HMAC_SHA1_80 key + salt; never used
      auto session = std::make_unique<cricketx::SrtpSession>();
      // SetSend(suite, const uint8_t*, size_t, ids) became SetSend(suite, ZeroOnFreeBuffer,
      // ids) upstream: the buffer overload landed on main 2024-09-19 ("srtp: spanify key
      // setters", #43055, after the M130 branch point) and the pointer one was removed
      // 2024-11-13 (#43397, after M132's), so M131 and M132 have both.
#if MRTC_WEBRTC_MILESTONE >= 131
      if (session->SetSend(rtcx::kSrtpAes128CmSha1_80,
                           rtcx::ZeroOnFreeBuffer<uint8_t>(kKey, sizeof(kKey)), {})) {
#else
      if (session->SetSend(rtcx::kSrtpAes128CmSha1_80, kKey, sizeof(kKey), {})) {
#endif
        f->srtp_keepalive = std::move(session);
      }
    });
    if (!f->pcf) {
      f->worker->BlockingCall([&] { f->adm = nullptr; });
      return MRTC_ERR_INTERNAL;
    }
    *out = f.release();
    return MRTC_OK;
  });
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
    f->network->BlockingCall([&] { f->srtp_keepalive.reset(); });
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

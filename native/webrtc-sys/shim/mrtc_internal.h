// Internal to the shim: libwebrtc includes, the milestone switches, and the handle structs
// shared between the .cc files. Nothing here is seen by bindgen.
#ifndef MOBILERTC_MRTC_INTERNAL_H
#define MOBILERTC_MRTC_INTERNAL_H

#include <cstdint>
#include <deque>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

// Video codec factories: upstream's `webrtc` target links the codec template adapters (VP8,
// VP9, libaom AV1, dav1d) but not the "builtin" factories (their own target there, since
// ~M117); Debian's tg_owt (M110) links the builtin ones and has no dav1d/libaom adapters.
#define MRTC_VIDEO_CODEC_TEMPLATES (MRTC_WEBRTC_MILESTONE >= 120)
// AudioDeviceModule moved to api/ (the modules/ header forwards to it where both exist).
#if __has_include("api/audio/audio_device.h")
#include "api/audio/audio_device.h"
#else
#include "modules/audio_device/include/audio_device.h"
#endif
#include "api/audio_codecs/audio_decoder_factory_template.h"
#include "api/audio_codecs/audio_encoder_factory_template.h"
#include "api/audio_codecs/g711/audio_decoder_g711.h"
#include "api/audio_codecs/g711/audio_encoder_g711.h"
#include "api/audio_codecs/g722/audio_decoder_g722.h"
#include "api/audio_codecs/g722/audio_encoder_g722.h"
#include "api/audio_codecs/opus/audio_decoder_opus.h"
#include "api/audio_codecs/opus/audio_encoder_opus.h"
#include "api/create_peerconnection_factory.h"
#include "api/data_channel_interface.h"
#include "api/jsep.h"
#include "api/media_stream_interface.h"
#include "api/peer_connection_interface.h"
#include "api/scoped_refptr.h"
#include "api/stats/rtc_stats_collector_callback.h"
#include "api/stats/rtc_stats_report.h"
#include "api/task_queue/default_task_queue_factory.h"
#include "api/video/i420_buffer.h"
#include "api/video/video_frame.h"
#include "api/video/video_sink_interface.h"
#if MRTC_VIDEO_CODEC_TEMPLATES
#include "api/video_codecs/video_decoder_factory_template.h"
#include "api/video_codecs/video_decoder_factory_template_dav1d_adapter.h"
#include "api/video_codecs/video_decoder_factory_template_libvpx_vp8_adapter.h"
#include "api/video_codecs/video_decoder_factory_template_libvpx_vp9_adapter.h"
#include "api/video_codecs/video_encoder_factory_template.h"
#include "api/video_codecs/video_encoder_factory_template_libaom_av1_adapter.h"
#include "api/video_codecs/video_encoder_factory_template_libvpx_vp8_adapter.h"
#include "api/video_codecs/video_encoder_factory_template_libvpx_vp9_adapter.h"
#else
#include "api/video_codecs/builtin_video_decoder_factory.h"
#include "api/video_codecs/builtin_video_encoder_factory.h"
#endif
#include "media/base/adapted_video_track_source.h"
#include "rtc_base/logging.h"
#include "rtc_base/ref_counted_object.h"
#include "rtc_base/rtc_certificate_generator.h"
#include "rtc_base/ssl_adapter.h"
#include "rtc_base/thread.h"

#include "mrtc.h"

// ---------------------------------------------------------------- milestone switches
//
// MRTC_WEBRTC_MILESTONE comes from the SDK manifest (webrtc.milestone) via build.rs. Only the
// API differences the shim touches are switched here; keep this list short.
#ifndef MRTC_WEBRTC_MILESTONE
#error "MRTC_WEBRTC_MILESTONE must be defined (build.rs passes the manifest's webrtc.milestone)"
#endif

// Upstream moved rtc:: (Thread, scoped_refptr, AdaptedVideoTrackSource, LogMessage,
// CopyOnWriteBuffer, …) and cricket:: (AudioOptions, SrtpSession) into webrtc:: in steps from
// 2025-02 to 2025-04; the last ones the shim uses were "Move rest of rtc namespace except ios
// and clashes" (main@{#44280}, 2025-04-02), "Move pc/ to webrtc namespace" (#44313, 04-07) and
// "Move cricket namespace to webrtc" (#44336, 04-08), all after the M136 branch point
// (2025-03-31), so M137 is the first milestone with all of them in webrtc:: (a main snapshot
// of 2025-03-31 has no webrtc::SrtpSession / webrtc::InitializeSSL). The old names survive
// only as aliases behind WEBRTC_ALLOW_DEPRECATED_NAMESPACES (#44436, 2025-04-23).
// `rtcx::` / `cricketx::` name whichever namespace holds them.
// Compiled: M110 (tg_owt) and main snapshots at the M129..M136 branch dates on the old side;
// main snapshots at the M137/M138 branch dates and bb9331cfbe98 (2025-06-20, ≈M139) on the new.
#if MRTC_WEBRTC_MILESTONE >= 137
namespace rtcx = ::webrtc;
namespace cricketx = ::webrtc;
#else
namespace rtcx = ::rtc;
namespace cricketx = ::cricket;
#endif

// DataChannelInterface::SendAsync + static MaxSendQueueSize() (present in M125): sends are
// posted to the network thread instead of blocking on it; Send() -> bool still exists up
// to at least M150 but is slated for removal. Before this, Send() reports a full buffer.
#define MRTC_HAS_SEND_ASYNC (MRTC_WEBRTC_MILESTONE >= 120)
// CreateVideoTrack(label, source*) was replaced by CreateVideoTrack(scoped_refptr, label).
#define MRTC_VIDEO_TRACK_REFPTR_FIRST (MRTC_WEBRTC_MILESTONE >= 118)

namespace mrtc {

// Every C entry point runs its body through Guard so that no C++ exception crosses the C ABI
// (the shim is compiled with exceptions even when libwebrtc is not: std::bad_alloc from our
// own containers is the realistic case).
template <typename R, typename F>
R Guard(R on_error, F&& body) noexcept {
  try {
    return body();
  } catch (const std::exception& e) {
    RTC_LOG(LS_ERROR) << "mrtc: C++ exception at the C boundary: " << e.what();
  } catch (...) {
    RTC_LOG(LS_ERROR) << "mrtc: unknown C++ exception at the C boundary";
  }
  return on_error;
}

template <typename F>
void GuardVoid(F&& body) noexcept {
  Guard(0, [&] {
    body();
    return 0;
  });
}

// Runs `f` on `thread` and waits. Inline when already there: an app callback (running on the
// signaling thread) may call back into the shim, and WebRTC forbids a thread's BlockingCall
// to itself when it restricts invokes (RTC_DCHECK, on in distro builds).
template <typename F>
void RunOn(rtcx::Thread* thread, F&& f) {
  if (thread->IsCurrent()) {
    f();
  } else {
    thread->BlockingCall(std::forward<F>(f));
  }
}

inline std::string ToString(mrtc_str s) {
  return s.ptr && s.len ? std::string(s.ptr, s.len) : std::string();
}
inline mrtc_str Str(const std::string& s) { return mrtc_str{s.data(), s.size()}; }

// Defined in a shim TU and never called: its mangled name carries the C++ standard library
// namespace (std::__cxx11 / std::__Cr / std::__ndk1) that build.rs's ABI check looks for.
std::string AbiProbe(const std::string& s);

// The app-fed audio device: a bounded capture queue filled by mrtc_factory_push_audio and a
// playout callback receiving the mixed remote audio. Shared by the device's Capturer and
// Renderer (which run on the device's task queue) and the factory handle.
class AudioBridge {
 public:
  AudioBridge(int sample_rate, int channels) : sample_rate_(sample_rate), channels_(channels) {}
  int sample_rate() const { return sample_rate_; }
  int channels() const { return channels_; }

  void Push(const int16_t* pcm, size_t frames);
  // Fills `out` with `samples` interleaved samples, silence where the queue runs dry.
  void Pull(int16_t* out, size_t samples);
  void SetPlayout(mrtc_audio_cb cb, void* user_data);
  void Render(const int16_t* pcm, size_t samples);

 private:
  const int sample_rate_;
  const int channels_;
  std::mutex capture_mu_;
  std::deque<int16_t> capture_;
  // Held while the playout callback runs, so clearing the callback waits for a running one.
  std::mutex playout_mu_;
  mrtc_audio_cb playout_cb_ = nullptr;
  void* playout_user_data_ = nullptr;
};

// factory.cc: the video codec factories every factory of the shim (and the C++ benchmark
// baseline) uses.
std::unique_ptr<webrtc::VideoEncoderFactory> CreateVideoEncoderFactory();
std::unique_ptr<webrtc::VideoDecoderFactory> CreateVideoDecoderFactory();

// audio_device.cc: the app-fed AudioDeviceModule over `bridge`.
rtcx::scoped_refptr<webrtc::AudioDeviceModule> CreateBridgeAudioDevice(
    std::shared_ptr<AudioBridge> bridge);

// The DTLS certificate every peer of `factory` presents (factory.cc): made once, remade
// when it has expired. Generating one per connection was the largest single cost of a
// data-channel setup.
rtcx::scoped_refptr<rtcx::RTCCertificate> FactoryCertificate(mrtc_factory* factory);

// SRTP keepalive (srtp_keepalive.cc), where build.rs turns it on.
#ifndef MRTC_SRTP_KEEPALIVE
#define MRTC_SRTP_KEEPALIVE 0
#endif
#if MRTC_SRTP_KEEPALIVE
std::shared_ptr<void> StartSrtpKeepalive(rtcx::Thread* network);
#endif

}  // namespace mrtc

struct mrtc_factory {
  std::unique_ptr<rtcx::Thread> network;
  std::unique_ptr<rtcx::Thread> worker;
  std::unique_ptr<rtcx::Thread> signaling;
  std::unique_ptr<webrtc::TaskQueueFactory> task_queue_factory;
  std::shared_ptr<mrtc::AudioBridge> audio;
  rtcx::scoped_refptr<webrtc::AudioDeviceModule> adm;
  rtcx::scoped_refptr<webrtc::PeerConnectionFactoryInterface> pcf;
  // One audio source for every local audio track: the device's capture feeds all senders.
  rtcx::scoped_refptr<webrtc::AudioSourceInterface> audio_source;
  std::mutex audio_source_mu;
  // mrtc_factory_config.raw_audio: the audio source turns libwebrtc's processing off.
  bool raw_audio = false;
  std::mutex certificate_mu;
  rtcx::scoped_refptr<rtcx::RTCCertificate> certificate;  // guarded by certificate_mu
  // An idle SRTP session held for the factory's lifetime (srtp_keepalive.cc).
  std::shared_ptr<void> srtp_keepalive;
};

#endif  // MOBILERTC_MRTC_INTERNAL_H

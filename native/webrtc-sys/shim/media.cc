// Audio and video: local tracks fed from the app, remote tracks with sinks.
#include "api/video/video_frame_buffer.h"
#include "rtc_base/time_utils.h"

#include "mrtc_internal.h"
#include "peer_internal.h"

// needs_denoising() returns std::optional since "Migrate absl::optional to std::optional"
// (main 2024-09-02, between the M129 and M130 branch points). Where abseil aliases
// absl::optional to std::optional (Chromium's config) both spellings are the same type.
#if MRTC_WEBRTC_MILESTONE >= 130
#include <optional>
#define MRTC_OPTIONAL std::optional
#else
#define MRTC_OPTIONAL absl::optional
#endif

namespace mrtc {

// Local video: frames pushed by the app, adapted (downscaled/dropped) as the encoder asks.
class VideoSource : public rtcx::AdaptedVideoTrackSource {
 public:
  bool is_screencast() const override { return false; }
  MRTC_OPTIONAL<bool> needs_denoising() const override { return false; }
  SourceState state() const override { return kLive; }
  bool remote() const override { return false; }

  void Push(const mrtc_i420_frame& f) {
    // One push at a time: timestamps leave in the order they were assigned.
    std::lock_guard<std::mutex> lock(mu_);
    const int64_t ts = Timestamp(f.timestamp_us);
    int adapted_w, adapted_h, crop_w, crop_h, crop_x, crop_y;
    if (!AdaptFrame(f.width, f.height, ts, &adapted_w, &adapted_h, &crop_w, &crop_h, &crop_x,
                    &crop_y)) {
      return;  // the adapter drops this frame (frame-rate limit)
    }
    rtcx::scoped_refptr<webrtc::VideoFrameBuffer> buffer = webrtc::I420Buffer::Copy(
        f.width, f.height, f.y, f.stride_y, f.u, f.stride_u, f.v, f.stride_v);
    if (adapted_w != f.width || adapted_h != f.height) {
      buffer = buffer->CropAndScale(crop_x, crop_y, crop_w, crop_h, adapted_w, adapted_h);
    }
    OnFrame(webrtc::VideoFrame::Builder()
                .set_video_frame_buffer(buffer)
                .set_timestamp_us(ts)
                .set_rotation(webrtc::kVideoRotation_0)
                .build());
  }

 private:
  // How far an app stamp may run ahead of the source's clock before it re-anchors.
  static constexpr int64_t kMaxLeadUs = 1000000;

  // Maps the app's capture stamp onto rtc::TimeMicros(): the app's clock may have any
  // epoch, but libwebrtc (the adapter, the encoder's rate control) drops frames that are
  // not newer than the last one, so one far-future stamp used to freeze the video for
  // good (and stamps near the int64 limits overflow its nanosecond arithmetic). Keeps the
  // app's spacing; re-anchors to now when a stamp goes backwards or leads by over 1 s.
  int64_t Timestamp(int64_t app_us) {
    const int64_t now = rtcx::TimeMicros();
    int64_t ts = now;
    if (app_us != 0) {
      int64_t mapped;
      if (have_offset_ && !__builtin_add_overflow(app_us, offset_, &mapped) &&
          mapped > last_us_ && mapped <= now + kMaxLeadUs) {
        ts = mapped;
      } else {
        have_offset_ = !__builtin_sub_overflow(now, app_us, &offset_);
      }
    }
    if (ts <= last_us_) ts = last_us_ + 1;
    last_us_ = ts;
    return ts;
  }

  std::mutex mu_;
  bool have_offset_ = false;
  int64_t offset_ = 0;
  int64_t last_us_ = 0;
};

// Track and stream ids end up in SDP lines (a=msid): RFC 8830 token characters only.
bool ValidId(mrtc_str id, bool allow_empty) {
  if (!id.len) return allow_empty;
  if (!id.ptr || id.len > MRTC_MAX_ID_BYTES) return false;
  for (size_t i = 0; i < id.len; ++i) {
    const unsigned char c = static_cast<unsigned char>(id.ptr[i]);
    const bool token = c == 0x21 || (c >= 0x23 && c <= 0x27) || c == 0x2A || c == 0x2B ||
                       c == 0x2D || c == 0x2E || (c >= 0x30 && c <= 0x39) ||
                       (c >= 0x41 && c <= 0x5A) || (c >= 0x5E && c <= 0x7E);
    if (!token) return false;
  }
  return true;
}

// A plane of `rows` rows `stride` bytes apart must fit libwebrtc's int arithmetic.
bool PlaneFits(int32_t stride, int32_t rows) {
  return static_cast<int64_t>(stride) * rows <= INT32_MAX;
}

// Remote audio of one track, as delivered by WebRTC while the device plays out.
class AudioSink : public webrtc::AudioTrackSinkInterface {
 public:
  void Set(mrtc_audio_cb cb, void* user_data) {
    std::lock_guard<std::mutex> lock(mu_);
    cb_ = cb;
    user_data_ = user_data;
  }
  void OnData(const void* audio_data, int bits_per_sample, int sample_rate,
              size_t number_of_channels, size_t number_of_frames) override {
    if (bits_per_sample != 16 || !audio_data) return;
    std::lock_guard<std::mutex> lock(mu_);
    if (cb_) {
      cb_(user_data_, static_cast<const int16_t*>(audio_data), number_of_frames,
          static_cast<uint32_t>(sample_rate), static_cast<uint32_t>(number_of_channels));
    }
  }

 private:
  std::mutex mu_;
  mrtc_audio_cb cb_ = nullptr;
  void* user_data_ = nullptr;
};

class VideoSink : public rtcx::VideoSinkInterface<webrtc::VideoFrame> {
 public:
  void Set(mrtc_video_cb cb, void* user_data) {
    std::lock_guard<std::mutex> lock(mu_);
    cb_ = cb;
    user_data_ = user_data;
  }
  void OnFrame(const webrtc::VideoFrame& frame) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!cb_) return;
    auto i420 = frame.video_frame_buffer()->ToI420();
    if (!i420) return;
    mrtc_i420_frame f{};
    f.width = i420->width();
    f.height = i420->height();
    f.y = i420->DataY();
    f.stride_y = i420->StrideY();
    f.u = i420->DataU();
    f.stride_u = i420->StrideU();
    f.v = i420->DataV();
    f.stride_v = i420->StrideV();
    f.timestamp_us = frame.timestamp_us();
    cb_(user_data_, &f);
  }

 private:
  std::mutex mu_;
  mrtc_video_cb cb_ = nullptr;
  void* user_data_ = nullptr;
};

void DetachSink(mrtc_video_sink* sink) {
  // The broadcaster delivers under the lock RemoveSink takes: no frame reaches the sink
  // from this track or source after this returns.
  if (sink->track) sink->track->RemoveSink(sink->sink.get());
  if (sink->source) sink->source->RemoveSink(sink->sink.get());
  sink->track = nullptr;
  sink->source = nullptr;
}

mrtc_remote_track* NewRemoteTrackHandle(
    mrtc_factory* factory, rtcx::scoped_refptr<webrtc::MediaStreamTrackInterface> track) {
  auto h = std::make_unique<mrtc_remote_track>();
  h->factory = factory;
  h->kind = track->kind() == webrtc::MediaStreamTrackInterface::kVideoKind ? MRTC_TRACK_VIDEO
                                                                          : MRTC_TRACK_AUDIO;
  h->id = track->id();
  h->track = std::move(track);
  return h.release();
}

// Ends a local track's handle. The track stays in its sender (and keeps sending) until the
// peer connection closes; set_enabled(0) is how the app mutes it.
template <typename Track>
struct LocalTrack {
  rtcx::scoped_refptr<Track> track;
  rtcx::scoped_refptr<webrtc::RtpSenderInterface> sender;
};

}  // namespace mrtc

mrtc_remote_track::~mrtc_remote_track() = default;

struct mrtc_audio_track : mrtc::LocalTrack<webrtc::AudioTrackInterface> {};
struct mrtc_video_track : mrtc::LocalTrack<webrtc::VideoTrackInterface> {};
mrtc_video_source::~mrtc_video_source() = default;
mrtc_video_sink::~mrtc_video_sink() = default;

using mrtc::Guard;
using mrtc::GuardVoid;

namespace {

// AddTrack + error mapping shared by audio and video.
template <typename Handle, typename TrackPtr>
mrtc_status AddTrack(mrtc_peer* peer, TrackPtr track, mrtc_str stream_id, Handle** out) {
  auto pc = peer->shared->PcIfOpen();
  if (!pc) return MRTC_ERR_CLOSED;
  std::vector<std::string> streams;
  if (stream_id.len) streams.push_back(mrtc::ToString(stream_id));
  auto result = pc->AddTrack(track, streams);
  if (!result.ok()) {
    RTC_LOG(LS_WARNING) << "mrtc: AddTrack: " << result.error().message();
    const mrtc_status s = mrtc::StatusFromError(result.error());
    return s == MRTC_OK ? MRTC_ERR_INTERNAL : s;
  }
  auto h = std::make_unique<Handle>();
  h->track = std::move(track);
  h->sender = result.MoveValue();
  *out = h.release();
  return MRTC_OK;
}

}  // namespace

extern "C" {

mrtc_status mrtc_peer_add_audio_track(mrtc_peer* peer, mrtc_str track_id, mrtc_str stream_id,
                                      mrtc_audio_track** out) {
  return Guard(MRTC_ERR_INTERNAL, [&]() -> mrtc_status {
    if (!peer || !out) return MRTC_ERR_INVALID_ARGUMENT;
    *out = nullptr;
    if (!mrtc::ValidId(track_id, false) || !mrtc::ValidId(stream_id, true)) {
      return MRTC_ERR_INVALID_ARGUMENT;
    }
    mrtc_factory* f = peer->factory;
    rtcx::scoped_refptr<webrtc::AudioSourceInterface> source;
    {
      std::lock_guard<std::mutex> lock(f->audio_source_mu);
      source = f->audio_source;
    }
    if (!source) {
      // The device's capture feeds every sending audio stream; one source serves all
      // tracks. Created without the lock held: CreateAudioSource waits for the signaling
      // thread, which may itself be waiting for this lock (a completion adding a track
      // there while the app adds the factory's first one). Two racing creators keep the
      // first one stored.
      // The options reach the voice engine's audio processing when a sender starts
      // (WebRtcVoiceEngine::ApplyOptions); unset ones keep the engine's defaults, which
      // are all on.
      cricketx::AudioOptions options;
      if (f->raw_audio) {
        options.echo_cancellation = false;
        options.auto_gain_control = false;
        options.noise_suppression = false;
        options.highpass_filter = false;
      }
      auto created = f->pcf->CreateAudioSource(options);
      std::lock_guard<std::mutex> lock(f->audio_source_mu);
      if (!f->audio_source) f->audio_source = created;
      source = f->audio_source;
    }
    if (!source) return MRTC_ERR_INTERNAL;
    auto track = f->pcf->CreateAudioTrack(mrtc::ToString(track_id), source.get());
    if (!track) return MRTC_ERR_INTERNAL;
    return AddTrack(peer, std::move(track), stream_id, out);
  });
}

void mrtc_audio_track_set_enabled(mrtc_audio_track* track, int enabled) {
  GuardVoid([&] {
    if (track) track->track->set_enabled(enabled != 0);
  });
}

void mrtc_audio_track_destroy(mrtc_audio_track* track) {
  GuardVoid([&] { delete track; });
}

mrtc_status mrtc_video_source_create(mrtc_factory* factory, mrtc_video_source** out) {
  return Guard(MRTC_ERR_INTERNAL, [&]() -> mrtc_status {
    if (!factory || !out) return MRTC_ERR_INVALID_ARGUMENT;
    auto h = std::make_unique<mrtc_video_source>();
    auto own = rtcx::make_ref_counted<mrtc::VideoSource>();
    h->pushed = own.get();
    h->source = std::move(own);
    *out = h.release();
    return MRTC_OK;
  });
}

mrtc_status mrtc_video_source_push_i420(mrtc_video_source* source, const mrtc_i420_frame* f) {
  return Guard(MRTC_ERR_INTERNAL, [&]() -> mrtc_status {
    if (!source || !f || f->width <= 0 || f->height <= 0 || !f->y || !f->u || !f->v) {
      return MRTC_ERR_INVALID_ARGUMENT;
    }
    const int chroma_w = (f->width + 1) / 2;
    const int chroma_h = (f->height + 1) / 2;
    if (f->stride_y < f->width || f->stride_u < chroma_w || f->stride_v < chroma_w) {
      return MRTC_ERR_INVALID_ARGUMENT;
    }
    if (f->width > MRTC_MAX_FRAME_SIDE || f->height > MRTC_MAX_FRAME_SIDE ||
        !mrtc::PlaneFits(f->stride_y, f->height) || !mrtc::PlaneFits(f->stride_u, chroma_h) ||
        !mrtc::PlaneFits(f->stride_v, chroma_h)) {
      return MRTC_ERR_INVALID_ARGUMENT;
    }
    // A source made elsewhere (a camera) is fed by its own capturer.
    if (!source->pushed) return MRTC_ERR_INVALID_STATE;
    source->pushed->Push(*f);
    return MRTC_OK;
  });
}

void mrtc_video_source_destroy(mrtc_video_source* source) {
  GuardVoid([&] { delete source; });
}

mrtc_status mrtc_peer_add_video_track(mrtc_peer* peer, mrtc_video_source* source,
                                      mrtc_str track_id, mrtc_str stream_id,
                                      mrtc_video_track** out) {
  return Guard(MRTC_ERR_INTERNAL, [&]() -> mrtc_status {
    if (!peer || !source || !out) return MRTC_ERR_INVALID_ARGUMENT;
    *out = nullptr;
    if (!mrtc::ValidId(track_id, false) || !mrtc::ValidId(stream_id, true)) {
      return MRTC_ERR_INVALID_ARGUMENT;
    }
#if MRTC_VIDEO_TRACK_REFPTR_FIRST
    auto track = peer->factory->pcf->CreateVideoTrack(source->source, mrtc::ToString(track_id));
#else
    auto track = peer->factory->pcf->CreateVideoTrack(mrtc::ToString(track_id),
                                                      source->source.get());
#endif
    if (!track) return MRTC_ERR_INTERNAL;
    return AddTrack(peer, std::move(track), stream_id, out);
  });
}

void mrtc_video_track_set_enabled(mrtc_video_track* track, int enabled) {
  GuardVoid([&] {
    if (track) track->track->set_enabled(enabled != 0);
  });
}

void mrtc_video_track_destroy(mrtc_video_track* track) {
  GuardVoid([&] { delete track; });
}

mrtc_track_kind mrtc_remote_track_kind(mrtc_remote_track* track) {
  return track ? track->kind : MRTC_TRACK_AUDIO;
}

mrtc_str mrtc_remote_track_id(mrtc_remote_track* track) {
  return track ? mrtc::Str(track->id) : mrtc_str{nullptr, 0};
}

mrtc_status mrtc_remote_track_set_audio_sink(mrtc_remote_track* track, mrtc_audio_cb cb,
                                             void* user_data) {
  return Guard(MRTC_ERR_INTERNAL, [&]() -> mrtc_status {
    if (!track || track->kind != MRTC_TRACK_AUDIO) return MRTC_ERR_INVALID_ARGUMENT;
    auto* audio = static_cast<webrtc::AudioTrackInterface*>(track->track.get());
    if (!cb) {
      if (track->audio_sink) {
        track->audio_sink->Set(nullptr, nullptr);  // waits for a running callback
        audio->RemoveSink(track->audio_sink.get());
        track->audio_sink.reset();
      }
      return MRTC_OK;
    }
    if (track->audio_sink) {
      track->audio_sink->Set(cb, user_data);
      return MRTC_OK;
    }
    track->audio_sink = std::make_unique<mrtc::AudioSink>();
    track->audio_sink->Set(cb, user_data);
    audio->AddSink(track->audio_sink.get());
    return MRTC_OK;
  });
}

mrtc_status mrtc_remote_track_set_video_sink(mrtc_remote_track* track, mrtc_video_cb cb,
                                             void* user_data) {
  return Guard(MRTC_ERR_INTERNAL, [&]() -> mrtc_status {
    if (!track || track->kind != MRTC_TRACK_VIDEO) return MRTC_ERR_INVALID_ARGUMENT;
    auto* video = static_cast<webrtc::VideoTrackInterface*>(track->track.get());
    if (!cb) {
      if (track->video_sink) {
        track->video_sink->Set(nullptr, nullptr);
        video->RemoveSink(track->video_sink.get());
        track->video_sink.reset();
      }
      return MRTC_OK;
    }
    if (track->video_sink) {
      track->video_sink->Set(cb, user_data);
      return MRTC_OK;
    }
    track->video_sink = std::make_unique<mrtc::VideoSink>();
    track->video_sink->Set(cb, user_data);
    video->AddOrUpdateSink(track->video_sink.get(), rtcx::VideoSinkWants());
    return MRTC_OK;
  });
}

mrtc_status mrtc_video_sink_create(mrtc_video_cb cb, void* user_data, mrtc_video_sink** out) {
  return Guard(MRTC_ERR_INTERNAL, [&]() -> mrtc_status {
    if (!out) return MRTC_ERR_INVALID_ARGUMENT;
    *out = nullptr;
    if (!cb) return MRTC_ERR_INVALID_ARGUMENT;
    auto h = std::make_unique<mrtc_video_sink>();
    auto sink = std::make_unique<mrtc::VideoSink>();
    sink->Set(cb, user_data);
    h->callback = sink.get();
    h->sink = std::move(sink);
    *out = h.release();
    return MRTC_OK;
  });
}

mrtc_status mrtc_video_sink_attach_remote(mrtc_video_sink* sink, mrtc_remote_track* track) {
  return Guard(MRTC_ERR_INTERNAL, [&]() -> mrtc_status {
    if (!sink || !track || track->kind != MRTC_TRACK_VIDEO) return MRTC_ERR_INVALID_ARGUMENT;
    rtcx::scoped_refptr<webrtc::VideoTrackInterface> video(
        static_cast<webrtc::VideoTrackInterface*>(track->track.get()));
    std::lock_guard<std::mutex> lock(sink->mu);
    mrtc::DetachSink(sink);
    video->AddOrUpdateSink(sink->sink.get(), rtcx::VideoSinkWants());
    sink->track = std::move(video);
    return MRTC_OK;
  });
}

mrtc_status mrtc_video_sink_attach_local(mrtc_video_sink* sink, mrtc_video_source* source) {
  return Guard(MRTC_ERR_INTERNAL, [&]() -> mrtc_status {
    if (!sink || !source) return MRTC_ERR_INVALID_ARGUMENT;
    std::lock_guard<std::mutex> lock(sink->mu);
    mrtc::DetachSink(sink);
    source->source->AddOrUpdateSink(sink->sink.get(), rtcx::VideoSinkWants());
    sink->source = source->source;
    return MRTC_OK;
  });
}

void mrtc_video_sink_detach(mrtc_video_sink* sink) {
  GuardVoid([&] {
    if (!sink) return;
    std::lock_guard<std::mutex> lock(sink->mu);
    mrtc::DetachSink(sink);
  });
}

void mrtc_video_sink_destroy(mrtc_video_sink* sink) {
  GuardVoid([&] {
    if (!sink) return;
    std::unique_ptr<mrtc_video_sink> owned(sink);
    // Waits for a callback that is running; none starts after this.
    if (sink->callback) sink->callback->Set(nullptr, nullptr);
    std::lock_guard<std::mutex> lock(sink->mu);
    mrtc::DetachSink(sink);
  });
}

void mrtc_remote_track_destroy(mrtc_remote_track* track) {
  GuardVoid([&] {
    if (!track) return;
    std::unique_ptr<mrtc_remote_track> owned(track);
    mrtc_remote_track_set_audio_sink(track, nullptr, nullptr);
    mrtc_remote_track_set_video_sink(track, nullptr, nullptr);
  });
}

}  // extern "C"

// Android-only entry points of the shim (declared in mrtc.h under __ANDROID__). build.rs
// compiles every shim/*.cc; this one is empty on every other target, so the Linux build and
// the distro libwebrtc (which has no sdk/android/native_api) never see these includes.
//
// Everything here is upstream's native Android API (sdk/android/native_api/, in
// libwebrtc.a on Android because the `webrtc` target depends on sdk/android): the Java
// audio device module, a video source fed by a Java capturer, Java video sinks, the Java
// codec factories and the Android network monitor. Compile-checked against a WebRTC
// snapshot's headers (native/webrtc-sys/tests/android_compile.rs); not run here.
#if defined(__ANDROID__)

#include <jni.h>

#include "api/environment/environment_factory.h"
#include "sdk/android/native_api/audio_device_module/audio_device_android.h"
#include "sdk/android/native_api/base/init.h"
#include "sdk/android/native_api/codecs/wrapper.h"
#include "sdk/android/native_api/jni/jvm.h"
#include "sdk/android/native_api/network_monitor/network_monitor.h"
#include "sdk/android/native_api/video/video_source.h"
#include "sdk/android/native_api/video/wrapper.h"

#include "factory_parts.h"
#include "mrtc.h"
#include "peer_internal.h"

// Written against the native API as it is from M139 on (CreateJavaAudioDeviceModule takes
// the Environment, rtc:: names are in webrtc::). Android builds use the pinned source
// milestone, never the distro's M110.
#if MRTC_WEBRTC_MILESTONE < 139
#error "shim/android.cc needs libwebrtc M139 or newer (sdk/android/native_api as compile-checked)"
#endif

namespace {

JNIEnv* Env(void* jni_env) { return static_cast<JNIEnv*>(jni_env); }
jobject Obj(void* object) { return static_cast<jobject>(object); }

// A JNI global reference owned by C++; released from whatever thread drops the last owner
// (attached to the VM if it is not: WebRTC's worker thread may be that thread).
class GlobalRef {
 public:
  GlobalRef(JNIEnv* env, jobject obj) : obj_(env->NewGlobalRef(obj)) {}
  GlobalRef(const GlobalRef&) = delete;
  GlobalRef& operator=(const GlobalRef&) = delete;
  ~GlobalRef() {
    if (obj_) webrtc::AttachCurrentThreadIfNeeded()->DeleteGlobalRef(obj_);
  }
  jobject get() const { return obj_; }

 private:
  jobject obj_;
};

}  // namespace

// A video source fed from Java (org.webrtc.CapturerObserver: Camera2Capturer and its
// SurfaceTextureHelper call onFrameCaptured on it). Frames stay texture-backed until an
// encoder or a sink needs them otherwise.
struct mrtc_android_video_source {
  rtcx::scoped_refptr<webrtc::JavaVideoTrackSourceInterface> source;
};

struct mrtc_android_video_track {
  rtcx::scoped_refptr<webrtc::VideoTrackInterface> track;
  rtcx::scoped_refptr<webrtc::RtpSenderInterface> sender;
};

// A Java org.webrtc.VideoSink (SurfaceViewRenderer) attached to a remote track or a local
// source. `owner` keeps the track or source alive while the sink is attached.
struct mrtc_android_video_sink {
  rtcx::scoped_refptr<webrtc::RefCountInterface> owner;
  rtcx::VideoSourceInterface<webrtc::VideoFrame>* from = nullptr;
  std::unique_ptr<rtcx::VideoSinkInterface<webrtc::VideoFrame>> sink;
};

using mrtc::Guard;
using mrtc::GuardVoid;

namespace {

mrtc_status AttachSink(rtcx::scoped_refptr<webrtc::RefCountInterface> owner,
                       rtcx::VideoSourceInterface<webrtc::VideoFrame>* from, JNIEnv* env,
                       jobject java_sink, mrtc_android_video_sink** out) {
  auto h = std::make_unique<mrtc_android_video_sink>();
  h->owner = std::move(owner);
  h->from = from;
  // Holds a global reference to the Java sink and calls its onFrame(VideoFrame) on
  // WebRTC's thread (attached as needed); texture frames are passed through unconverted.
  h->sink = webrtc::JavaToNativeVideoSink(env, java_sink);
  if (!h->sink) return MRTC_ERR_INTERNAL;
  h->from->AddOrUpdateSink(h->sink.get(), rtcx::VideoSinkWants());
  *out = h.release();
  return MRTC_OK;
}

}  // namespace

extern "C" {

mrtc_status mrtc_android_init(void* java_vm) {
  if (!java_vm) return MRTC_ERR_INVALID_ARGUMENT;
  // Stores the JVM for WebRTC's JNI helpers and loads its Java classes through the app's
  // class loader; must run on a thread that can see the app's classes (JNI_OnLoad does).
  webrtc::InitAndroid(static_cast<JavaVM*>(java_vm));
  return MRTC_OK;
}

mrtc_status mrtc_factory_create_android(const mrtc_factory_config* config,
                                        const mrtc_android_media* media, mrtc_factory** out) {
  return Guard(MRTC_ERR_INTERNAL, [&]() -> mrtc_status {
    if (!out) return MRTC_ERR_INVALID_ARGUMENT;
    *out = nullptr;
    if (!media || !media->jni_env || !media->application_context) {
      return MRTC_ERR_INVALID_ARGUMENT;
    }
    JNIEnv* env = Env(media->jni_env);
    mrtc::FactoryParts parts;
    // Microphone and speaker: org.webrtc.audio.WebRtcAudioRecord/WebRtcAudioTrack over
    // AudioRecord (VOICE_COMMUNICATION) and AudioTrack. The platform's acoustic echo
    // canceler and noise suppressor are switched on where WebRtcAudioEffects reports the
    // device has them; WebRTC's software ones run otherwise.
    auto context = std::make_shared<GlobalRef>(env, Obj(media->application_context));
    // Its own default Environment (clock, task queues, field trials): the factory's is
    // internal to CreatePeerConnectionFactory.
    parts.make_adm = [context]() {
      return webrtc::CreateJavaAudioDeviceModule(webrtc::AttachCurrentThreadIfNeeded(),
                                                 webrtc::CreateEnvironment(), context->get());
    };
    // org.webrtc.VideoEncoderFactory / VideoDecoderFactory (the app passes upstream's
    // DefaultVideoEncoderFactory/DefaultVideoDecoderFactory: MediaCodec with the software
    // codecs as fallback); the wrappers keep global references to them.
    if (media->video_encoder_factory) {
      parts.video_encoder_factory =
          webrtc::JavaToNativeVideoEncoderFactory(env, Obj(media->video_encoder_factory));
    }
    if (media->video_decoder_factory) {
      parts.video_decoder_factory =
          webrtc::JavaToNativeVideoDecoderFactory(env, Obj(media->video_decoder_factory));
    }
    // org.webrtc.NetworkMonitor over ConnectivityManager: network changes reach the port
    // allocator as they happen instead of on the next poll.
    if (media->network_monitor) {
      parts.network_monitor_factory =
          webrtc::CreateAndroidNetworkMonitorFactory(env, Obj(media->application_context));
    }
    return mrtc::CreateFactory(config, std::move(parts), out);
  });
}

mrtc_status mrtc_android_video_source_create(mrtc_factory* factory, void* jni_env,
                                             int is_screencast,
                                             mrtc_android_video_source** out) {
  return Guard(MRTC_ERR_INTERNAL, [&]() -> mrtc_status {
    if (!out) return MRTC_ERR_INVALID_ARGUMENT;
    *out = nullptr;
    if (!factory || !jni_env) return MRTC_ERR_INVALID_ARGUMENT;
    auto h = std::make_unique<mrtc_android_video_source>();
    // align_timestamps: camera timestamps are re-based on WebRTC's clock, as upstream's
    // PeerConnectionFactory.createVideoSource does.
    h->source = webrtc::CreateJavaVideoSource(Env(jni_env), factory->signaling.get(),
                                              is_screencast != 0, /*align_timestamps=*/true);
    if (!h->source) return MRTC_ERR_INTERNAL;
    *out = h.release();
    return MRTC_OK;
  });
}

void* mrtc_android_video_source_capturer_observer(mrtc_android_video_source* source,
                                                  void* jni_env) {
  return Guard(static_cast<void*>(nullptr), [&]() -> void* {
    if (!source || !jni_env) return nullptr;
    // A new local reference: the caller returns it to Java or deletes it.
    return source->source->GetJavaVideoCapturerObserver(Env(jni_env)).Release();
  });
}

void mrtc_android_video_source_destroy(mrtc_android_video_source* source) {
  GuardVoid([&] { delete source; });
}

mrtc_status mrtc_peer_add_android_video_track(mrtc_peer* peer,
                                              mrtc_android_video_source* source,
                                              mrtc_str track_id, mrtc_str stream_id,
                                              mrtc_android_video_track** out) {
  return Guard(MRTC_ERR_INTERNAL, [&]() -> mrtc_status {
    if (!out) return MRTC_ERR_INVALID_ARGUMENT;
    *out = nullptr;
    if (!peer || !source) return MRTC_ERR_INVALID_ARGUMENT;
    auto pc = peer->shared->Pc();
    if (!pc || peer->shared->closed) return MRTC_ERR_CLOSED;
    auto track =
        peer->factory->pcf->CreateVideoTrack(source->source, mrtc::ToString(track_id));
    if (!track) return MRTC_ERR_INTERNAL;
    std::vector<std::string> streams;
    if (stream_id.len) streams.push_back(mrtc::ToString(stream_id));
    auto result = pc->AddTrack(track, streams);
    if (!result.ok()) {
      RTC_LOG(LS_WARNING) << "mrtc: AddTrack (Android video): " << result.error().message();
      const mrtc_status s = mrtc::StatusFromError(result.error());
      return s == MRTC_OK ? MRTC_ERR_INTERNAL : s;
    }
    auto h = std::make_unique<mrtc_android_video_track>();
    h->track = std::move(track);
    h->sender = result.MoveValue();
    *out = h.release();
    return MRTC_OK;
  });
}

void mrtc_android_video_track_set_enabled(mrtc_android_video_track* track, int enabled) {
  GuardVoid([&] {
    if (track) track->track->set_enabled(enabled != 0);
  });
}

void mrtc_android_video_track_destroy(mrtc_android_video_track* track) {
  GuardVoid([&] { delete track; });
}

mrtc_status mrtc_android_video_sink_attach_remote(mrtc_remote_track* track, void* jni_env,
                                                  void* java_sink,
                                                  mrtc_android_video_sink** out) {
  return Guard(MRTC_ERR_INTERNAL, [&]() -> mrtc_status {
    if (!out) return MRTC_ERR_INVALID_ARGUMENT;
    *out = nullptr;
    if (!track || track->kind != MRTC_TRACK_VIDEO || !jni_env || !java_sink) {
      return MRTC_ERR_INVALID_ARGUMENT;
    }
    auto* video = static_cast<webrtc::VideoTrackInterface*>(track->track.get());
    return AttachSink(rtcx::scoped_refptr<webrtc::RefCountInterface>(video), video,
                      Env(jni_env), Obj(java_sink), out);
  });
}

mrtc_status mrtc_android_video_sink_attach_local(mrtc_android_video_source* source,
                                                 void* jni_env, void* java_sink,
                                                 mrtc_android_video_sink** out) {
  return Guard(MRTC_ERR_INTERNAL, [&]() -> mrtc_status {
    if (!out) return MRTC_ERR_INVALID_ARGUMENT;
    *out = nullptr;
    if (!source || !jni_env || !java_sink) return MRTC_ERR_INVALID_ARGUMENT;
    webrtc::JavaVideoTrackSourceInterface* s = source->source.get();
    return AttachSink(rtcx::scoped_refptr<webrtc::RefCountInterface>(s), s, Env(jni_env),
                      Obj(java_sink), out);
  });
}

void mrtc_android_video_sink_destroy(mrtc_android_video_sink* sink) {
  GuardVoid([&] {
    if (!sink) return;
    std::unique_ptr<mrtc_android_video_sink> owned(sink);
    // The broadcaster delivers under the lock RemoveSink takes: no frame reaches the Java
    // sink after this returns.
    owned->from->RemoveSink(owned->sink.get());
  });
}

}  // extern "C"

#endif  // __ANDROID__

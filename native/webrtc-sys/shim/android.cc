// The shim's Android entry points (declared in mrtc.h on every platform). build.rs compiles
// every shim/*.cc; off Android this file only defines them as MRTC_ERR_UNSUPPORTED (at the
// end), so the Linux build and the distro libwebrtc (which has no sdk/android/native_api)
// never see the includes below, and the Rust side that calls them builds and runs anywhere.
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

using mrtc::Guard;

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
                                             int is_screencast, mrtc_video_source** out) {
  return Guard(MRTC_ERR_INTERNAL, [&]() -> mrtc_status {
    if (!out) return MRTC_ERR_INVALID_ARGUMENT;
    *out = nullptr;
    if (!factory || !jni_env) return MRTC_ERR_INVALID_ARGUMENT;
    // align_timestamps: camera timestamps are re-based on WebRTC's clock, as upstream's
    // PeerConnectionFactory.createVideoSource does. Frames stay texture-backed until an
    // encoder or a sink needs them otherwise.
    rtcx::scoped_refptr<webrtc::JavaVideoTrackSourceInterface> java =
        webrtc::CreateJavaVideoSource(Env(jni_env), factory->signaling.get(),
                                      is_screencast != 0, /*align_timestamps=*/true);
    if (!java) return MRTC_ERR_INTERNAL;
    auto h = std::make_unique<mrtc_video_source>();
    h->source = java;
    h->capturer_observer = [java](void* env) -> void* {
      // A new local reference: the caller returns it to Java or deletes it.
      return java->GetJavaVideoCapturerObserver(Env(env)).Release();
    };
    *out = h.release();
    return MRTC_OK;
  });
}

void* mrtc_android_video_source_capturer_observer(mrtc_video_source* source, void* jni_env) {
  return Guard(static_cast<void*>(nullptr), [&]() -> void* {
    if (!source || !jni_env || !source->capturer_observer) return nullptr;
    return source->capturer_observer(jni_env);
  });
}

mrtc_status mrtc_android_video_sink_create(void* jni_env, void* java_sink,
                                           mrtc_video_sink** out) {
  return Guard(MRTC_ERR_INTERNAL, [&]() -> mrtc_status {
    if (!out) return MRTC_ERR_INVALID_ARGUMENT;
    *out = nullptr;
    if (!jni_env || !java_sink) return MRTC_ERR_INVALID_ARGUMENT;
    auto h = std::make_unique<mrtc_video_sink>();
    // Holds a global reference to the Java sink and calls its onFrame(VideoFrame) on
    // WebRTC's thread (attached as needed); texture frames are passed through unconverted.
    h->sink = webrtc::JavaToNativeVideoSink(Env(jni_env), Obj(java_sink));
    if (!h->sink) return MRTC_ERR_INTERNAL;
    *out = h.release();
    return MRTC_OK;
  });
}

}  // extern "C"

#else  // !__ANDROID__

#include "mrtc.h"

// Off Android: the same entry points, refusing. The Rust side calls them on every platform
// and falls back to the shim's own factory, sources and sinks on MRTC_ERR_UNSUPPORTED.
extern "C" {

mrtc_status mrtc_android_init(void*) { return MRTC_ERR_UNSUPPORTED; }

mrtc_status mrtc_factory_create_android(const mrtc_factory_config*, const mrtc_android_media*,
                                        mrtc_factory** out) {
  if (out) *out = nullptr;
  return MRTC_ERR_UNSUPPORTED;
}

mrtc_status mrtc_android_video_source_create(mrtc_factory*, void*, int,
                                             mrtc_video_source** out) {
  if (out) *out = nullptr;
  return MRTC_ERR_UNSUPPORTED;
}

void* mrtc_android_video_source_capturer_observer(mrtc_video_source*, void*) {
  return nullptr;
}

mrtc_status mrtc_android_video_sink_create(void*, void*, mrtc_video_sink** out) {
  if (out) *out = nullptr;
  return MRTC_ERR_UNSUPPORTED;
}

}  // extern "C"

#endif  // __ANDROID__

// Android-only entry points of the shim (declared in mrtc.h under __ANDROID__). build.rs
// compiles every shim/*.cc; this one is empty on every other target, so the Linux build and
// the distro libwebrtc (which has no sdk/android/native_api) never see these includes.
#if defined(__ANDROID__)

#include <jni.h>

#include "sdk/android/native_api/base/init.h"

#include "mrtc.h"

extern "C" mrtc_status mrtc_android_init(void* java_vm) {
  if (!java_vm) return MRTC_ERR_INVALID_ARGUMENT;
  // Stores the JVM for WebRTC's JNI helpers and loads its Java classes through the app's
  // class loader; must run on a thread that can see the app's classes (JNI_OnLoad does).
  webrtc::InitAndroid(static_cast<JavaVM*>(java_vm));
  return MRTC_OK;
}

#endif  // __ANDROID__

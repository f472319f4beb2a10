plugins {
    id("com.android.application")
}

// Set by `cargo xtask build --target android` (see gradle.properties).
val builtAbis: List<String> = providers.gradleProperty("mobilertc.abis").orNull
    ?.split(",")?.map { it.trim() }?.filter { it.isNotEmpty() }
    ?: listOf("arm64-v8a", "armeabi-v7a", "x86_64", "x86")
val debugKeystore: String? = providers.gradleProperty("mobilertc.debugKeystore").orNull

android {
    namespace = "dev.mobilertc.app"
    compileSdk = 35

    defaultConfig {
        applicationId = "dev.mobilertc.app"
        // AAudio/Camera2 and runtime permissions need 23+; 24 is libwebrtc's own minimum.
        minSdk = 24
        targetSdk = 35
        versionCode = 1
        versionName = "0.1.0"
        ndk {
            // Only the ABIs the xtask built: the APK must not claim one it has no library for.
            abiFilters += builtAbis
        }
    }

    signingConfigs {
        getByName("debug") {
            // The standard debug key (~/.android/debug.keystore, androiddebugkey/android),
            // created by the xtask with keytool when absent, exactly as Android Studio does.
            if (debugKeystore != null) {
                storeFile = file(debugKeystore)
                storePassword = "android"
                keyAlias = "androiddebugkey"
                keyPassword = "android"
            }
        }
    }

    buildTypes {
        getByName("release") {
            // Signed with the debug key when the xtask passes it, so that `cargo xtask build`
            // then `cargo xtask install` works for release builds too. For Google Play, put
            // your own signing config here.
            if (debugKeystore != null) {
                signingConfig = signingConfigs.getByName("debug")
            }
            // Native code is the Rust cdylib; the Java side is tiny and reflection-called
            // from native code (org.webrtc.*), so no R8 shrinking.
            isMinifyEnabled = false
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }

    packaging {
        jniLibs {
            // Stored uncompressed and 16 KiB-aligned (AGP >= 8.5.1 does both) so the loader
            // maps them straight from the APK on 4 KB and 16 KB page devices alike.
            useLegacyPackaging = false
        }
    }
}

dependencies {
    // webrtc's Java side (org.webrtc.*: ContextUtils, the Java audio device module, …) that
    // libwebrtc's native code calls back into; built by the xtask from sdk/android:libwebrtc
    // and staged here.
    implementation(files("libs/libwebrtc.jar"))
}

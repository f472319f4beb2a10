plugins {
    id("com.android.application")
}

android {
    namespace = "dev.mobilertc.app"
    compileSdk = 35
    // Must match the NDK the xtask builds with (webrtc.toml); AGP only uses it to strip.
    ndkVersion = providers.gradleProperty("mobilertc.ndkVersion").getOrElse("27.2.12479018")

    defaultConfig {
        applicationId = "dev.mobilertc.app"
        minSdk = 24
        targetSdk = 35
        versionCode = 1
        versionName = "0.1.0"
        ndk {
            abiFilters += listOf("arm64-v8a", "armeabi-v7a", "x86_64", "x86")
        }
    }

    packaging {
        // Stored uncompressed and page-aligned so the loader can map them in place
        // (and 16 KB page devices can load them).
        jniLibs.useLegacyPackaging = false
    }
}

dependencies {
    // webrtc's Java side (org.webrtc.*), built by the xtask from sdk/android:libwebrtc.
    implementation(fileTree("libs") { include("*.jar") })
}

// The Android calling app. `cargo xtask build --target android` puts the Rust cdylib and
// its libwebrtc under app/src/main/jniLibs/<abi>/ and webrtc's Java classes (needed by
// the native audio device module) under app/libs/; this project only packages them.
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}
dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
    }
}
rootProject.name = "mobilertc"
include(":app")

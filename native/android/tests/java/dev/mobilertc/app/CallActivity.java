package dev.mobilertc.app;

import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * TEST STAND-IN for android-app's CallActivity (tests/jni.rs): the same class name, the same
 * native methods and the same onEvent(kind, text) callback, without android.app.Activity,
 * so the real JNI exports run in a desktop JVM. Events are queued instead of shown. Types
 * the desktop JVM lacks (android.content.Context, org.webrtc.*) are Object here; JNI binds
 * by name, and tests/jni.rs keeps both declarations in step.
 */
public final class CallActivity {
    private final LinkedBlockingQueue<String> events = new LinkedBlockingQueue<>();

    /** Called by the native side from the call's thread, as on Android. */
    private void onEvent(String kind, String text) {
        events.add(kind + "\t" + text);
    }

    /** The next event as "kind\ttext", or null after timeoutMs. */
    public String nextEvent(long timeoutMs) throws InterruptedException {
        return events.poll(timeoutMs, TimeUnit.MILLISECONDS);
    }

    public native void nativeInit(Object applicationContext);

    public native String nativeCall(String signalingUrl, String room, boolean video,
        Object encoderFactory, Object decoderFactory);

    public native Object nativeCapturerObserver();

    public native void nativeSetVideoSinks(Object local, Object remote);

    public native String nativeNetworkChanged(String change);

    public native String nativeSendChat(String text);

    public native void nativeHangup();

    public native String nativeStatus();
}

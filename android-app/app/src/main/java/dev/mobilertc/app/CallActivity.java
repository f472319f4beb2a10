package dev.mobilertc.app;

import android.Manifest;
import android.app.Activity;
import android.content.pm.PackageManager;
import android.os.Bundle;
import android.os.Handler;
import android.os.Looper;
import android.view.View;
import android.view.WindowManager;
import android.widget.Button;
import android.widget.EditText;
import android.widget.TextView;

import org.webrtc.CameraVideoCapturer;
import org.webrtc.CapturerObserver;
import org.webrtc.ContextUtils;
import org.webrtc.SurfaceViewRenderer;
import org.webrtc.VideoDecoderFactory;
import org.webrtc.VideoEncoderFactory;
import org.webrtc.VideoSink;

import java.util.ArrayList;
import java.util.List;

/**
 * The calling app's screen: the remote video full screen and the self view in a corner
 * (SurfaceViewRenderers on one EGL context, {@link CallMedia}), server and room, Call /
 * Hang up, mute, camera on/off, front/back, the audio route ({@link AudioRouter}), chat,
 * the call state and the live stats. Signaling and the call itself are the Rust
 * calling-app core (native/call) behind the native methods (native/android).
 *
 * <p>Permissions are asked on Call: without the camera the call is audio-only, without the
 * microphone it goes ahead receive-only, and the screen says which. Rotation does not
 * restart the activity (configChanges in the manifest); in the background the camera is
 * released and the call goes on; back in front it resumes. A change of network (Wi-Fi to
 * cellular) is passed to the native side, which restarts ICE ({@link NetworkWatcher}).
 */
public final class CallActivity extends Activity {
    static {
        // The Rust cdylib; its JNI_OnLoad runs webrtc::InitAndroid(JavaVM*) before anything else.
        System.loadLibrary("mobilertc_app");
    }

    private static final int PERMISSIONS_REQUEST = 1;

    private final Handler ui = new Handler(Looper.getMainLooper());
    private TextView status;
    private TextView stats;
    private TextView log;
    private EditText server;
    private EditText room;
    private Button mute;
    private Button camera;
    private Button route;
    private CallMedia media;
    private AudioRouter audio;
    private NetworkWatcher network;
    private boolean inCall;
    private boolean video;

    /** Polls the native status line once a second while a call runs. */
    private final Runnable statsTick = new Runnable() {
        @Override
        public void run() {
            if (!inCall) {
                return;
            }
            stats.setText(nativeStatus());
            ui.postDelayed(this, 1000);
        }
    };

    @Override
    protected void onCreate(Bundle savedInstanceState) {
        super.onCreate(savedInstanceState);
        setContentView(R.layout.call);
        status = findViewById(R.id.status);
        stats = findViewById(R.id.stats);
        log = findViewById(R.id.log);
        server = findViewById(R.id.server);
        room = findViewById(R.id.room);
        mute = findViewById(R.id.mute);
        camera = findViewById(R.id.camera);
        route = findViewById(R.id.route);
        EditText chat = findViewById(R.id.chat);

        // Before anything of libwebrtc's Java side runs (audio device, network monitor).
        ContextUtils.initialize(getApplicationContext());
        nativeInit(getApplicationContext());
        media = new CallMedia(getApplicationContext(),
            (SurfaceViewRenderer) findViewById(R.id.local_video),
            (SurfaceViewRenderer) findViewById(R.id.remote_video));
        audio = new AudioRouter(this, (r, available) -> route.setText("Audio: " + r));
        network = new NetworkWatcher(this, change -> {
            log.append("network changed: " + change + "\n");
            String err = nativeNetworkChanged(change);
            if (err != null) {
                log.append(err + "\n");
            }
        });

        findViewById(R.id.call).setOnClickListener(v -> {
            List<String> missing = missingPermissions();
            if (missing.isEmpty()) {
                startCall();
            } else {
                requestPermissions(missing.toArray(new String[0]), PERMISSIONS_REQUEST);
            }
        });
        findViewById(R.id.send).setOnClickListener(v -> {
            String text = chat.getText().toString();
            if (text.isEmpty()) {
                return;
            }
            String err = nativeSendChat(text);
            if (err != null) {
                log.append(err + "\n");
            } else {
                log.append("me: " + text + "\n");
                chat.setText("");
            }
        });
        findViewById(R.id.hangup).setOnClickListener(v -> nativeHangup());
        mute.setOnClickListener(v -> {
            boolean muted = !audio.isMuted();
            audio.setMuted(muted);
            mute.setText(muted ? "Unmute" : "Mute");
        });
        camera.setOnClickListener(v -> {
            boolean on = !media.isCameraOn();
            media.setCameraOn(on);
            camera.setText(media.isCameraOn() ? "Camera off" : "Camera on");
        });
        findViewById(R.id.flip).setOnClickListener(v -> media.switchCamera(
            new CameraVideoCapturer.CameraSwitchHandler() {
                @Override
                public void onCameraSwitchDone(boolean front) {
                    ui.post(() -> log.append("camera: " + (front ? "front" : "back") + "\n"));
                }

                @Override
                public void onCameraSwitchError(String error) {
                    ui.post(() -> log.append("camera switch failed: " + error + "\n"));
                }
            }));
        route.setOnClickListener(v -> audio.cycle());
        showInCall(false);
    }

    private List<String> missingPermissions() {
        List<String> missing = new ArrayList<>();
        for (String p : new String[] {Manifest.permission.RECORD_AUDIO, Manifest.permission.CAMERA}) {
            if (checkSelfPermission(p) != PackageManager.PERMISSION_GRANTED) {
                missing.add(p);
            }
        }
        return missing;
    }

    @Override
    public void onRequestPermissionsResult(int requestCode, String[] permissions, int[] results) {
        super.onRequestPermissionsResult(requestCode, permissions, results);
        if (requestCode != PERMISSIONS_REQUEST) {
            return;
        }
        for (int i = 0; i < permissions.length; i++) {
            if (results[i] == PackageManager.PERMISSION_GRANTED) {
                continue;
            }
            if (permissions[i].equals(Manifest.permission.CAMERA)) {
                log.append("camera refused: the call is audio-only\n");
            } else if (permissions[i].equals(Manifest.permission.RECORD_AUDIO)) {
                log.append("microphone refused: the peer will not hear you (grant it in"
                    + " Settings > Apps > mobilertc > Permissions)\n");
            }
        }
        startCall();
    }

    private boolean granted(String permission) {
        return checkSelfPermission(permission) == PackageManager.PERMISSION_GRANTED;
    }

    private void startCall() {
        if (inCall) {
            return;
        }
        String url = server.getText().toString().trim();
        if (url.isEmpty()) {
            url = server.getHint().toString();
        }
        String name = room.getText().toString().trim();
        if (name.isEmpty()) {
            name = room.getHint().toString();
        }
        video = granted(Manifest.permission.CAMERA);
        String err = nativeCall(url, name, video, media.encoderFactory(), media.decoderFactory());
        if (err != null) {
            status.setText("error: " + err);
            return;
        }
        inCall = true;
        showInCall(true);
        status.setText("joining " + name + " on " + url);
        audio.start();
        network.start();
        nativeSetVideoSinks(media.local, media.remote);
        if (video && !media.startCamera(nativeCapturerObserver(), cameraEvents)) {
            log.append("no usable camera: the call is audio-only\n");
        }
        // A call in progress keeps the screen on.
        getWindow().addFlags(WindowManager.LayoutParams.FLAG_KEEP_SCREEN_ON);
        ui.removeCallbacks(statsTick);
        ui.post(statsTick);
    }

    /** The call has ended (hang-up, the peer left, a failure): back to the idle screen. */
    private void endCall(String why) {
        inCall = false;
        media.stopCamera();
        network.stop();
        audio.stop();
        nativeSetVideoSinks(null, null);
        getWindow().clearFlags(WindowManager.LayoutParams.FLAG_KEEP_SCREEN_ON);
        stats.setText(nativeStatus());
        status.setText(why);
        showInCall(false);
        mute.setText("Mute");
        camera.setText("Camera off");
    }

    private void showInCall(boolean calling) {
        int inCallOnly = calling ? View.VISIBLE : View.GONE;
        mute.setVisibility(inCallOnly);
        camera.setVisibility(calling && video ? View.VISIBLE : View.GONE);
        findViewById(R.id.flip).setVisibility(calling && video ? View.VISIBLE : View.GONE);
        route.setVisibility(inCallOnly);
        findViewById(R.id.hangup).setVisibility(inCallOnly);
        findViewById(R.id.call).setVisibility(calling ? View.GONE : View.VISIBLE);
        server.setEnabled(!calling);
        room.setEnabled(!calling);
    }

    private final CameraVideoCapturer.CameraEventsHandler cameraEvents =
        new CameraVideoCapturer.CameraEventsHandler() {
            @Override
            public void onCameraError(String error) {
                ui.post(() -> log.append("camera error: " + error + "\n"));
            }

            @Override
            public void onCameraDisconnected() {
                ui.post(() -> log.append("camera disconnected\n"));
            }

            @Override
            public void onCameraFreezed(String error) {
                ui.post(() -> log.append("camera frozen: " + error + "\n"));
            }

            @Override
            public void onCameraOpening(String name) {}

            @Override
            public void onFirstFrameAvailable() {}

            @Override
            public void onCameraClosed() {}
        };

    @Override
    protected void onStart() {
        super.onStart();
        // Visible again: the camera comes back if the call still runs and it was on.
        media.resumeCamera();
    }

    @Override
    protected void onStop() {
        // In the background the camera goes to other apps (Android forbids background
        // capture anyway); audio and the call go on.
        media.pauseCamera();
        super.onStop();
    }

    @Override
    protected void onDestroy() {
        inCall = false;
        nativeHangup();
        nativeSetVideoSinks(null, null);
        network.stop();
        audio.stop();
        media.release();
        super.onDestroy();
    }

    /**
     * Called by the native side from the call's thread: kind is one of joined, state,
     * connected, chat-open, chat, log, ended (docs/android.md).
     */
    @SuppressWarnings("unused")
    private void onEvent(final String kind, final String text) {
        runOnUiThread(() -> {
            switch (kind) {
                case "chat":
                    log.append("peer: " + text + "\n");
                    break;
                case "log":
                    log.append(text + "\n");
                    break;
                case "ended":
                    endCall(text);
                    break;
                default:
                    status.setText(kind + ": " + text);
            }
        });
    }

    private native void nativeInit(android.content.Context applicationContext);

    /**
     * Joins the room and runs the call, with the camera when {@code video}; the codec
     * factories are upstream's Java ones for the native factory. Null, or why it could not
     * start.
     */
    private native String nativeCall(String signalingUrl, String room, boolean video,
        VideoEncoderFactory encoderFactory, VideoDecoderFactory decoderFactory);

    /** The native video source's CapturerObserver for the camera, or null without one. */
    private native CapturerObserver nativeCapturerObserver();

    /** Where the self view and the remote video go; nulls detach them. */
    private native void nativeSetVideoSinks(VideoSink local, VideoSink remote);

    /** The default network changed ("wifi -> cellular"): null, or why nothing was done. */
    private native String nativeNetworkChanged(String change);

    /** Null, or why the line could not be queued. */
    private native String nativeSendChat(String text);

    private native void nativeHangup();

    /** One line: state, connection kind, RTT, bytes, frames. */
    private native String nativeStatus();
}

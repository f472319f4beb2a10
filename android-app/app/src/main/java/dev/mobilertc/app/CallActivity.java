package dev.mobilertc.app;

import android.Manifest;
import android.app.Activity;
import android.content.pm.PackageManager;
import android.os.Bundle;
import android.os.Handler;
import android.os.Looper;
import android.widget.Button;
import android.widget.EditText;
import android.widget.TextView;

import java.util.ArrayList;
import java.util.List;

/**
 * The calling app's UI: server and room fields, Call / Hang up, a chat line, the status and
 * the live stats (connection kind — local, server-reflexive or relayed, from the selected
 * candidate pair — RTT, bytes, frames). Everything else, signaling included, is the Rust
 * calling-app core (native/call) behind the native methods (native/android).
 */
public final class CallActivity extends Activity {
    static {
        // The Rust cdylib; its JNI_OnLoad runs webrtc::InitAndroid(JavaVM*) before anything else.
        System.loadLibrary("mobilertc_app");
    }

    private static final int PERMISSIONS_REQUEST = 1;
    private static final String[] PERMISSIONS = {
        Manifest.permission.RECORD_AUDIO, Manifest.permission.CAMERA,
    };

    private final Handler ui = new Handler(Looper.getMainLooper());
    private TextView status;
    private TextView stats;
    private TextView log;
    private EditText server;
    private EditText room;
    private boolean inCall;

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
        EditText chat = findViewById(R.id.chat);
        Button call = findViewById(R.id.call);
        Button send = findViewById(R.id.send);
        Button hangup = findViewById(R.id.hangup);

        // The application context is what the Java audio device module needs.
        nativeInit(getApplicationContext());
        call.setOnClickListener(v -> {
            List<String> missing = missingPermissions();
            if (missing.isEmpty()) {
                startCall();
            } else {
                // The call goes ahead whatever the answer: without the microphone it sends
                // the app-fed tone (see docs/android.md, "Audio").
                requestPermissions(missing.toArray(new String[0]), PERMISSIONS_REQUEST);
            }
        });
        send.setOnClickListener(v -> {
            String text = chat.getText().toString();
            if (text.isEmpty()) {
                return;
            }
            String err = nativeSendChat(text);
            if (err != null) {
                onEvent("error", err);
            } else {
                log.append("me: " + text + "\n");
                chat.setText("");
            }
        });
        hangup.setOnClickListener(v -> nativeHangup());
    }

    private List<String> missingPermissions() {
        List<String> missing = new ArrayList<>();
        for (String p : PERMISSIONS) {
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
            if (results[i] != PackageManager.PERMISSION_GRANTED) {
                log.append("permission refused: " + permissions[i] + "\n");
            }
        }
        startCall();
    }

    private void startCall() {
        String url = server.getText().toString().trim();
        if (url.isEmpty()) {
            url = server.getHint().toString();
        }
        String name = room.getText().toString().trim();
        if (name.isEmpty()) {
            name = room.getHint().toString();
        }
        String err = nativeCall(url, name);
        if (err != null) {
            status.setText("error: " + err);
            return;
        }
        inCall = true;
        status.setText("joining " + name + " on " + url);
        ui.removeCallbacks(statsTick);
        ui.post(statsTick);
    }

    @Override
    protected void onDestroy() {
        inCall = false;
        nativeHangup();
        super.onDestroy();
    }

    /**
     * Called by the native side from the call's thread: kind is one of joined, state,
     * connected, chat-open, chat, log, ended, error (docs/android.md).
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
                    inCall = false;
                    stats.setText(nativeStatus());
                    status.setText(text);
                    break;
                default:
                    status.setText(kind + ": " + text);
            }
        });
    }

    private native void nativeInit(android.content.Context applicationContext);

    /** Joins the room and runs the call; null, or why it could not start. */
    private native String nativeCall(String signalingUrl, String room);

    /** Null, or why the line could not be queued. */
    private native String nativeSendChat(String text);

    private native void nativeHangup();

    /** One line: state, connection kind, RTT, bytes, frames. */
    private native String nativeStatus();
}

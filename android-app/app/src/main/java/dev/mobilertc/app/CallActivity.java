package dev.mobilertc.app;

import android.app.Activity;
import android.os.Bundle;
import android.widget.Button;
import android.widget.EditText;
import android.widget.TextView;

/**
 * The calling app's UI: a room, a call button, a chat line, and the connection status
 * (local / server-reflexive / relayed, read from the selected candidate pair). Everything
 * else, signaling included, lives in the Rust library behind the native methods.
 */
public final class CallActivity extends Activity {
    static {
        // The Rust cdylib; its JNI_OnLoad runs webrtc::InitAndroid(JavaVM*) before anything else.
        System.loadLibrary("mobilertc_app");
    }

    private TextView status;
    private TextView log;

    @Override
    protected void onCreate(Bundle savedInstanceState) {
        super.onCreate(savedInstanceState);
        setContentView(R.layout.call);
        status = findViewById(R.id.status);
        log = findViewById(R.id.log);
        EditText server = findViewById(R.id.server);
        EditText room = findViewById(R.id.room);
        EditText chat = findViewById(R.id.chat);
        Button call = findViewById(R.id.call);
        Button send = findViewById(R.id.send);
        Button hangup = findViewById(R.id.hangup);

        // The application context is what the Java audio device module needs.
        nativeInit(getApplicationContext());
        call.setOnClickListener(v -> nativeJoin(server.getText().toString(), room.getText().toString()));
        send.setOnClickListener(v -> {
            nativeSendChat(chat.getText().toString());
            chat.setText("");
        });
        hangup.setOnClickListener(v -> nativeHangup());
    }

    @Override
    protected void onDestroy() {
        nativeHangup();
        super.onDestroy();
    }

    /** Called by the native side, from any thread. */
    @SuppressWarnings("unused")
    private void onStatus(final String text) {
        runOnUiThread(() -> status.setText(text));
    }

    /** Called by the native side, from any thread. */
    @SuppressWarnings("unused")
    private void onChat(final String line) {
        runOnUiThread(() -> log.append(line + "\n"));
    }

    private native void nativeInit(android.content.Context applicationContext);

    private native void nativeJoin(String signalingUrl, String room);

    private native void nativeSendChat(String text);

    private native void nativeHangup();
}

package dev.mobilertc.app;

import android.content.Context;
import android.media.AudioAttributes;
import android.media.AudioDeviceCallback;
import android.media.AudioDeviceInfo;
import android.media.AudioFocusRequest;
import android.media.AudioManager;
import android.os.Build;
import android.os.Handler;
import android.os.Looper;

import java.util.List;

/**
 * Call audio through AudioManager, as upstream's demo does it: communication mode and audio
 * focus for the call's length, the route (speaker / earpiece / wired headset / Bluetooth,
 * chosen by {@link AudioRoutes}) re-applied when a headset comes or goes, the microphone
 * mute, and the previous settings restored at the end. The audio itself is libwebrtc's Java
 * audio device module (VOICE_COMMUNICATION: the platform's echo canceler and noise
 * suppressor where the device has them), which plays to whatever route is set here.
 * UI thread only.
 */
final class AudioRouter {
    interface Listener {
        void onRouteChanged(String route, List<String> available);
    }

    private final AudioManager am;
    private final Listener listener;
    private final Handler ui = new Handler(Looper.getMainLooper());
    private boolean active;
    private int savedMode;
    private boolean savedSpeaker;
    private boolean savedMute;
    private String chosen;
    private String route;
    private AudioFocusRequest focus;

    private final AudioDeviceCallback devices = new AudioDeviceCallback() {
        @Override
        public void onAudioDevicesAdded(AudioDeviceInfo[] added) {
            // A headset plugged in wins over what the user picked for the loudspeaker.
            chosen = null;
            update();
        }

        @Override
        public void onAudioDevicesRemoved(AudioDeviceInfo[] removed) {
            update();
        }
    };

    AudioRouter(Context context, Listener listener) {
        this.am = (AudioManager) context.getSystemService(Context.AUDIO_SERVICE);
        this.listener = listener;
    }

    void start() {
        if (active) {
            return;
        }
        active = true;
        savedMode = am.getMode();
        savedSpeaker = am.isSpeakerphoneOn();
        savedMute = am.isMicrophoneMute();
        if (Build.VERSION.SDK_INT >= 26) {
            focus = new AudioFocusRequest.Builder(AudioManager.AUDIOFOCUS_GAIN_TRANSIENT)
                .setAudioAttributes(new AudioAttributes.Builder()
                    .setUsage(AudioAttributes.USAGE_VOICE_COMMUNICATION)
                    .setContentType(AudioAttributes.CONTENT_TYPE_SPEECH)
                    .build())
                .build();
            am.requestAudioFocus(focus);
        } else {
            am.requestAudioFocus(null, AudioManager.STREAM_VOICE_CALL,
                AudioManager.AUDIOFOCUS_GAIN_TRANSIENT);
        }
        am.setMode(AudioManager.MODE_IN_COMMUNICATION);
        am.setMicrophoneMute(false);
        am.registerAudioDeviceCallback(devices, ui);
        update();
    }

    void stop() {
        if (!active) {
            return;
        }
        active = false;
        am.unregisterAudioDeviceCallback(devices);
        if (Build.VERSION.SDK_INT >= 31) {
            am.clearCommunicationDevice();
        } else if (AudioRoutes.BLUETOOTH.equals(route)) {
            am.stopBluetoothSco();
            am.setBluetoothScoOn(false);
        }
        am.setSpeakerphoneOn(savedSpeaker);
        am.setMicrophoneMute(savedMute);
        am.setMode(savedMode);
        if (Build.VERSION.SDK_INT >= 26 && focus != null) {
            am.abandonAudioFocusRequest(focus);
        } else {
            am.abandonAudioFocus(null);
        }
        route = null;
    }

    /** The "audio" button: the next available route. */
    void cycle() {
        if (!active) {
            return;
        }
        List<String> available = available();
        chosen = AudioRoutes.next(available, route);
        update();
    }

    void setMuted(boolean muted) {
        am.setMicrophoneMute(muted);
    }

    boolean isMuted() {
        return am.isMicrophoneMute();
    }

    private List<String> available() {
        boolean earpiece = false;
        boolean wired = false;
        boolean bluetooth = false;
        for (AudioDeviceInfo d : am.getDevices(AudioManager.GET_DEVICES_OUTPUTS)) {
            switch (d.getType()) {
                case AudioDeviceInfo.TYPE_BUILTIN_EARPIECE:
                    earpiece = true;
                    break;
                case AudioDeviceInfo.TYPE_WIRED_HEADSET:
                case AudioDeviceInfo.TYPE_WIRED_HEADPHONES:
                case AudioDeviceInfo.TYPE_USB_HEADSET:
                    wired = true;
                    break;
                case AudioDeviceInfo.TYPE_BLUETOOTH_SCO:
                    bluetooth = true;
                    break;
                default:
                    break;
            }
        }
        return AudioRoutes.available(earpiece, wired, bluetooth);
    }

    private void update() {
        if (!active) {
            return;
        }
        List<String> available = available();
        String next = AudioRoutes.choose(available, chosen);
        apply(next);
        route = next;
        listener.onRouteChanged(next, available);
    }

    private void apply(String next) {
        if (Build.VERSION.SDK_INT >= 31) {
            // API 31+: pick the communication device itself.
            for (AudioDeviceInfo d : am.getAvailableCommunicationDevices()) {
                if (matches(d.getType(), next)) {
                    am.setCommunicationDevice(d);
                    return;
                }
            }
            return;
        }
        boolean bluetooth = AudioRoutes.BLUETOOTH.equals(next);
        if (bluetooth && !AudioRoutes.BLUETOOTH.equals(route)) {
            am.startBluetoothSco();
            am.setBluetoothScoOn(true);
        } else if (!bluetooth && AudioRoutes.BLUETOOTH.equals(route)) {
            am.stopBluetoothSco();
            am.setBluetoothScoOn(false);
        }
        // Earpiece and wired headset are both "speakerphone off": the platform picks the
        // headset when one is plugged in.
        am.setSpeakerphoneOn(AudioRoutes.SPEAKER.equals(next));
    }

    private static boolean matches(int type, String route) {
        switch (route) {
            case AudioRoutes.SPEAKER:
                return type == AudioDeviceInfo.TYPE_BUILTIN_SPEAKER;
            case AudioRoutes.EARPIECE:
                return type == AudioDeviceInfo.TYPE_BUILTIN_EARPIECE;
            case AudioRoutes.WIRED:
                return type == AudioDeviceInfo.TYPE_WIRED_HEADSET
                    || type == AudioDeviceInfo.TYPE_WIRED_HEADPHONES
                    || type == AudioDeviceInfo.TYPE_USB_HEADSET;
            case AudioRoutes.BLUETOOTH:
                return type == AudioDeviceInfo.TYPE_BLUETOOTH_SCO
                    || (Build.VERSION.SDK_INT >= 31 && type == AudioDeviceInfo.TYPE_BLE_HEADSET);
            default:
                return false;
        }
    }
}

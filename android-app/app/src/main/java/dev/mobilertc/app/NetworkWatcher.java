package dev.mobilertc.app;

import android.content.Context;
import android.net.ConnectivityManager;
import android.net.Network;
import android.net.NetworkCapabilities;
import android.os.Handler;
import android.os.Looper;

/**
 * Watches the device's default network (ConnectivityManager, API 24+) while a call runs and
 * reports a real change (Wi-Fi to cellular, another Wi-Fi; see {@link NetworkChanges}) on the
 * UI thread, so the app can restart ICE instead of letting the call die on dead candidate
 * pairs. libwebrtc's own Android network monitor (the factory's, see docs/android.md) tells
 * the port allocator about the interfaces; this decides when the app renegotiates.
 */
final class NetworkWatcher {
    interface Listener {
        void onNetworkChanged(String change);
    }

    private final ConnectivityManager cm;
    private final Listener listener;
    private final Handler ui = new Handler(Looper.getMainLooper());
    private NetworkChanges changes;
    private boolean registered;

    private final ConnectivityManager.NetworkCallback callback =
        new ConnectivityManager.NetworkCallback() {
            @Override
            public void onAvailable(Network network) {
                NetworkChanges c = changes;
                if (c == null) {
                    return;
                }
                String change = c.onAvailable(network.getNetworkHandle(), kind(network));
                if (change != null) {
                    ui.post(() -> listener.onNetworkChanged(change));
                }
            }
        };

    NetworkWatcher(Context context, Listener listener) {
        this.cm = (ConnectivityManager) context.getSystemService(Context.CONNECTIVITY_SERVICE);
        this.listener = listener;
    }

    void start() {
        if (registered) {
            return;
        }
        changes = new NetworkChanges();
        // Called at once with the current default network: that one is the baseline.
        cm.registerDefaultNetworkCallback(callback);
        registered = true;
    }

    void stop() {
        if (!registered) {
            return;
        }
        registered = false;
        changes = null;
        cm.unregisterNetworkCallback(callback);
    }

    private String kind(Network network) {
        NetworkCapabilities caps = cm.getNetworkCapabilities(network);
        if (caps == null) {
            return "unknown";
        }
        if (caps.hasTransport(NetworkCapabilities.TRANSPORT_WIFI)) {
            return "wifi";
        }
        if (caps.hasTransport(NetworkCapabilities.TRANSPORT_CELLULAR)) {
            return "cellular";
        }
        if (caps.hasTransport(NetworkCapabilities.TRANSPORT_ETHERNET)) {
            return "ethernet";
        }
        if (caps.hasTransport(NetworkCapabilities.TRANSPORT_VPN)) {
            return "vpn";
        }
        return "other";
    }
}

package dev.mobilertc.app;

/**
 * Decides when the device's default network really changed, as plain Java (the desktop JVM
 * test runs it). NetworkWatcher feeds it ConnectivityManager's default-network callbacks.
 *
 * <p>The first network seen is the one the call started on: no change. A different network
 * (Wi-Fi to cellular, a new Wi-Fi) is a change: the old candidate pairs are dead and the call
 * needs an ICE restart. Losing the network and getting the same one back is not a change
 * (ICE's consent checks recover on their own). Capability updates of the same network
 * (signal strength, metered) are ignored.
 */
final class NetworkChanges {
    private long current = -1;
    private String currentKind = "none";

    /**
     * A default network became available; returns a description of the change ("wifi ->
     * cellular"), or null when it is not one.
     */
    synchronized String onAvailable(long networkHandle, String kind) {
        long previous = current;
        String previousKind = currentKind;
        current = networkHandle;
        currentKind = kind;
        if (previous == -1 || previous == networkHandle) {
            return null;
        }
        return previousKind + " -> " + kind;
    }

    /** The network the next change is compared with; for the status line. */
    synchronized String currentKind() {
        return currentKind;
    }
}

package dev.mobilertc.app;

import java.util.ArrayList;
import java.util.List;

/**
 * Where call audio goes, as plain Java (the desktop JVM test runs it). AudioRouter feeds it
 * what AudioManager reports and applies the answer.
 *
 * <p>Default, as a phone call does: a Bluetooth headset when one is connected, else a wired
 * headset, else the earpiece when the device has one (phones), else the speaker (tablets).
 * The user's choice wins while that route is available; when it goes away (headset
 * unplugged) the default applies again.
 */
final class AudioRoutes {
    static final String SPEAKER = "speaker";
    static final String EARPIECE = "earpiece";
    static final String WIRED = "wired headset";
    static final String BLUETOOTH = "bluetooth";

    private AudioRoutes() {}

    /** The routes to offer, in the order the "audio" button cycles through them. */
    static List<String> available(boolean earpiece, boolean wired, boolean bluetooth) {
        List<String> routes = new ArrayList<>();
        if (bluetooth) {
            routes.add(BLUETOOTH);
        }
        if (wired) {
            routes.add(WIRED);
        } else if (earpiece) {
            // A plugged headset replaces the earpiece (the platform routes one or the other).
            routes.add(EARPIECE);
        }
        routes.add(SPEAKER);
        return routes;
    }

    /** The route to use: {@code chosen} if still available, else the first available. */
    static String choose(List<String> available, String chosen) {
        if (chosen != null && available.contains(chosen)) {
            return chosen;
        }
        return available.get(0);
    }

    /** The next route after {@code current} (the button). */
    static String next(List<String> available, String current) {
        int i = available.indexOf(current);
        return available.get((i + 1) % available.size());
    }
}

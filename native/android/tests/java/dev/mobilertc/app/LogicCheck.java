package dev.mobilertc.app;

import java.util.Arrays;
import java.util.List;

/**
 * TEST DRIVER (tests/jni.rs) for the app's plain-Java logic, compiled from
 * android-app/app/src/main/java: CodecOrder, AudioRoutes, NetworkChanges. run() returns ""
 * or what went wrong; main exits 1 after printing it.
 */
public final class LogicCheck {
    private static StringBuilder failures;

    private static void expect(String what, Object got, Object want) {
        boolean same = got instanceof int[]
            ? Arrays.equals((int[]) got, (int[]) want)
            : String.valueOf(got).equals(String.valueOf(want));
        if (!same) {
            String g = got instanceof int[] ? Arrays.toString((int[]) got) : String.valueOf(got);
            String w = want instanceof int[] ? Arrays.toString((int[]) want) : String.valueOf(want);
            failures.append(what).append(": got ").append(g).append(", want ").append(w).append('\n');
        }
    }

    public static void main(String[] args) {
        String f = run();
        System.out.print(f);
        System.exit(f.isEmpty() ? 0 : 1);
    }

    public static String run() {
        failures = new StringBuilder();
        // DefaultVideoEncoderFactory's order: software (VP9, VP8, AV1 in some builds), then
        // hardware (H264 from MediaCodec, VP8 again).
        List<String> names = Arrays.asList("VP9", "AV1", "VP8", "H264", "H264");
        expect("VP8 first, H264 kept with hardware H264", CodecOrder.order(names, true),
            new int[] {2, 0, 1, 3, 4});
        expect("no H264 without hardware H264", CodecOrder.order(names, false),
            new int[] {2, 0, 1});
        expect("h264 spelled lower case is still H.264",
            CodecOrder.order(Arrays.asList("h264", "vp8"), false), new int[] {1});

        List<String> phone = AudioRoutes.available(true, false, false);
        expect("phone routes", phone, "[earpiece, speaker]");
        expect("phone default", AudioRoutes.choose(phone, null), "earpiece");
        expect("speaker button", AudioRoutes.next(phone, "earpiece"), "speaker");
        expect("cycles back", AudioRoutes.next(phone, "speaker"), "earpiece");
        List<String> headset = AudioRoutes.available(true, true, false);
        expect("wired replaces earpiece", headset, "[wired headset, speaker]");
        expect("chosen speaker kept", AudioRoutes.choose(headset, "speaker"), "speaker");
        List<String> bt = AudioRoutes.available(true, false, true);
        expect("bluetooth first", AudioRoutes.choose(bt, null), "bluetooth");
        expect("gone choice falls back",
            AudioRoutes.choose(AudioRoutes.available(true, false, false), "bluetooth"), "earpiece");
        expect("tablet", AudioRoutes.choose(AudioRoutes.available(false, false, false), null),
            "speaker");

        NetworkChanges n = new NetworkChanges();
        expect("first network is the baseline", n.onAvailable(100, "wifi"), null);
        expect("same network back", n.onAvailable(100, "wifi"), null);
        expect("wifi to cellular", n.onAvailable(200, "cellular"), "wifi -> cellular");
        expect("another wifi", n.onAvailable(300, "wifi"), "cellular -> wifi");
        expect("current", n.currentKind(), "wifi");
        return failures.toString();
    }
}

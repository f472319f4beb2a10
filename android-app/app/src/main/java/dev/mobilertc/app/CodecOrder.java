package dev.mobilertc.app;

import java.util.ArrayList;
import java.util.List;

/**
 * The video codec policy, as plain Java (no android.* or org.webrtc.* types, so the desktop
 * JVM test runs it): VP8 first, for interop with every browser and the native peer; the
 * other codecs in the order the factory listed them; H.264 only when the hardware
 * (MediaCodec) factory offers it — software H.264 stays off (licensing; libwebrtc is built
 * with rtc_use_h264=false, so its software factory has none anyway).
 */
final class CodecOrder {
    private CodecOrder() {}

    /**
     * The positions of {@code names} (codec names as VideoCodecInfo.name gives them, e.g.
     * "VP8", "H264") in the order to advertise, dropping H.264 unless {@code hardwareH264}.
     */
    static int[] order(List<String> names, boolean hardwareH264) {
        List<Integer> first = new ArrayList<>();
        List<Integer> rest = new ArrayList<>();
        for (int i = 0; i < names.size(); i++) {
            String name = names.get(i);
            if (name.equalsIgnoreCase("VP8")) {
                first.add(i);
            } else if (!name.equalsIgnoreCase("H264") || hardwareH264) {
                rest.add(i);
            }
        }
        first.addAll(rest);
        int[] out = new int[first.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = first.get(i);
        }
        return out;
    }
}

package dev.mobilertc.app;

import android.content.Context;
import android.util.Log;

import org.webrtc.Camera1Enumerator;
import org.webrtc.Camera2Enumerator;
import org.webrtc.CameraEnumerator;
import org.webrtc.CameraVideoCapturer;
import org.webrtc.CapturerObserver;
import org.webrtc.DefaultVideoDecoderFactory;
import org.webrtc.DefaultVideoEncoderFactory;
import org.webrtc.EglBase;
import org.webrtc.HardwareVideoEncoderFactory;
import org.webrtc.RendererCommon;
import org.webrtc.SurfaceTextureHelper;
import org.webrtc.SurfaceViewRenderer;
import org.webrtc.VideoCodecInfo;
import org.webrtc.VideoDecoderFactory;
import org.webrtc.VideoEncoder;
import org.webrtc.VideoEncoderFactory;
import org.webrtc.VideoFrame;

import java.util.ArrayList;
import java.util.List;

/**
 * The video side of a call, with upstream's Java classes (libwebrtc.jar): one EglBase whose
 * context the renderers, the camera's SurfaceTextureHelper and the MediaCodec factories
 * share (frames stay GPU textures end to end); the camera (Camera2 where supported, Camera1
 * otherwise) capturing into the native video source's CapturerObserver and, through a tee,
 * into the self view; the remote video's SurfaceViewRenderer; the codec factories with
 * {@link CodecOrder}'s policy. UI thread only.
 */
final class CallMedia {
    private static final String TAG = "mobilertc";
    private static final int WIDTH = 1280;
    private static final int HEIGHT = 720;
    private static final int FPS = 30;

    private final Context app;
    private final EglBase egl = EglBase.create();
    final SurfaceViewRenderer local;
    final SurfaceViewRenderer remote;
    private CameraVideoCapturer capturer;
    private SurfaceTextureHelper helper;
    private boolean capturing;
    private boolean cameraOn = true;

    CallMedia(Context app, SurfaceViewRenderer local, SurfaceViewRenderer remote) {
        this.app = app;
        this.local = local;
        this.remote = remote;
        local.init(egl.getEglBaseContext(), null);
        local.setMirror(true);
        local.setZOrderMediaOverlay(true);
        local.setScalingType(RendererCommon.ScalingType.SCALE_ASPECT_FIT);
        local.setEnableHardwareScaler(true);
        remote.init(egl.getEglBaseContext(), null);
        remote.setScalingType(RendererCommon.ScalingType.SCALE_ASPECT_FIT);
        remote.setEnableHardwareScaler(true);
    }

    /** MediaCodec encoders first, libvpx/libaom as fallback, VP8 first, H.264 only in hardware. */
    VideoEncoderFactory encoderFactory() {
        EglBase.Context ctx = egl.getEglBaseContext();
        return new PolicyEncoderFactory(
            new DefaultVideoEncoderFactory(ctx, /* enableIntelVp8Encoder= */ true,
                /* enableH264HighProfile= */ true),
            new HardwareVideoEncoderFactory(ctx, true, true));
    }

    /** MediaCodec decoders (output into the shared EGL context), software as fallback. */
    VideoDecoderFactory decoderFactory() {
        return new DefaultVideoDecoderFactory(egl.getEglBaseContext());
    }

    /**
     * Opens the front camera (else the first one) and starts capturing into {@code observer}
     * (the native source's; null when the native side has none) and the self view. False,
     * with the reason logged, when there is no usable camera.
     */
    boolean startCamera(CapturerObserver observer, CameraVideoCapturer.CameraEventsHandler events) {
        if (capturer != null) {
            return true;
        }
        CameraEnumerator cameras = Camera2Enumerator.isSupported(app)
            ? new Camera2Enumerator(app)
            : new Camera1Enumerator(/* captureToTexture= */ true);
        String name = null;
        for (String n : cameras.getDeviceNames()) {
            if (cameras.isFrontFacing(n)) {
                name = n;
                break;
            }
        }
        if (name == null && cameras.getDeviceNames().length > 0) {
            name = cameras.getDeviceNames()[0];
        }
        if (name == null) {
            Log.w(TAG, "no camera");
            return false;
        }
        capturer = cameras.createCapturer(name, events);
        if (capturer == null) {
            Log.w(TAG, "camera " + name + " could not be opened");
            return false;
        }
        local.setMirror(cameras.isFrontFacing(name));
        helper = SurfaceTextureHelper.create("camera", egl.getEglBaseContext());
        capturer.initialize(helper, app, new Tee(observer, local));
        cameraOn = true;
        resumeCamera();
        return true;
    }

    /** Background (onStop): the camera is released to other apps; the call goes on. */
    void pauseCamera() {
        if (capturer == null || !capturing) {
            return;
        }
        try {
            capturer.stopCapture();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        capturing = false;
    }

    /** Foreground again (onStart), or the camera switched back on. */
    void resumeCamera() {
        if (capturer == null || capturing || !cameraOn) {
            return;
        }
        capturer.startCapture(WIDTH, HEIGHT, FPS);
        capturing = true;
    }

    /** Camera off: capture stops (the peer keeps the last frame); on: it resumes. */
    void setCameraOn(boolean on) {
        cameraOn = on;
        if (on) {
            resumeCamera();
        } else {
            pauseCamera();
            local.clearImage();
        }
    }

    boolean isCameraOn() {
        return cameraOn && capturer != null;
    }

    void switchCamera(CameraVideoCapturer.CameraSwitchHandler done) {
        if (capturer != null) {
            capturer.switchCamera(new CameraVideoCapturer.CameraSwitchHandler() {
                @Override
                public void onCameraSwitchDone(boolean front) {
                    local.setMirror(front);
                    done.onCameraSwitchDone(front);
                }

                @Override
                public void onCameraSwitchError(String error) {
                    done.onCameraSwitchError(error);
                }
            });
        }
    }

    /** End of the call: the camera is closed; the views stay for the next call. */
    void stopCamera() {
        pauseCamera();
        if (capturer != null) {
            capturer.dispose();
            capturer = null;
        }
        if (helper != null) {
            helper.dispose();
            helper = null;
        }
        local.clearImage();
        remote.clearImage();
    }

    /** The activity is going away. */
    void release() {
        stopCamera();
        local.release();
        remote.release();
        egl.release();
    }

    /**
     * The camera's frames to the native source (which the encoder reads). The self view gets
     * them natively (nativeSetVideoSinks' local sink is attached to that source); only
     * without a native observer does this feed the self view itself.
     */
    private static final class Tee implements CapturerObserver {
        private final CapturerObserver source;
        private final SurfaceViewRenderer view;

        Tee(CapturerObserver source, SurfaceViewRenderer view) {
            this.source = source;
            this.view = view;
        }

        @Override
        public void onCapturerStarted(boolean success) {
            if (source != null) {
                source.onCapturerStarted(success);
            }
        }

        @Override
        public void onCapturerStopped() {
            if (source != null) {
                source.onCapturerStopped();
            }
        }

        @Override
        public void onFrameCaptured(VideoFrame frame) {
            if (source != null) {
                source.onFrameCaptured(frame);
            } else {
                view.onFrame(frame);
            }
        }
    }

    /** {@link CodecOrder} over upstream's factories. */
    private static final class PolicyEncoderFactory implements VideoEncoderFactory {
        private final VideoEncoderFactory inner;
        private final boolean hardwareH264;

        PolicyEncoderFactory(VideoEncoderFactory inner, VideoEncoderFactory hardware) {
            this.inner = inner;
            boolean h264 = false;
            for (VideoCodecInfo c : hardware.getSupportedCodecs()) {
                h264 |= c.name.equalsIgnoreCase("H264");
            }
            this.hardwareH264 = h264;
        }

        @Override
        public VideoEncoder createEncoder(VideoCodecInfo info) {
            if (info.name.equalsIgnoreCase("H264") && !hardwareH264) {
                return null;
            }
            return inner.createEncoder(info);
        }

        @Override
        public VideoCodecInfo[] getSupportedCodecs() {
            VideoCodecInfo[] all = inner.getSupportedCodecs();
            List<String> names = new ArrayList<>();
            for (VideoCodecInfo c : all) {
                names.add(c.name);
            }
            int[] order = CodecOrder.order(names, hardwareH264);
            VideoCodecInfo[] out = new VideoCodecInfo[order.length];
            for (int i = 0; i < order.length; i++) {
                out[i] = all[order[i]];
            }
            return out;
        }
    }
}

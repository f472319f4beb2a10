/*
 * mobilertc C ABI shim over libwebrtc's native PeerConnection API.
 *
 * The only header bindgen sees (allowlisted by the `mrtc_` prefix). Conventions:
 *  - opaque handles, created by `mrtc_*_create`/returned through `out` pointers, released
 *    by exactly one `mrtc_*_destroy`; a destroy after which no callback of that handle runs.
 *  - strings are `mrtc_str` (pointer + length, not NUL-terminated, UTF-8); strings handed to
 *    callbacks are valid only during the callback.
 *  - callbacks run on WebRTC's threads (peer, data channel and completion callbacks on the
 *    factory's signaling thread; media on the worker, decoder and audio device threads).
 *    Treat them as interrupts: copy what they report and hand it to a thread of your own
 *    (the Rust layer feeds receivers and a per-factory dispatcher thread that runs the
 *    application's closures). From inside a callback, do not block, do not destroy or
 *    close the handle it reports on (libwebrtc is still inside that object), and do not
 *    call into another factory's objects (that blocks one signaling thread on another:
 *    libwebrtc aborts on it, or deadlocks without its checks). Calls on the same factory
 *    run inline on its signaling thread. No shim lock is held while a completion runs;
 *    peer and data channel events run under their handle's lock (destroy waits for them).
 *  - one-shot completions (`mrtc_sdp_cb`, `mrtc_done_cb`, `mrtc_stats_cb`) run exactly once;
 *    if the peer is closed or destroyed first they run with MRTC_ERR_CLOSED, at the latest
 *    before `mrtc_factory_destroy` returns (usually before `mrtc_peer_destroy` does), so
 *    their user_data can always be freed. A function that takes a completion and returns
 *    anything but MRTC_OK never calls it.
 */
#ifndef MOBILERTC_MRTC_H
#define MOBILERTC_MRTC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mrtc_status {
  MRTC_OK = 0,
  MRTC_ERR_INVALID_ARGUMENT = 1,
  MRTC_ERR_INVALID_STATE = 2,
  MRTC_ERR_PARSE = 3,     /* SDP or candidate did not parse */
  MRTC_ERR_CLOSED = 4,    /* the peer or channel is closed */
  MRTC_ERR_BUFFER_FULL = 5, /* data channel send buffer full: wait for buffered amount */
  MRTC_ERR_INTERNAL = 6,
  MRTC_ERR_UNSUPPORTED = 7, /* not in this build: e.g. an Android entry point off Android */
} mrtc_status;

/* Limits the shim enforces (MRTC_ERR_INVALID_ARGUMENT beyond them). */
/* Frame width and height: libwebrtc sizes I420 buffers as a C int and its codecs stop
 * well below this (VP8: 16383); 16384^2 * 1.5 bytes fits an int with room to spare. A plane
 * whose stride times its rows exceeds INT32_MAX is refused as well. */
#define MRTC_MAX_FRAME_SIDE 16384
/* Data channel label and protocol: SCTP's open message carries 16-bit lengths. */
#define MRTC_MAX_LABEL_BYTES 65535
/* Track and stream ids: RFC 8830 msid tokens, 1..64 of
 * ! # $ % & ' * + - . 0-9 A-Z ^ _ ` a-z { | } ~ (no space, CR, LF: they end up in SDP lines). */
#define MRTC_MAX_ID_BYTES 64

typedef struct mrtc_str {
  const char* ptr;
  size_t len;
} mrtc_str;

typedef struct mrtc_factory mrtc_factory;
typedef struct mrtc_peer mrtc_peer;
typedef struct mrtc_data_channel mrtc_data_channel;
typedef struct mrtc_audio_track mrtc_audio_track;
typedef struct mrtc_video_source mrtc_video_source;
typedef struct mrtc_video_track mrtc_video_track;
typedef struct mrtc_remote_track mrtc_remote_track;
typedef struct mrtc_video_sink mrtc_video_sink;

/* Milestone of the libwebrtc API the shim was compiled against (e.g. 110). */
uint32_t mrtc_webrtc_milestone(void);

/* 0 = verbose … 4 = none (rtc::LoggingSeverity); default none. */
void mrtc_set_log_level(int level);


/* ------------------------------------------------------------------ factory, audio I/O */

/* Audio goes through an app-fed audio device module: Rust pushes capture PCM, and receives
 * the mixed playout PCM. Interleaved signed 16-bit, 10 ms pulled at a time by WebRTC. */
typedef struct mrtc_factory_config {
  uint32_t audio_sample_rate; /* e.g. 48000 */
  uint32_t audio_channels;    /* 1 or 2 */
  /* Nonzero: what is sent goes out as the app pushed it — no echo cancellation, gain
   * control, noise suppression or high-pass filter (libwebrtc's audio processing, on by
   * default, treats the pushed PCM as a microphone: a steady tone is turned down by 10-20
   * dB). For app-made audio: tones, files. Zero keeps the processing (microphones). */
  uint32_t raw_audio;
} mrtc_factory_config;

typedef void (*mrtc_audio_cb)(void* user_data, const int16_t* pcm, size_t frames,
                              uint32_t sample_rate, uint32_t channels);

mrtc_status mrtc_factory_create(const mrtc_factory_config* config, mrtc_factory** out);
/* Destroy after every peer, track and source of this factory is destroyed. */
void mrtc_factory_destroy(mrtc_factory* factory);
/* Queue capture PCM (interleaved, `frames` samples per channel). The device pulls 10 ms
 * chunks in real time; when the queue runs dry it sends silence. Bounded: oldest audio is
 * dropped beyond ~2 s so a stalled call cannot grow memory. */
mrtc_status mrtc_factory_push_audio(mrtc_factory* factory, const int16_t* pcm, size_t frames);
/* Mixed playout of every remote audio track of this factory's peers; NULL cb to stop. */
void mrtc_factory_set_playout_callback(mrtc_factory* factory, mrtc_audio_cb cb, void* user_data);

/* ------------------------------------------------------------------ Android (shim/android.cc)
 * Upstream's native Android API (sdk/android/native_api/). Declared on every platform so
 * that the same code builds and is tested everywhere; off Android each of these returns
 * MRTC_ERR_UNSUPPORTED (NULL for the observer) and does nothing. JNI types are passed as
 * void*: `jni_env` is the calling thread's JNIEnv*, objects are jobject references valid
 * for the call (the shim takes global references where it keeps them). */

/* webrtc::InitAndroid(JavaVM*). Call it once, from the app library's JNI_OnLoad, before any
 * other mrtc_ function; `java_vm` is the JavaVM*. The APK must contain libwebrtc's Java
 * classes (libwebrtc.jar): the native code calls back into them. MRTC_ERR_INVALID_ARGUMENT
 * for NULL. */
mrtc_status mrtc_android_init(void* java_vm);

typedef struct mrtc_android_media {
  void* jni_env;
  /* android.content.Context, the application's (required). */
  void* application_context;
  /* org.webrtc.VideoEncoderFactory / VideoDecoderFactory, e.g. DefaultVideoEncoderFactory
   * (MediaCodec first, libvpx/libaom as fallback); NULL: the built-in software codecs. */
  void* video_encoder_factory;
  void* video_decoder_factory;
  /* Boolean: webrtc::CreateAndroidNetworkMonitorFactory (ConnectivityManager), so network
   * changes reach ICE as they happen; needs ACCESS_NETWORK_STATE. */
  int network_monitor;
} mrtc_android_media;

/* Like mrtc_factory_create, with audio through webrtc::CreateJavaAudioDeviceModule
 * (microphone and speaker; hardware echo cancellation and noise suppression where the
 * device has them), video codecs through the Java factories and the Android network
 * monitor. `config` as for mrtc_factory_create; mrtc_factory_push_audio and the playout
 * callback have no effect on such a factory. */
mrtc_status mrtc_factory_create_android(const mrtc_factory_config* config,
                                        const mrtc_android_media* media, mrtc_factory** out);

/* A video source fed by a Java capturer (webrtc::CreateJavaVideoSource), used like any
 * mrtc_video_source (mrtc_peer_add_video_track, mrtc_video_sink_attach_local,
 * mrtc_video_source_destroy) except that push_i420 refuses it (MRTC_ERR_INVALID_STATE):
 * give mrtc_android_video_source_capturer_observer's object to
 * VideoCapturer.initialize(surfaceTextureHelper, context, observer). */
mrtc_status mrtc_android_video_source_create(mrtc_factory* factory, void* jni_env,
                                             int is_screencast, mrtc_video_source** out);
/* The source's org.webrtc.CapturerObserver as a new JNI local reference (the caller owns
 * it), or NULL (not an Android source, or off Android). */
void* mrtc_android_video_source_capturer_observer(mrtc_video_source* source, void* jni_env);

/* A native sink over a Java org.webrtc.VideoSink (e.g. SurfaceViewRenderer), by
 * webrtc::JavaToNativeVideoSink: attach and destroy it as any mrtc_video_sink. */
mrtc_status mrtc_android_video_sink_create(void* jni_env, void* java_sink,
                                           mrtc_video_sink** out);

/* ------------------------------------------------------------------ peer connection */

typedef struct mrtc_ice_server {
  const mrtc_str* urls; /* stun:host:port, turn:host:port?transport=udp, turns:… */
  size_t url_count;
  mrtc_str username;    /* empty for STUN */
  mrtc_str credential;
} mrtc_ice_server;

typedef enum mrtc_ice_transport_policy {
  MRTC_ICE_TRANSPORT_ALL = 0,
  MRTC_ICE_TRANSPORT_RELAY = 1,
} mrtc_ice_transport_policy;

typedef struct mrtc_peer_config {
  const mrtc_ice_server* ice_servers;
  size_t ice_server_count;
  mrtc_ice_transport_policy ice_transport_policy;
} mrtc_peer_config;

typedef enum mrtc_sdp_type {
  MRTC_SDP_OFFER = 0,
  MRTC_SDP_PRANSWER = 1,
  MRTC_SDP_ANSWER = 2,
  MRTC_SDP_ROLLBACK = 3,
} mrtc_sdp_type;

/* Values mirror the W3C enums in declaration order (webrtc::PeerConnectionInterface). */
typedef enum mrtc_signaling_state {
  MRTC_SIGNALING_STABLE = 0,
  MRTC_SIGNALING_HAVE_LOCAL_OFFER = 1,
  MRTC_SIGNALING_HAVE_LOCAL_PRANSWER = 2,
  MRTC_SIGNALING_HAVE_REMOTE_OFFER = 3,
  MRTC_SIGNALING_HAVE_REMOTE_PRANSWER = 4,
  MRTC_SIGNALING_CLOSED = 5,
} mrtc_signaling_state;

typedef enum mrtc_ice_connection_state {
  MRTC_ICE_CONNECTION_NEW = 0,
  MRTC_ICE_CONNECTION_CHECKING = 1,
  MRTC_ICE_CONNECTION_CONNECTED = 2,
  MRTC_ICE_CONNECTION_COMPLETED = 3,
  MRTC_ICE_CONNECTION_FAILED = 4,
  MRTC_ICE_CONNECTION_DISCONNECTED = 5,
  MRTC_ICE_CONNECTION_CLOSED = 6,
} mrtc_ice_connection_state;

typedef enum mrtc_peer_connection_state {
  MRTC_PEER_CONNECTION_NEW = 0,
  MRTC_PEER_CONNECTION_CONNECTING = 1,
  MRTC_PEER_CONNECTION_CONNECTED = 2,
  MRTC_PEER_CONNECTION_DISCONNECTED = 3,
  MRTC_PEER_CONNECTION_FAILED = 4,
  MRTC_PEER_CONNECTION_CLOSED = 5,
} mrtc_peer_connection_state;

typedef enum mrtc_ice_gathering_state {
  MRTC_ICE_GATHERING_NEW = 0,
  MRTC_ICE_GATHERING_GATHERING = 1,
  MRTC_ICE_GATHERING_COMPLETE = 2,
} mrtc_ice_gathering_state;

typedef enum mrtc_track_kind {
  MRTC_TRACK_AUDIO = 0,
  MRTC_TRACK_VIDEO = 1,
} mrtc_track_kind;

typedef enum mrtc_peer_event_kind {
  MRTC_EVENT_ICE_CANDIDATE = 0,        /* sdp_mid, sdp_mline_index, candidate */
  MRTC_EVENT_SIGNALING_STATE = 1,      /* state: mrtc_signaling_state */
  MRTC_EVENT_ICE_CONNECTION_STATE = 2, /* state: mrtc_ice_connection_state */
  MRTC_EVENT_CONNECTION_STATE = 3,     /* state: mrtc_peer_connection_state */
  MRTC_EVENT_ICE_GATHERING_STATE = 4,  /* state: mrtc_ice_gathering_state */
  MRTC_EVENT_DATA_CHANNEL = 5,         /* data_channel: opened by the remote side */
  MRTC_EVENT_TRACK = 6,                /* track, track_kind: a remote track arrived */
  MRTC_EVENT_RENEGOTIATION_NEEDED = 7,
} mrtc_peer_event_kind;

typedef struct mrtc_peer_event {
  mrtc_peer_event_kind kind;
  int32_t state;
  mrtc_str sdp_mid;
  int32_t sdp_mline_index;
  mrtc_str candidate; /* "candidate:…" attribute value without "a=" */
  /* Ownership passes to the receiver: it must eventually call mrtc_data_channel_destroy.
   * No data channel event is delivered before mrtc_data_channel_set_observer. */
  mrtc_data_channel* data_channel;
  /* Ownership passes to the receiver: mrtc_remote_track_destroy. */
  mrtc_remote_track* track;
  mrtc_track_kind track_kind;
} mrtc_peer_event;

typedef void (*mrtc_peer_event_cb)(void* user_data, const mrtc_peer_event* event);
typedef void (*mrtc_sdp_cb)(void* user_data, mrtc_status status, mrtc_sdp_type type,
                            mrtc_str sdp, mrtc_str error);
typedef void (*mrtc_done_cb)(void* user_data, mrtc_status status, mrtc_str error);
/* The RTCStatsReport as JSON (RTCStatsReport::ToJson), parsed on the Rust side. */
typedef void (*mrtc_stats_cb)(void* user_data, mrtc_status status, mrtc_str json);

mrtc_status mrtc_peer_create(mrtc_factory* factory, const mrtc_peer_config* config,
                             mrtc_peer_event_cb cb, void* user_data, mrtc_peer** out);
/* Close the connection (idempotent). Pending completions run with MRTC_ERR_CLOSED. */
void mrtc_peer_close(mrtc_peer* peer);
/* Close if needed and free. No peer callback runs after this returns. */
void mrtc_peer_destroy(mrtc_peer* peer);

mrtc_status mrtc_peer_create_offer(mrtc_peer* peer, mrtc_sdp_cb cb, void* user_data);
mrtc_status mrtc_peer_create_answer(mrtc_peer* peer, mrtc_sdp_cb cb, void* user_data);
mrtc_status mrtc_peer_set_local_description(mrtc_peer* peer, mrtc_sdp_type type, mrtc_str sdp,
                                            mrtc_done_cb cb, void* user_data);
mrtc_status mrtc_peer_set_remote_description(mrtc_peer* peer, mrtc_sdp_type type, mrtc_str sdp,
                                             mrtc_done_cb cb, void* user_data);
/* Trickle ICE. Candidates that arrive before the remote description are queued by the shim
 * and added once it is set (WebRTC itself would reject them). */
mrtc_status mrtc_peer_add_ice_candidate(mrtc_peer* peer, mrtc_str sdp_mid, int32_t sdp_mline_index,
                                        mrtc_str candidate, mrtc_done_cb cb, void* user_data);
mrtc_status mrtc_peer_get_stats(mrtc_peer* peer, mrtc_stats_cb cb, void* user_data);

/* ICE restart (shim/restart_ice.cc): the next offer carries new ICE credentials and
 * gathers afresh, e.g. after the device changed networks. Fires
 * MRTC_EVENT_RENEGOTIATION_NEEDED; the app then makes and sends that offer. MRTC_ERR_CLOSED
 * once the peer is closed. */
mrtc_status mrtc_peer_restart_ice(mrtc_peer* peer);

mrtc_signaling_state mrtc_peer_signaling_state(mrtc_peer* peer);
/* `_get`: C and C++ reject a function named like the mrtc_peer_connection_state type. */
mrtc_peer_connection_state mrtc_peer_connection_state_get(mrtc_peer* peer);

/* ------------------------------------------------------------------ data channels */

typedef struct mrtc_data_channel_init {
  int ordered;                  /* boolean */
  int32_t max_retransmits;      /* -1: unset */
  int32_t max_packet_life_time_ms; /* -1: unset */
  mrtc_str protocol;
  int negotiated;               /* boolean; then `id` is used */
  int32_t id;                   /* -1: unset */
} mrtc_data_channel_init;

typedef enum mrtc_data_channel_state {
  MRTC_DC_CONNECTING = 0,
  MRTC_DC_OPEN = 1,
  MRTC_DC_CLOSING = 2,
  MRTC_DC_CLOSED = 3,
} mrtc_data_channel_state;

typedef enum mrtc_data_channel_event_kind {
  MRTC_DC_EVENT_STATE = 0,           /* state */
  MRTC_DC_EVENT_MESSAGE = 1,         /* data, len, binary */
  MRTC_DC_EVENT_BUFFERED_AMOUNT = 2, /* buffered_amount: the amount now buffered */
} mrtc_data_channel_event_kind;

typedef struct mrtc_data_channel_event {
  mrtc_data_channel_event_kind kind;
  mrtc_data_channel_state state;
  const uint8_t* data;
  size_t len;
  int binary;
  uint64_t buffered_amount;
} mrtc_data_channel_event;

typedef void (*mrtc_data_channel_cb)(void* user_data, const mrtc_data_channel_event* event);

/* `init` may be NULL (reliable, ordered). The observer is installed before the channel can
 * open, so no event is missed. */
mrtc_status mrtc_peer_create_data_channel(mrtc_peer* peer, mrtc_str label,
                                          const mrtc_data_channel_init* init,
                                          mrtc_data_channel_cb cb, void* user_data,
                                          mrtc_data_channel** out);
/* For channels from MRTC_EVENT_DATA_CHANNEL: messages received before this call are queued
 * by WebRTC and delivered after it. Replaces any previous observer. */
void mrtc_data_channel_set_observer(mrtc_data_channel* dc, mrtc_data_channel_cb cb, void* user_data);
mrtc_status mrtc_data_channel_send(mrtc_data_channel* dc, const uint8_t* data, size_t len, int binary);
uint64_t mrtc_data_channel_buffered_amount(mrtc_data_channel* dc);
mrtc_data_channel_state mrtc_data_channel_state_get(mrtc_data_channel* dc);
/* The largest message the remote side accepts (its SDP's a=max-message-size as libwebrtc
 * negotiated it), 0 while unknown (not connected yet). mrtc_data_channel_send refuses a
 * larger message with MRTC_ERR_INVALID_ARGUMENT (libwebrtc would close the channel). */
uint64_t mrtc_data_channel_max_message_size(mrtc_data_channel* dc);
/* Label; valid until the channel is destroyed. */
mrtc_str mrtc_data_channel_label(mrtc_data_channel* dc);
int32_t mrtc_data_channel_id(mrtc_data_channel* dc);
void mrtc_data_channel_close(mrtc_data_channel* dc);
/* No observer callback runs after this returns. */
void mrtc_data_channel_destroy(mrtc_data_channel* dc);

/* ------------------------------------------------------------------ media */

/* A local audio track fed by the factory's capture PCM (mrtc_factory_push_audio). */
mrtc_status mrtc_peer_add_audio_track(mrtc_peer* peer, mrtc_str track_id, mrtc_str stream_id,
                                      mrtc_audio_track** out);
/* Disabled = muted: the track sends silence. */
void mrtc_audio_track_set_enabled(mrtc_audio_track* track, int enabled);
void mrtc_audio_track_destroy(mrtc_audio_track* track);

typedef struct mrtc_i420_frame {
  int32_t width;
  int32_t height;
  const uint8_t* y;
  int32_t stride_y;
  const uint8_t* u;
  int32_t stride_u;
  const uint8_t* v;
  int32_t stride_v;
  int64_t timestamp_us;
} mrtc_i420_frame;

typedef void (*mrtc_video_cb)(void* user_data, const mrtc_i420_frame* frame);

mrtc_status mrtc_video_source_create(mrtc_factory* factory, mrtc_video_source** out);
/* Copies the planes (MRTC_ERR_INVALID_STATE for a source a platform made). timestamp_us 0 = now; otherwise the app's capture clock, of any
 * epoch: the source keeps the spacing of consecutive stamps on its own monotonic clock and
 * re-anchors to "now" when a stamp goes backwards or runs more than 1 s ahead, so one wild
 * stamp costs at most one frame's timing, never the stream. */
mrtc_status mrtc_video_source_push_i420(mrtc_video_source* source, const mrtc_i420_frame* frame);
void mrtc_video_source_destroy(mrtc_video_source* source);

mrtc_status mrtc_peer_add_video_track(mrtc_peer* peer, mrtc_video_source* source,
                                      mrtc_str track_id, mrtc_str stream_id,
                                      mrtc_video_track** out);
void mrtc_video_track_set_enabled(mrtc_video_track* track, int enabled);
void mrtc_video_track_destroy(mrtc_video_track* track);

/* Remote tracks (from MRTC_EVENT_TRACK). Audio sinks get this track's decoded PCM (while
 * the factory's device plays out); video sinks get decoded frames as I420. NULL cb removes
 * the sink; no sink callback runs after that call or destroy returns. */
mrtc_track_kind mrtc_remote_track_kind(mrtc_remote_track* track);
/* Track id; valid until the track is destroyed. */
mrtc_str mrtc_remote_track_id(mrtc_remote_track* track);
mrtc_status mrtc_remote_track_set_audio_sink(mrtc_remote_track* track, mrtc_audio_cb cb, void* user_data);
mrtc_status mrtc_remote_track_set_video_sink(mrtc_remote_track* track, mrtc_video_cb cb, void* user_data);
void mrtc_remote_track_destroy(mrtc_remote_track* track);

/* Native video sinks: a sink object attached to one remote video track (the far end on
 * screen) or one local source (the self view) at a time. The shim's own kind delivers I420
 * to `cb` on WebRTC's threads; a platform makes others (mrtc_android_video_sink_create).
 * Attaching moves the sink (it leaves what it was attached to) and keeps the track or
 * source alive until detached; after detach or destroy returns, no frame reaches the sink.
 * Independent of mrtc_remote_track_set_video_sink (both may be used at once). */
mrtc_status mrtc_video_sink_create(mrtc_video_cb cb, void* user_data, mrtc_video_sink** out);
mrtc_status mrtc_video_sink_attach_remote(mrtc_video_sink* sink, mrtc_remote_track* track);
mrtc_status mrtc_video_sink_attach_local(mrtc_video_sink* sink, mrtc_video_source* source);
void mrtc_video_sink_detach(mrtc_video_sink* sink);
/* Detaches and frees; the track or source it held may go with it. */
void mrtc_video_sink_destroy(mrtc_video_sink* sink);

#ifdef __cplusplus
}
#endif

#endif /* MOBILERTC_MRTC_H */

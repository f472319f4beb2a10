// Internal to the shim: peer, data channel and remote track handles and their observers.
#ifndef MOBILERTC_PEER_INTERNAL_H
#define MOBILERTC_PEER_INTERNAL_H

#include <atomic>
#include <functional>

#include "mrtc_internal.h"

namespace mrtc {

// A one-shot completion waiting for WebRTC. `cb` is one of mrtc_sdp_cb / mrtc_done_cb /
// mrtc_stats_cb according to `kind`.
struct Pending {
  enum Kind { kSdp, kDone, kStats } kind = kDone;
  void* cb = nullptr;
  void* user_data = nullptr;
};

struct QueuedCandidate {
  std::unique_ptr<webrtc::IceCandidateInterface> candidate;
  uint64_t id;  // its completion in PeerShared::pending
};

// What the peer handle shares with WebRTC-side callback objects (which can outlive the handle:
// they are refcounted by WebRTC). `mu` guards everything; callbacks into the app run under it
// so that destroy, which takes it, returns only once no callback is running. Recursive:
// a callback may call back into the shim for the same peer (e.g. set_local_description from
// the create_offer completion).
struct PeerShared {
  std::recursive_mutex mu;
  bool alive = true;   // false once destroy started: no more events
  bool closed = false; // close or destroy started: completions answered with CLOSED
  bool remote_set = false;
  mrtc_peer_event_cb event_cb = nullptr;
  void* event_user_data = nullptr;
  rtcx::scoped_refptr<webrtc::PeerConnectionInterface> pc;
  uint64_t next_id = 1;
  std::map<uint64_t, Pending> pending;
  std::vector<QueuedCandidate> queued;

  uint64_t AddPending(Pending p);
  bool TakePending(uint64_t id, Pending* out);
  rtcx::scoped_refptr<webrtc::PeerConnectionInterface> Pc() {
    std::lock_guard<std::recursive_mutex> lock(mu);
    return pc;
  }
  // The connection unless close or destroy started (`closed` is written under `mu`).
  rtcx::scoped_refptr<webrtc::PeerConnectionInterface> PcIfOpen() {
    std::lock_guard<std::recursive_mutex> lock(mu);
    return closed ? nullptr : pc;
  }
};

class PeerObserver : public webrtc::PeerConnectionObserver {
 public:
  PeerObserver(mrtc_factory* factory, std::shared_ptr<PeerShared> shared)
      : factory_(factory), shared_(std::move(shared)) {}
  void OnSignalingChange(webrtc::PeerConnectionInterface::SignalingState s) override;
  void OnStandardizedIceConnectionChange(
      webrtc::PeerConnectionInterface::IceConnectionState s) override;
  void OnConnectionChange(webrtc::PeerConnectionInterface::PeerConnectionState s) override;
  void OnIceGatheringChange(webrtc::PeerConnectionInterface::IceGatheringState s) override;
  void OnRenegotiationNeeded() override;
  void OnIceCandidate(const webrtc::IceCandidateInterface* candidate) override;
  void OnDataChannel(rtcx::scoped_refptr<webrtc::DataChannelInterface> channel) override;
  void OnTrack(rtcx::scoped_refptr<webrtc::RtpTransceiverInterface> transceiver) override;

 private:
  void Emit(const mrtc_peer_event& ev);
  void EmitState(mrtc_peer_event_kind kind, int32_t state);
  mrtc_factory* factory_;
  std::shared_ptr<PeerShared> shared_;
};

mrtc_status StatusFromError(const webrtc::RTCError& e);
void AddCandidateNow(const std::shared_ptr<PeerShared>& shared,
                     const rtcx::scoped_refptr<webrtc::PeerConnectionInterface>& pc,
                     std::unique_ptr<webrtc::IceCandidateInterface> candidate, uint64_t id);
rtcx::scoped_refptr<webrtc::PeerConnectionInterface> ClosePending(
    const std::shared_ptr<PeerShared>& shared);

// Forwards one data channel's events to the app. Registered with WebRTC once; the callback
// target can be replaced under `mu`, and destroy clears it under `mu` before unregistering.
class DataChannelObserver : public webrtc::DataChannelObserver {
 public:
  explicit DataChannelObserver(webrtc::DataChannelInterface* dc) : dc_(dc) {}
  void OnStateChange() override;
  void OnMessage(const webrtc::DataBuffer& buffer) override;
  void OnBufferedAmountChange(uint64_t sent_data_size) override;
  void Set(mrtc_data_channel_cb cb, void* user_data) {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    cb_ = cb;
    user_data_ = user_data;
  }
  void EmitState(webrtc::DataChannelInterface::DataState state);

 private:
  void Emit(const mrtc_data_channel_event& ev);
  webrtc::DataChannelInterface* dc_;
  std::recursive_mutex mu_;
  mrtc_data_channel_cb cb_ = nullptr;
  void* user_data_ = nullptr;
};

class AudioSink;
class VideoSink;
class VideoSource;

}  // namespace mrtc

struct mrtc_peer {
  mrtc_factory* factory = nullptr;
  std::shared_ptr<mrtc::PeerShared> shared;
  std::unique_ptr<mrtc::PeerObserver> observer;
};

struct mrtc_data_channel {
  mrtc_factory* factory = nullptr;
  // The peer it belongs to (for the negotiated maximum message size).
  std::weak_ptr<mrtc::PeerShared> peer;
  // Cached once known while connected; 0 = not known yet.
  std::atomic<uint64_t> max_message_size{0};
  rtcx::scoped_refptr<webrtc::DataChannelInterface> dc;
  std::unique_ptr<mrtc::DataChannelObserver> observer;
  bool registered = false;
  std::string label;
};

// A video source tracks are made from: the shim's own (frames pushed by the app) or one
// made elsewhere (Android: webrtc::CreateJavaVideoSource, fed by a Java camera capturer).
struct mrtc_video_source {
  rtcx::scoped_refptr<webrtc::VideoTrackSourceInterface> source;
  // The same object when it is the shim's own (mrtc_video_source_push_i420), else null.
  mrtc::VideoSource* pushed = nullptr;
  // A platform's hook (android.cc): the Java CapturerObserver feeding this source.
  std::function<void*(void* jni_env)> capturer_observer;
  ~mrtc_video_source();
};

// A native video sink (the shim's I420 callback sink, or a platform's: Android wraps a Java
// VideoSink) attached to at most one remote track or local source at a time, which it keeps
// alive while attached. `mu` serialises attach, detach and destroy.
struct mrtc_video_sink {
  std::mutex mu;
  std::unique_ptr<rtcx::VideoSinkInterface<webrtc::VideoFrame>> sink;
  mrtc::VideoSink* callback = nullptr;  // `sink`, when it is the callback kind
  rtcx::scoped_refptr<webrtc::VideoTrackInterface> track;
  rtcx::scoped_refptr<webrtc::VideoTrackSourceInterface> source;
  ~mrtc_video_sink();
};

struct mrtc_remote_track {
  mrtc_factory* factory = nullptr;
  rtcx::scoped_refptr<webrtc::MediaStreamTrackInterface> track;
  mrtc_track_kind kind = MRTC_TRACK_AUDIO;
  std::string id;
  std::unique_ptr<mrtc::AudioSink> audio_sink;
  std::unique_ptr<mrtc::VideoSink> video_sink;
  ~mrtc_remote_track();
};

namespace mrtc {
mrtc_data_channel* NewDataChannelHandle(mrtc_factory* factory, std::weak_ptr<PeerShared> peer,
                                        rtcx::scoped_refptr<webrtc::DataChannelInterface> dc);
mrtc_remote_track* NewRemoteTrackHandle(
    mrtc_factory* factory, rtcx::scoped_refptr<webrtc::MediaStreamTrackInterface> track);
// Removes `sink` from what it is attached to (caller holds sink->mu); media.cc.
void DetachSink(mrtc_video_sink* sink);
}  // namespace mrtc

#endif  // MOBILERTC_PEER_INTERNAL_H

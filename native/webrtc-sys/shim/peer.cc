// Peer connections: configuration, the observer forwarding events, exactly-once completions,
// the early-candidate queue, stats.
#include <functional>

#include "mrtc_internal.h"
#include "peer_internal.h"

namespace mrtc {

// ---------------------------------------------------------------- completion registry

uint64_t PeerShared::AddPending(Pending p) {
  std::lock_guard<std::recursive_mutex> lock(mu);
  const uint64_t id = next_id++;
  pending.emplace(id, p);
  return id;
}

bool PeerShared::TakePending(uint64_t id, Pending* out) {
  // Caller holds `mu`.
  auto it = pending.find(id);
  if (it == pending.end()) return false;
  *out = it->second;
  pending.erase(it);
  return true;
}

void FirePending(const Pending& p, mrtc_status status, const std::string& text,
                 mrtc_sdp_type type) {
  switch (p.kind) {
    case Pending::kSdp:
      reinterpret_cast<mrtc_sdp_cb>(p.cb)(p.user_data, status, type,
                                          status == MRTC_OK ? Str(text) : mrtc_str{nullptr, 0},
                                          status == MRTC_OK ? mrtc_str{nullptr, 0} : Str(text));
      break;
    case Pending::kDone:
      reinterpret_cast<mrtc_done_cb>(p.cb)(p.user_data, status, Str(text));
      break;
    case Pending::kStats:
      reinterpret_cast<mrtc_stats_cb>(p.cb)(p.user_data, status, Str(text));
      break;
  }
}

// Runs completion `id` if it is still pending (it is not once close/destroy answered it with
// MRTC_ERR_CLOSED). Taken under the peer's mutex, run outside it: a completion that reads
// another peer (whose completion reads this one) must not hold a lock doing so. Its
// user_data is its own, so destroy need not wait for it; completions run on the signaling
// thread, which mrtc_factory_destroy stops, so none outlives its factory.
void Complete(const std::shared_ptr<PeerShared>& shared, uint64_t id, mrtc_status status,
              const std::string& text, mrtc_sdp_type type = MRTC_SDP_OFFER) {
  Pending p;
  {
    std::lock_guard<std::recursive_mutex> lock(shared->mu);
    if (!shared->TakePending(id, &p)) return;
  }
  FirePending(p, status, text, type);
}

mrtc_status StatusFromError(const webrtc::RTCError& e) {
  switch (e.type()) {
    case webrtc::RTCErrorType::NONE:
      return MRTC_OK;
    case webrtc::RTCErrorType::SYNTAX_ERROR:
      return MRTC_ERR_PARSE;
    case webrtc::RTCErrorType::INVALID_PARAMETER:
    case webrtc::RTCErrorType::INVALID_RANGE:
    case webrtc::RTCErrorType::UNSUPPORTED_PARAMETER:
    case webrtc::RTCErrorType::UNSUPPORTED_OPERATION:
      return MRTC_ERR_INVALID_ARGUMENT;
    case webrtc::RTCErrorType::INVALID_STATE:
    case webrtc::RTCErrorType::INVALID_MODIFICATION:
      return MRTC_ERR_INVALID_STATE;
    default:
      return MRTC_ERR_INTERNAL;
  }
}

namespace {

mrtc_sdp_type SdpTypeToC(webrtc::SdpType t) {
  switch (t) {
    case webrtc::SdpType::kOffer:
      return MRTC_SDP_OFFER;
    case webrtc::SdpType::kPrAnswer:
      return MRTC_SDP_PRANSWER;
    case webrtc::SdpType::kAnswer:
      return MRTC_SDP_ANSWER;
    default:
      return MRTC_SDP_ROLLBACK;
  }
}

bool SdpTypeFromC(mrtc_sdp_type t, webrtc::SdpType* out) {
  switch (t) {
    case MRTC_SDP_OFFER:
      *out = webrtc::SdpType::kOffer;
      return true;
    case MRTC_SDP_PRANSWER:
      *out = webrtc::SdpType::kPrAnswer;
      return true;
    case MRTC_SDP_ANSWER:
      *out = webrtc::SdpType::kAnswer;
      return true;
    case MRTC_SDP_ROLLBACK:
      *out = webrtc::SdpType::kRollback;
      return true;
  }
  return false;
}

class SdpObserver : public webrtc::CreateSessionDescriptionObserver {
 public:
  SdpObserver(std::shared_ptr<PeerShared> shared, uint64_t id)
      : shared_(std::move(shared)), id_(id) {}
  void OnSuccess(webrtc::SessionDescriptionInterface* desc) override {
    std::unique_ptr<webrtc::SessionDescriptionInterface> owned(desc);  // we own it
    std::string sdp;
    if (!owned || !owned->ToString(&sdp)) {
      Complete(shared_, id_, MRTC_ERR_INTERNAL, "could not serialize the description");
      return;
    }
    Complete(shared_, id_, MRTC_OK, sdp, SdpTypeToC(owned->GetType()));
  }
  void OnFailure(webrtc::RTCError error) override {
    Complete(shared_, id_, StatusFromError(error), error.message());
  }

 private:
  std::shared_ptr<PeerShared> shared_;
  uint64_t id_;
};

class SetLocalObserver : public webrtc::SetLocalDescriptionObserverInterface {
 public:
  SetLocalObserver(std::shared_ptr<PeerShared> shared, uint64_t id)
      : shared_(std::move(shared)), id_(id) {}
  void OnSetLocalDescriptionComplete(webrtc::RTCError error) override {
    Complete(shared_, id_, StatusFromError(error), error.message());
  }

 private:
  std::shared_ptr<PeerShared> shared_;
  uint64_t id_;
};

class SetRemoteObserver : public webrtc::SetRemoteDescriptionObserverInterface {
 public:
  SetRemoteObserver(std::shared_ptr<PeerShared> shared, uint64_t id)
      : shared_(std::move(shared)), id_(id) {}
  // Runs on the signaling thread.
  void OnSetRemoteDescriptionComplete(webrtc::RTCError error) override {
    if (error.ok()) DrainCandidates();
    Complete(shared_, id_, StatusFromError(error), error.message());
  }

 private:
  // Candidates that arrived before any remote description go in now, in arrival order.
  // Adding them early instead would make WebRTC reject them, and the connection would then
  // wait for peer-reflexive discovery (≈90 ms on loopback instead of a few ms).
  void DrainCandidates() {
    std::vector<QueuedCandidate> queued;
    rtcx::scoped_refptr<webrtc::PeerConnectionInterface> pc;
    {
      std::lock_guard<std::recursive_mutex> lock(shared_->mu);
      shared_->remote_set = true;
      queued.swap(shared_->queued);
      pc = shared_->pc;
    }
    if (!pc) return;
    for (auto& q : queued) AddCandidateNow(shared_, pc, std::move(q.candidate), q.id);
  }

  std::shared_ptr<PeerShared> shared_;
  uint64_t id_;
};

class StatsCallback : public webrtc::RTCStatsCollectorCallback {
 public:
  StatsCallback(std::shared_ptr<PeerShared> shared, uint64_t id)
      : shared_(std::move(shared)), id_(id) {}
  void OnStatsDelivered(const rtcx::scoped_refptr<const webrtc::RTCStatsReport>& report) override {
    Complete(shared_, id_, report ? MRTC_OK : MRTC_ERR_INTERNAL,
             report ? report->ToJson() : std::string("no report"));
  }

 private:
  std::shared_ptr<PeerShared> shared_;
  uint64_t id_;
};

}  // namespace

void AddCandidateNow(const std::shared_ptr<PeerShared>& shared,
                     const rtcx::scoped_refptr<webrtc::PeerConnectionInterface>& pc,
                     std::unique_ptr<webrtc::IceCandidateInterface> candidate, uint64_t id) {
  std::weak_ptr<PeerShared> weak = shared;
  pc->AddIceCandidate(std::move(candidate), [weak, id](webrtc::RTCError error) {
    if (auto s = weak.lock()) Complete(s, id, StatusFromError(error), error.message());
  });
}

// ---------------------------------------------------------------- observer

void PeerObserver::Emit(const mrtc_peer_event& ev) {
  std::lock_guard<std::recursive_mutex> lock(shared_->mu);
  if (shared_->alive && shared_->event_cb) shared_->event_cb(shared_->event_user_data, &ev);
}

void PeerObserver::EmitState(mrtc_peer_event_kind kind, int32_t state) {
  mrtc_peer_event ev{};
  ev.kind = kind;
  ev.state = state;
  Emit(ev);
}

void PeerObserver::OnSignalingChange(webrtc::PeerConnectionInterface::SignalingState s) {
  EmitState(MRTC_EVENT_SIGNALING_STATE, static_cast<int32_t>(s));
}

void PeerObserver::OnStandardizedIceConnectionChange(
    webrtc::PeerConnectionInterface::IceConnectionState s) {
  // kIceConnectionMax is not a state; the rest mirror the W3C enum in order.
  if (s == webrtc::PeerConnectionInterface::kIceConnectionMax) return;
  EmitState(MRTC_EVENT_ICE_CONNECTION_STATE, static_cast<int32_t>(s));
}

void PeerObserver::OnConnectionChange(webrtc::PeerConnectionInterface::PeerConnectionState s) {
  EmitState(MRTC_EVENT_CONNECTION_STATE, static_cast<int32_t>(s));
}

void PeerObserver::OnIceGatheringChange(webrtc::PeerConnectionInterface::IceGatheringState s) {
  EmitState(MRTC_EVENT_ICE_GATHERING_STATE, static_cast<int32_t>(s));
}

void PeerObserver::OnRenegotiationNeeded() {
  mrtc_peer_event ev{};
  ev.kind = MRTC_EVENT_RENEGOTIATION_NEEDED;
  Emit(ev);
}

void PeerObserver::OnIceCandidate(const webrtc::IceCandidateInterface* candidate) {
  if (!candidate) return;
  std::string sdp;
  if (!candidate->ToString(&sdp)) return;
  const std::string mid = candidate->sdp_mid();
  mrtc_peer_event ev{};
  ev.kind = MRTC_EVENT_ICE_CANDIDATE;
  ev.sdp_mid = Str(mid);
  ev.sdp_mline_index = candidate->sdp_mline_index();
  ev.candidate = Str(sdp);
  Emit(ev);
}

void PeerObserver::OnDataChannel(rtcx::scoped_refptr<webrtc::DataChannelInterface> channel) {
  if (!channel) return;
  std::unique_ptr<mrtc_data_channel> dc(NewDataChannelHandle(factory_, shared_, channel));
  std::lock_guard<std::recursive_mutex> lock(shared_->mu);
  if (!shared_->alive || !shared_->event_cb) return;  // nobody to own it: released here
  mrtc_peer_event ev{};
  ev.kind = MRTC_EVENT_DATA_CHANNEL;
  ev.data_channel = dc.release();  // ownership passes to the receiver
  shared_->event_cb(shared_->event_user_data, &ev);
}

void PeerObserver::OnTrack(rtcx::scoped_refptr<webrtc::RtpTransceiverInterface> transceiver) {
  if (!transceiver || !transceiver->receiver()) return;
  auto track = transceiver->receiver()->track();
  if (!track) return;
  std::unique_ptr<mrtc_remote_track> rt(NewRemoteTrackHandle(factory_, track));
  if (!rt) return;
  std::lock_guard<std::recursive_mutex> lock(shared_->mu);
  if (!shared_->alive || !shared_->event_cb) return;
  mrtc_peer_event ev{};
  ev.kind = MRTC_EVENT_TRACK;
  ev.track_kind = mrtc_remote_track_kind(rt.get());
  ev.track = rt.release();
  shared_->event_cb(shared_->event_user_data, &ev);
}

// Answers every pending completion with MRTC_ERR_CLOSED and drops queued candidates; runs
// them outside the lock, in issue order. Returns the connection for the caller to Close().
rtcx::scoped_refptr<webrtc::PeerConnectionInterface> ClosePending(
    const std::shared_ptr<PeerShared>& shared) {
  std::map<uint64_t, Pending> pending;
  rtcx::scoped_refptr<webrtc::PeerConnectionInterface> pc;
  {
    std::lock_guard<std::recursive_mutex> lock(shared->mu);
    shared->closed = true;
    pending.swap(shared->pending);
    shared->queued.clear();  // their ids are in `pending`
    pc = shared->pc;
  }
  for (auto& [id, p] : pending) FirePending(p, MRTC_ERR_CLOSED, "peer connection closed", MRTC_SDP_OFFER);
  return pc;
}

}  // namespace mrtc

using mrtc::Guard;
using mrtc::GuardVoid;

extern "C" {

mrtc_status mrtc_peer_create(mrtc_factory* factory, const mrtc_peer_config* config,
                             mrtc_peer_event_cb cb, void* user_data, mrtc_peer** out) {
  return Guard(MRTC_ERR_INTERNAL, [&]() -> mrtc_status {
    if (!factory || !out) return MRTC_ERR_INVALID_ARGUMENT;
    *out = nullptr;
    webrtc::PeerConnectionInterface::RTCConfiguration rtc_config;
    rtc_config.sdp_semantics = webrtc::SdpSemantics::kUnifiedPlan;
    // One DTLS certificate per factory instead of one generated per connection.
    if (auto cert = mrtc::FactoryCertificate(factory)) rtc_config.certificates.push_back(cert);
    if (config) {
      if (config->ice_server_count && !config->ice_servers) return MRTC_ERR_INVALID_ARGUMENT;
      for (size_t i = 0; i < config->ice_server_count; ++i) {
        const mrtc_ice_server& s = config->ice_servers[i];
        if (s.url_count && !s.urls) return MRTC_ERR_INVALID_ARGUMENT;
        webrtc::PeerConnectionInterface::IceServer server;
        for (size_t u = 0; u < s.url_count; ++u) server.urls.push_back(mrtc::ToString(s.urls[u]));
        server.username = mrtc::ToString(s.username);
        server.password = mrtc::ToString(s.credential);
        rtc_config.servers.push_back(std::move(server));
      }
      switch (config->ice_transport_policy) {
        case MRTC_ICE_TRANSPORT_ALL:
          rtc_config.type = webrtc::PeerConnectionInterface::kAll;
          break;
        case MRTC_ICE_TRANSPORT_RELAY:
          rtc_config.type = webrtc::PeerConnectionInterface::kRelay;
          break;
        default:
          return MRTC_ERR_INVALID_ARGUMENT;
      }
    }

    auto peer = std::make_unique<mrtc_peer>();
    peer->factory = factory;
    peer->shared = std::make_shared<mrtc::PeerShared>();
    peer->shared->event_cb = cb;
    peer->shared->event_user_data = user_data;
    peer->observer = std::make_unique<mrtc::PeerObserver>(factory, peer->shared);

    webrtc::PeerConnectionDependencies deps(peer->observer.get());
    auto result = factory->pcf->CreatePeerConnectionOrError(rtc_config, std::move(deps));
    if (!result.ok()) {
      RTC_LOG(LS_ERROR) << "mrtc: CreatePeerConnection: " << result.error().message();
      // A config libwebrtc rejects (e.g. an ICE server URL it cannot parse: SYNTAX_ERROR)
      // is the caller's argument, not an internal failure.
      const mrtc_status s = mrtc::StatusFromError(result.error());
      return s == MRTC_ERR_INVALID_ARGUMENT || s == MRTC_ERR_PARSE ? MRTC_ERR_INVALID_ARGUMENT
                                                                   : MRTC_ERR_INTERNAL;
    }
    {
      std::lock_guard<std::recursive_mutex> lock(peer->shared->mu);
      peer->shared->pc = result.MoveValue();
    }
    *out = peer.release();
    return MRTC_OK;
  });
}

void mrtc_peer_close(mrtc_peer* peer) {
  GuardVoid([&] {
    if (!peer) return;
    auto pc = mrtc::ClosePending(peer->shared);
    if (pc) pc->Close();
  });
}

void mrtc_peer_destroy(mrtc_peer* peer) {
  GuardVoid([&] {
    if (!peer) return;
    std::unique_ptr<mrtc_peer> owned(peer);
    {
      // Waits for a running event callback; none starts after this block.
      std::lock_guard<std::recursive_mutex> lock(peer->shared->mu);
      peer->shared->alive = false;
      peer->shared->event_cb = nullptr;
    }
    auto pc = mrtc::ClosePending(peer->shared);
    if (pc) pc->Close();  // after Close() returns WebRTC no longer uses the observer
    {
      std::lock_guard<std::recursive_mutex> lock(peer->shared->mu);
      peer->shared->pc = nullptr;
    }
    pc = nullptr;
    owned->observer.reset();
  });
}

static mrtc_status CreateSdp(mrtc_peer* peer, mrtc_sdp_cb cb, void* user_data, bool offer) {
  return Guard(MRTC_ERR_INTERNAL, [&]() -> mrtc_status {
    if (!peer || !cb) return MRTC_ERR_INVALID_ARGUMENT;
    auto& shared = peer->shared;
    rtcx::scoped_refptr<webrtc::PeerConnectionInterface> pc;
    uint64_t id;
    {
      std::lock_guard<std::recursive_mutex> lock(shared->mu);
      if (shared->closed || !shared->pc) return MRTC_ERR_CLOSED;
      pc = shared->pc;
      id = shared->AddPending({mrtc::Pending::kSdp, reinterpret_cast<void*>(cb), user_data});
    }
    auto observer = rtcx::make_ref_counted<mrtc::SdpObserver>(shared, id);
    webrtc::PeerConnectionInterface::RTCOfferAnswerOptions options;
    if (offer) {
      pc->CreateOffer(observer.get(), options);
    } else {
      pc->CreateAnswer(observer.get(), options);
    }
    return MRTC_OK;
  });
}

mrtc_status mrtc_peer_create_offer(mrtc_peer* peer, mrtc_sdp_cb cb, void* user_data) {
  return CreateSdp(peer, cb, user_data, true);
}

mrtc_status mrtc_peer_create_answer(mrtc_peer* peer, mrtc_sdp_cb cb, void* user_data) {
  return CreateSdp(peer, cb, user_data, false);
}

static mrtc_status SetDescription(mrtc_peer* peer, mrtc_sdp_type type, mrtc_str sdp,
                                  mrtc_done_cb cb, void* user_data, bool local) {
  return Guard(MRTC_ERR_INTERNAL, [&]() -> mrtc_status {
    if (!peer || !cb || (!sdp.ptr && sdp.len)) return MRTC_ERR_INVALID_ARGUMENT;
    webrtc::SdpType sdp_type;
    if (!mrtc::SdpTypeFromC(type, &sdp_type)) return MRTC_ERR_INVALID_ARGUMENT;
    webrtc::SdpParseError parse_error;
    auto desc = webrtc::CreateSessionDescription(sdp_type, mrtc::ToString(sdp), &parse_error);
    if (!desc) {
      RTC_LOG(LS_WARNING) << "mrtc: SDP parse error at '" << parse_error.line
                          << "': " << parse_error.description;
      return MRTC_ERR_PARSE;
    }
    auto& shared = peer->shared;
    rtcx::scoped_refptr<webrtc::PeerConnectionInterface> pc;
    uint64_t id;
    {
      std::lock_guard<std::recursive_mutex> lock(shared->mu);
      if (shared->closed || !shared->pc) return MRTC_ERR_CLOSED;
      pc = shared->pc;
      id = shared->AddPending({mrtc::Pending::kDone, reinterpret_cast<void*>(cb), user_data});
    }
    if (local) {
      pc->SetLocalDescription(std::move(desc),
                              rtcx::make_ref_counted<mrtc::SetLocalObserver>(shared, id));
    } else {
      pc->SetRemoteDescription(std::move(desc),
                               rtcx::make_ref_counted<mrtc::SetRemoteObserver>(shared, id));
    }
    return MRTC_OK;
  });
}

mrtc_status mrtc_peer_set_local_description(mrtc_peer* peer, mrtc_sdp_type type, mrtc_str sdp,
                                            mrtc_done_cb cb, void* user_data) {
  return SetDescription(peer, type, sdp, cb, user_data, true);
}

mrtc_status mrtc_peer_set_remote_description(mrtc_peer* peer, mrtc_sdp_type type, mrtc_str sdp,
                                             mrtc_done_cb cb, void* user_data) {
  return SetDescription(peer, type, sdp, cb, user_data, false);
}

mrtc_status mrtc_peer_add_ice_candidate(mrtc_peer* peer, mrtc_str sdp_mid, int32_t sdp_mline_index,
                                        mrtc_str candidate, mrtc_done_cb cb, void* user_data) {
  return Guard(MRTC_ERR_INTERNAL, [&]() -> mrtc_status {
    if (!peer || !cb || (!candidate.ptr && candidate.len)) return MRTC_ERR_INVALID_ARGUMENT;
    std::string text = mrtc::ToString(candidate);
    // Accept the SDP attribute form too ("a=candidate:…").
    if (text.rfind("a=", 0) == 0) text.erase(0, 2);
    webrtc::SdpParseError parse_error;
    std::unique_ptr<webrtc::IceCandidateInterface> parsed(webrtc::CreateIceCandidate(
        mrtc::ToString(sdp_mid), sdp_mline_index, text, &parse_error));
    if (!parsed) return MRTC_ERR_PARSE;
    auto& shared = peer->shared;
    rtcx::scoped_refptr<webrtc::PeerConnectionInterface> pc;
    uint64_t id;
    {
      std::lock_guard<std::recursive_mutex> lock(shared->mu);
      if (shared->closed || !shared->pc) return MRTC_ERR_CLOSED;
      id = shared->AddPending({mrtc::Pending::kDone, reinterpret_cast<void*>(cb), user_data});
      if (!shared->remote_set) {
        shared->queued.push_back({std::move(parsed), id});
        return MRTC_OK;
      }
      pc = shared->pc;
    }
    mrtc::AddCandidateNow(shared, pc, std::move(parsed), id);
    return MRTC_OK;
  });
}

mrtc_status mrtc_peer_get_stats(mrtc_peer* peer, mrtc_stats_cb cb, void* user_data) {
  return Guard(MRTC_ERR_INTERNAL, [&]() -> mrtc_status {
    if (!peer || !cb) return MRTC_ERR_INVALID_ARGUMENT;
    auto& shared = peer->shared;
    rtcx::scoped_refptr<webrtc::PeerConnectionInterface> pc;
    uint64_t id;
    {
      std::lock_guard<std::recursive_mutex> lock(shared->mu);
      if (shared->closed || !shared->pc) return MRTC_ERR_CLOSED;
      pc = shared->pc;
      id = shared->AddPending({mrtc::Pending::kStats, reinterpret_cast<void*>(cb), user_data});
    }
    pc->GetStats(rtcx::make_ref_counted<mrtc::StatsCallback>(shared, id).get());
    return MRTC_OK;
  });
}

mrtc_signaling_state mrtc_peer_signaling_state(mrtc_peer* peer) {
  return Guard(MRTC_SIGNALING_CLOSED, [&]() -> mrtc_signaling_state {
    if (!peer) return MRTC_SIGNALING_CLOSED;
    auto pc = peer->shared->Pc();
    if (!pc) return MRTC_SIGNALING_CLOSED;
    return static_cast<mrtc_signaling_state>(pc->signaling_state());
  });
}

mrtc_peer_connection_state mrtc_peer_connection_state_get(mrtc_peer* peer) {
  return Guard(MRTC_PEER_CONNECTION_CLOSED, [&]() -> mrtc_peer_connection_state {
    if (!peer) return MRTC_PEER_CONNECTION_CLOSED;
    auto pc = peer->shared->Pc();
    if (!pc) return MRTC_PEER_CONNECTION_CLOSED;
    return static_cast<mrtc_peer_connection_state>(pc->peer_connection_state());
  });
}

}  // extern "C"

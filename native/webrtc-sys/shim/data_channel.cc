// Data channels.
#include "mrtc_internal.h"
#include "peer_internal.h"

namespace mrtc {

void DataChannelObserver::Emit(const mrtc_data_channel_event& ev) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  if (cb_) cb_(user_data_, &ev);
}

void DataChannelObserver::EmitState(webrtc::DataChannelInterface::DataState state) {
  mrtc_data_channel_event ev{};
  ev.kind = MRTC_DC_EVENT_STATE;
  ev.state = static_cast<mrtc_data_channel_state>(state);
  Emit(ev);
}

void DataChannelObserver::OnStateChange() { EmitState(dc_->state()); }

void DataChannelObserver::OnMessage(const webrtc::DataBuffer& buffer) {
  mrtc_data_channel_event ev{};
  ev.kind = MRTC_DC_EVENT_MESSAGE;
  ev.data = buffer.data.cdata();
  ev.len = buffer.size();
  ev.binary = buffer.binary ? 1 : 0;
  Emit(ev);
}

void DataChannelObserver::OnBufferedAmountChange(uint64_t /*sent_data_size*/) {
  mrtc_data_channel_event ev{};
  ev.kind = MRTC_DC_EVENT_BUFFERED_AMOUNT;
  ev.buffered_amount = dc_->buffered_amount();
  Emit(ev);
}

mrtc_data_channel* NewDataChannelHandle(mrtc_factory* factory, std::weak_ptr<PeerShared> peer,
                                        rtcx::scoped_refptr<webrtc::DataChannelInterface> dc) {
  auto h = std::make_unique<mrtc_data_channel>();
  h->factory = factory;
  h->peer = std::move(peer);
  h->label = dc->label();
  h->observer = std::make_unique<DataChannelObserver>(dc.get());
  h->dc = std::move(dc);
  return h.release();
}

namespace {

// libwebrtc's own ceiling (cricket::kSctpSendBufferSize, which a=max-message-size may only
// lower): used when the transport reports no maximum.
constexpr uint64_t kSctpSendBufferSize = 256 * 1024;

// The negotiated maximum message size, 0 while unknown. Runs on the signaling thread (the
// PeerConnection proxy call is then direct; Information() hops to the network thread,
// which the signaling thread may block on). Cached once the transport is connected.
uint64_t MaxMessageSize(mrtc_data_channel* dc) {
  const uint64_t cached = dc->max_message_size.load(std::memory_order_relaxed);
  if (cached) return cached;
  auto shared = dc->peer.lock();
  auto pc = shared ? shared->Pc() : nullptr;
  if (!pc) return 0;
  auto transport = pc->GetSctpTransport();
  if (!transport) return 0;
  const auto info = transport->Information();
  if (info.state() != webrtc::SctpTransportState::kConnected) return 0;
  const auto max = info.MaxMessageSize();
  const uint64_t value =
      max && *max >= 1 ? static_cast<uint64_t>(*max) : kSctpSendBufferSize;
  dc->max_message_size.store(value, std::memory_order_relaxed);
  return value;
}

}  // namespace

}  // namespace mrtc

using mrtc::Guard;
using mrtc::GuardVoid;

extern "C" {

mrtc_status mrtc_peer_create_data_channel(mrtc_peer* peer, mrtc_str label,
                                          const mrtc_data_channel_init* init,
                                          mrtc_data_channel_cb cb, void* user_data,
                                          mrtc_data_channel** out) {
  return Guard(MRTC_ERR_INTERNAL, [&]() -> mrtc_status {
    if (!peer || !out || (!label.ptr && label.len)) return MRTC_ERR_INVALID_ARGUMENT;
    *out = nullptr;
    // SCTP's open message has 16-bit lengths: longer strings would arrive cut.
    if (label.len > MRTC_MAX_LABEL_BYTES) return MRTC_ERR_INVALID_ARGUMENT;
    if (init && (init->protocol.len > MRTC_MAX_LABEL_BYTES ||
                 (!init->protocol.ptr && init->protocol.len))) {
      return MRTC_ERR_INVALID_ARGUMENT;
    }
    webrtc::DataChannelInit config;
    if (init) {
      config.ordered = init->ordered != 0;
      if (init->max_retransmits >= 0) config.maxRetransmits = init->max_retransmits;
      if (init->max_packet_life_time_ms >= 0) {
        config.maxRetransmitTime = init->max_packet_life_time_ms;
      }
      config.protocol = mrtc::ToString(init->protocol);
      config.negotiated = init->negotiated != 0;
      config.id = init->id;
    }
    auto pc = peer->shared->PcIfOpen();
    if (!pc) return MRTC_ERR_CLOSED;
    const std::string name = mrtc::ToString(label);
    mrtc_status status = MRTC_OK;
    std::unique_ptr<mrtc_data_channel> handle;
    // Create and register in one signaling-thread task: the channel cannot change state
    // (e.g. open, on a renegotiated connection) before the observer is installed.
    mrtc::RunOn(peer->factory->signaling.get(), [&] {
      auto result = pc->CreateDataChannelOrError(name, &config);
      if (!result.ok()) {
        RTC_LOG(LS_WARNING) << "mrtc: CreateDataChannel: " << result.error().message();
        status = mrtc::StatusFromError(result.error());
        if (status == MRTC_OK) status = MRTC_ERR_INTERNAL;
        return;
      }
      handle.reset(mrtc::NewDataChannelHandle(peer->factory, peer->shared, result.MoveValue()));
      handle->observer->Set(cb, user_data);
      handle->dc->RegisterObserver(handle->observer.get());
      handle->registered = true;
    });
    if (status != MRTC_OK) return status;
    *out = handle.release();
    return MRTC_OK;
  });
}

void mrtc_data_channel_set_observer(mrtc_data_channel* dc, mrtc_data_channel_cb cb,
                                    void* user_data) {
  GuardVoid([&] {
    if (!dc) return;
    if (dc->registered) {
      dc->observer->Set(cb, user_data);
      return;
    }
    // First observer of a remote channel. WebRTC delivers the messages it queued from inside
    // RegisterObserver, but does not repeat a state change that already happened: report the
    // current state first, so the app never sees a message before "open".
    mrtc::RunOn(dc->factory->signaling.get(), [&] {
      dc->observer->Set(cb, user_data);
      const auto state = dc->dc->state();
      if (state != webrtc::DataChannelInterface::kConnecting) dc->observer->EmitState(state);
      dc->dc->RegisterObserver(dc->observer.get());
      dc->registered = true;
    });
  });
}

mrtc_status mrtc_data_channel_send(mrtc_data_channel* dc, const uint8_t* data, size_t len,
                                   int binary) {
  return Guard(MRTC_ERR_INTERNAL, [&]() -> mrtc_status {
    if (!dc || (!data && len)) return MRTC_ERR_INVALID_ARGUMENT;
    webrtc::DataBuffer buffer(rtcx::CopyOnWriteBuffer(data, len), binary != 0);
    mrtc_status status = MRTC_OK;
    // One hop to the signaling thread for the state check and the send together (each
    // proxy call would be a hop of its own).
    mrtc::RunOn(dc->factory->signaling.get(), [&] {
      const auto state = dc->dc->state();
      if (state != webrtc::DataChannelInterface::kOpen) {
        status = state == webrtc::DataChannelInterface::kConnecting ? MRTC_ERR_INVALID_STATE
                                                                     : MRTC_ERR_CLOSED;
        return;
      }
      // Over the maximum, libwebrtc fails the send by closing the channel.
      const uint64_t max = mrtc::MaxMessageSize(dc);
      if (max && len > max) {
        status = MRTC_ERR_INVALID_ARGUMENT;
        return;
      }
#if MRTC_HAS_SEND_ASYNC
      if (dc->dc->buffered_amount() + len > webrtc::DataChannelInterface::MaxSendQueueSize()) {
        status = MRTC_ERR_BUFFER_FULL;
        return;
      }
      dc->dc->SendAsync(std::move(buffer), [](webrtc::RTCError) {});
#else
      if (!dc->dc->Send(buffer)) {
        // Send() is false when the 16 MiB send queue is full, or when it closed the channel.
        status = dc->dc->state() == webrtc::DataChannelInterface::kOpen ? MRTC_ERR_BUFFER_FULL
                                                                         : MRTC_ERR_CLOSED;
      }
#endif
    });
    return status;
  });
}

uint64_t mrtc_data_channel_buffered_amount(mrtc_data_channel* dc) {
  return Guard<uint64_t>(0, [&]() -> uint64_t { return dc ? dc->dc->buffered_amount() : 0; });
}

uint64_t mrtc_data_channel_max_message_size(mrtc_data_channel* dc) {
  return Guard<uint64_t>(0, [&]() -> uint64_t {
    if (!dc) return 0;
    uint64_t max = 0;
    mrtc::RunOn(dc->factory->signaling.get(), [&] { max = mrtc::MaxMessageSize(dc); });
    return max;
  });
}

mrtc_data_channel_state mrtc_data_channel_state_get(mrtc_data_channel* dc) {
  return Guard(MRTC_DC_CLOSED, [&]() -> mrtc_data_channel_state {
    return dc ? static_cast<mrtc_data_channel_state>(dc->dc->state()) : MRTC_DC_CLOSED;
  });
}

mrtc_str mrtc_data_channel_label(mrtc_data_channel* dc) {
  return dc ? mrtc::Str(dc->label) : mrtc_str{nullptr, 0};
}

int32_t mrtc_data_channel_id(mrtc_data_channel* dc) {
  return Guard<int32_t>(-1, [&]() -> int32_t { return dc ? dc->dc->id() : -1; });
}

void mrtc_data_channel_close(mrtc_data_channel* dc) {
  GuardVoid([&] {
    if (dc) dc->dc->Close();
  });
}

void mrtc_data_channel_destroy(mrtc_data_channel* dc) {
  GuardVoid([&] {
    if (!dc) return;
    std::unique_ptr<mrtc_data_channel> owned(dc);
    dc->observer->Set(nullptr, nullptr);  // waits for a running callback
    if (dc->registered) dc->dc->UnregisterObserver();
    dc->dc = nullptr;
  });
}

}  // extern "C"

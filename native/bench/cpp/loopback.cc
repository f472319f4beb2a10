// The C++ baseline of the benchmark: the same loopback call the Rust benchmark makes through
// mobilertc, written directly against libwebrtc's C++ API (no shim, no Rust), so one run
// measures what the Rust layer costs. Both sides use the same trick: ICE candidates that
// arrive before the remote description is set are queued, then added right after it.
//
// Exposed as plain C functions; the Rust benchmark binary calls them in the same process.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "api/audio_codecs/audio_decoder_factory_template.h"
#include "api/audio_codecs/audio_encoder_factory_template.h"
#include "api/audio_codecs/g711/audio_decoder_g711.h"
#include "api/audio_codecs/g711/audio_encoder_g711.h"
#include "api/audio_codecs/g722/audio_decoder_g722.h"
#include "api/audio_codecs/g722/audio_encoder_g722.h"
#include "api/audio_codecs/opus/audio_decoder_opus.h"
#include "api/audio_codecs/opus/audio_encoder_opus.h"
#include "api/create_peerconnection_factory.h"
#include "api/data_channel_interface.h"
#include "api/jsep.h"
#include "api/peer_connection_interface.h"
#include "api/task_queue/default_task_queue_factory.h"
#include "rtc_base/logging.h"
#include "rtc_base/ssl_adapter.h"
#include "rtc_base/thread.h"
// The shim's internal header (webrtc-sys exports its dir): the rtcx::/webrtc:: namespace
// aliases across milestones and the same app-fed audio device the shim uses.
#include "mrtc_internal.h"

namespace {

using Clock = std::chrono::steady_clock;

// A one-shot latch with a deadline, so a broken run reports failure instead of hanging.
class Event {
 public:
  void Set() {
    std::lock_guard<std::mutex> lock(mu_);
    set_ = true;
    cv_.notify_all();
  }
  bool Wait(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return set_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool set_ = false;
};

// The app's own thread, as in a real client where signaling messages arrive from the
// network: every call from one peer into the other goes through it. Calling the other
// peer directly from a WebRTC callback blocks one signaling thread on the other's and can
// deadlock when the other is calling back.
class Driver {
 public:
  Driver() : thread_([this] { Loop(); }) {}
  ~Driver() { Stop(); }
  // Runs what is queued, then ends the thread.
  void Stop() {
    if (!thread_.joinable()) return;
    Post(nullptr);
    thread_.join();
  }
  void Post(std::function<void()> task) {
    std::lock_guard<std::mutex> lock(mu_);
    tasks_.push_back(std::move(task));
    cv_.notify_one();
  }

 private:
  void Loop() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return !tasks_.empty(); });
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      if (!task) return;
      task();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  std::thread thread_;
};

struct Factory {
  std::unique_ptr<rtcx::Thread> network, worker, signaling;
  std::unique_ptr<webrtc::TaskQueueFactory> task_queue_factory;
  rtcx::scoped_refptr<webrtc::PeerConnectionFactoryInterface> pcf;
  std::shared_ptr<void> srtp_keepalive;

  Factory() {
    network = rtcx::Thread::CreateWithSocketServer();
    worker = rtcx::Thread::Create();
    signaling = rtcx::Thread::Create();
    network->Start();
    worker->Start();
    signaling->Start();
    task_queue_factory = webrtc::CreateDefaultTaskQueueFactory();
    // The shim's own app-fed device (shim/audio_device.cc), fed nothing: silence captured,
    // playout discarded. Like for like with the Rust side.
    auto adm = mrtc::CreateBridgeAudioDevice(std::make_shared<mrtc::AudioBridge>(48000, 1));
    pcf = webrtc::CreatePeerConnectionFactory(
        network.get(), worker.get(), signaling.get(), adm,
        // The shim's codec set (Opus first), so both sides of the comparison match.
        webrtc::CreateAudioEncoderFactory<webrtc::AudioEncoderOpus, webrtc::AudioEncoderG722,
                                          webrtc::AudioEncoderG711>(),
        webrtc::CreateAudioDecoderFactory<webrtc::AudioDecoderOpus, webrtc::AudioDecoderG722,
                                          webrtc::AudioDecoderG711>(),
        mrtc::CreateVideoEncoderFactory(), mrtc::CreateVideoDecoderFactory(), nullptr, nullptr);
#if MRTC_SRTP_KEEPALIVE
    // Same as the shim's factory (shim/srtp_keepalive.cc, distro SDK only).
    srtp_keepalive = mrtc::StartSrtpKeepalive(network.get());
#endif
  }
  ~Factory() {
#if MRTC_SRTP_KEEPALIVE
    network->BlockingCall([&] { srtp_keepalive.reset(); });
#endif
    pcf = nullptr;
    network->Stop();
    worker->Stop();
    signaling->Stop();
  }
};

class Peer;

class ChannelObserver : public webrtc::DataChannelObserver {
 public:
  explicit ChannelObserver(rtcx::scoped_refptr<webrtc::DataChannelInterface> dc)
      : dc_(std::move(dc)) {
    dc_->RegisterObserver(this);
  }
  ~ChannelObserver() override { dc_->UnregisterObserver(); }

  void OnStateChange() override {
    if (dc_->state() == webrtc::DataChannelInterface::kOpen) open.Set();
  }
  void OnMessage(const webrtc::DataBuffer& buffer) override {
    bytes_received += buffer.size();
    uint64_t n = ++messages_received;
    if (expected_messages && n == expected_messages) all_received.Set();
  }
  void OnBufferedAmountChange(uint64_t) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++drained_;
    cv_.notify_all();
  }
  // Blocks while more than `limit` bytes are queued: the backpressure a sender needs.
  // buffered_amount() is asked outside the lock: it may hop to the signaling thread, which
  // is the thread that calls OnBufferedAmountChange.
  void WaitBufferedBelow(uint64_t limit) {
    auto deadline = Clock::now() + std::chrono::seconds(10);
    while (dc_->buffered_amount() > limit && Clock::now() < deadline) {
      std::unique_lock<std::mutex> lock(mu_);
      uint64_t seen = drained_;
      cv_.wait_for(lock, std::chrono::milliseconds(5), [&] { return drained_ != seen; });
    }
  }

  rtcx::scoped_refptr<webrtc::DataChannelInterface> dc_;
  Event open;
  Event all_received;
  std::atomic<uint64_t> bytes_received{0};
  std::atomic<uint64_t> messages_received{0};
  uint64_t expected_messages = 0;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t drained_ = 0;
};

class Peer : public webrtc::PeerConnectionObserver {
 public:
  Peer* other = nullptr;
  Driver* driver = nullptr;
  rtcx::scoped_refptr<webrtc::PeerConnectionInterface> pc;
  std::unique_ptr<ChannelObserver> channel;
  Event got_channel;
  Event failed;

  void OnSignalingChange(webrtc::PeerConnectionInterface::SignalingState) override {}
  void OnDataChannel(rtcx::scoped_refptr<webrtc::DataChannelInterface> dc) override {
    channel = std::make_unique<ChannelObserver>(dc);
    got_channel.Set();
    if (dc->state() == webrtc::DataChannelInterface::kOpen) channel->open.Set();
  }
  void OnIceGatheringChange(webrtc::PeerConnectionInterface::IceGatheringState) override {}
  void OnIceCandidate(const webrtc::IceCandidateInterface* candidate) override {
    std::string sdp;
    candidate->ToString(&sdp);
    Peer* to = other;
    driver->Post([to, mid = candidate->sdp_mid(), index = candidate->sdp_mline_index(), sdp] {
      to->AddRemoteCandidate(mid, index, sdp);
    });
  }
  void OnConnectionChange(webrtc::PeerConnectionInterface::PeerConnectionState s) override {
    if (s == webrtc::PeerConnectionInterface::PeerConnectionState::kFailed) failed.Set();
  }

  void AddRemoteCandidate(const std::string& mid, int index, const std::string& sdp) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!remote_set_) {
        pending_.push_back({mid, index, sdp});
        return;
      }
    }
    AddCandidateNow(mid, index, sdp);
  }

  // Called once the remote description is applied: flush what trickled in early.
  void RemoteDescriptionSet() {
    std::deque<Pending> pending;
    {
      std::lock_guard<std::mutex> lock(mu_);
      remote_set_ = true;
      pending.swap(pending_);
    }
    for (auto& p : pending) AddCandidateNow(p.mid, p.index, p.sdp);
  }

 private:
  struct Pending {
    std::string mid;
    int index;
    std::string sdp;
  };
  void AddCandidateNow(const std::string& mid, int index, const std::string& sdp) {
    webrtc::SdpParseError error;
    std::unique_ptr<webrtc::IceCandidateInterface> c(
        webrtc::CreateIceCandidate(mid, index, sdp, &error));
    if (c) pc->AddIceCandidate(std::move(c), [](webrtc::RTCError) {});
  }
  std::mutex mu_;
  bool remote_set_ = false;
  std::deque<Pending> pending_;
};

class CreateSdpObserver : public webrtc::CreateSessionDescriptionObserver {
 public:
  explicit CreateSdpObserver(std::function<void(webrtc::SessionDescriptionInterface*)> done)
      : done_(std::move(done)) {}
  void OnSuccess(webrtc::SessionDescriptionInterface* desc) override { done_(desc); }
  void OnFailure(webrtc::RTCError error) override {
    std::fprintf(stderr, "create sdp failed: %s\n", error.message());
    done_(nullptr);
  }

 private:
  std::function<void(webrtc::SessionDescriptionInterface*)> done_;
};

class SetLocalObserver : public webrtc::SetLocalDescriptionObserverInterface {
 public:
  explicit SetLocalObserver(std::function<void()> done) : done_(std::move(done)) {}
  void OnSetLocalDescriptionComplete(webrtc::RTCError) override { done_(); }

 private:
  std::function<void()> done_;
};

class SetRemoteObserver : public webrtc::SetRemoteDescriptionObserverInterface {
 public:
  explicit SetRemoteObserver(std::function<void()> done) : done_(std::move(done)) {}
  void OnSetRemoteDescriptionComplete(webrtc::RTCError) override { done_(); }

 private:
  std::function<void()> done_;
};

struct Call {
  Driver driver;
  Peer caller, callee;
  ~Call() {
    // Close before the observers they point at go away.
    if (caller.channel) caller.channel.reset();
    if (callee.channel) callee.channel.reset();
    if (caller.pc) caller.pc->Close();
    if (callee.pc) callee.pc->Close();
    // Queued hops only touch closed connections now, which reject them harmlessly.
    driver.Stop();
    caller.pc = nullptr;
    callee.pc = nullptr;
  }
};

webrtc::PeerConnectionInterface::RTCConfiguration HostOnlyConfig() {
  webrtc::PeerConnectionInterface::RTCConfiguration config;
  config.sdp_semantics = webrtc::SdpSemantics::kUnifiedPlan;
  return config;
}

// Sets up a call between two factories up to both data channel ends open.
// Returns the elapsed milliseconds from createOffer, or a negative value on failure.
double Connect(Factory& a, Factory& b, Call& call) {
  call.caller.other = &call.callee;
  call.callee.other = &call.caller;
  call.caller.driver = &call.driver;
  call.callee.driver = &call.driver;
  Driver* driver = &call.driver;
  auto pc1 = a.pcf->CreatePeerConnectionOrError(
      HostOnlyConfig(), webrtc::PeerConnectionDependencies(&call.caller));
  auto pc2 = b.pcf->CreatePeerConnectionOrError(
      HostOnlyConfig(), webrtc::PeerConnectionDependencies(&call.callee));
  if (!pc1.ok() || !pc2.ok()) return -1;
  call.caller.pc = pc1.MoveValue();
  call.callee.pc = pc2.MoveValue();
  webrtc::DataChannelInit init;
  auto dc = call.caller.pc->CreateDataChannelOrError("bench", &init);
  if (!dc.ok()) return -1;
  call.caller.channel = std::make_unique<ChannelObserver>(dc.MoveValue());

  Peer* caller = &call.caller;
  Peer* callee = &call.callee;
  auto start = Clock::now();
  // Each hop to the other peer is posted to the driver, like a signaling message.
  caller->pc->CreateOffer(
      rtcx::make_ref_counted<CreateSdpObserver>([=](webrtc::SessionDescriptionInterface* offer) {
        if (!offer) return caller->failed.Set();
        std::string sdp;
        offer->ToString(&sdp);
        caller->pc->SetLocalDescription(
            std::unique_ptr<webrtc::SessionDescriptionInterface>(offer),
            rtcx::make_ref_counted<SetLocalObserver>([] {}));
        driver->Post([=] {
          callee->pc->SetRemoteDescription(
              webrtc::CreateSessionDescription(webrtc::SdpType::kOffer, sdp),
              rtcx::make_ref_counted<SetRemoteObserver>([=] {
                driver->Post([=] { callee->RemoteDescriptionSet(); });
                callee->pc->CreateAnswer(
                    rtcx::make_ref_counted<CreateSdpObserver>(
                        [=](webrtc::SessionDescriptionInterface* answer) {
                          if (!answer) return callee->failed.Set();
                          std::string sdp;
                          answer->ToString(&sdp);
                          callee->pc->SetLocalDescription(
                              std::unique_ptr<webrtc::SessionDescriptionInterface>(answer),
                              rtcx::make_ref_counted<SetLocalObserver>([] {}));
                          driver->Post([=] {
                            caller->pc->SetRemoteDescription(
                                webrtc::CreateSessionDescription(webrtc::SdpType::kAnswer, sdp),
                                rtcx::make_ref_counted<SetRemoteObserver>([=] {
                                  driver->Post([=] { caller->RemoteDescriptionSet(); });
                                }));
                          });
                        })
                        .get(),
                    webrtc::PeerConnectionInterface::RTCOfferAnswerOptions());
              }));
        });
      }).get(),
      webrtc::PeerConnectionInterface::RTCOfferAnswerOptions());

  // Setup ends when the caller's channel opens (what an app waits for before sending);
  // the callee's end must open too before the call is usable for the transfer tests.
  const auto timeout = std::chrono::seconds(20);
  if (!call.caller.channel->open.Wait(timeout)) return -1;
  double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  if (!call.callee.got_channel.Wait(timeout) || !call.callee.channel->open.Wait(timeout))
    return -1;
  return ms;
}

long ReadRssKib() {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  long kib = -1;
  while (std::fgets(line, sizeof line, f)) {
    if (std::sscanf(line, "VmRSS: %ld kB", &kib) == 1) break;
  }
  std::fclose(f);
  return kib;
}

}  // namespace

extern "C" {

// Setup time of `iterations` calls (createOffer → the caller's data channel open), in ms,
// written to `out_ms`. Returns the number of successful iterations.
int mrtc_bench_cpp_setup(int iterations, double* out_ms) {
  rtcx::LogMessage::LogToDebug(rtcx::LS_NONE);
  rtcx::InitializeSSL();
  Factory a, b;
  {
    // Warm-up, as on the Rust side: the first call pays for lazy initialisation.
    Call call;
    Connect(a, b, call);
  }
  int ok = 0;
  for (int i = 0; i < iterations; ++i) {
    Call call;
    double ms = Connect(a, b, call);
    if (ms < 0) continue;
    out_ms[ok++] = ms;
  }
  return ok;
}

// Sends `count` messages of `size` bytes caller → callee over a reliable ordered channel,
// keeping at most `max_buffered` bytes queued; returns seconds from first send to last
// receipt, or a negative value on failure.
double mrtc_bench_cpp_transfer(uint64_t count, uint64_t size, uint64_t max_buffered) {
  rtcx::InitializeSSL();
  Factory a, b;
  Call call;
  if (Connect(a, b, call) < 0) return -1;
  call.callee.channel->expected_messages = count;
  std::vector<uint8_t> payload(size, 0x5a);
  auto start = Clock::now();
  // Same pacing as mobilertc::testing::send_paced: `bound` over-estimates what is buffered
  // (last queried amount plus what was sent since), so the proxied buffered_amount() hop
  // is only taken near the high-water mark.
  auto* sender = call.caller.channel.get();
  uint64_t bound = sender->dc_->buffered_amount();
  for (uint64_t i = 0; i < count; ++i) {
    if (bound + size > max_buffered) {
      sender->WaitBufferedBelow(max_buffered - size);
      bound = sender->dc_->buffered_amount();
    }
    rtcx::CopyOnWriteBuffer data(payload.data(), payload.size());
    if (!sender->dc_->Send(webrtc::DataBuffer(data, true))) return -1;
    bound += size;
  }
  if (!call.callee.channel->all_received.Wait(std::chrono::seconds(120))) return -1;
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Resident memory added by `count` idle peer connections (created, nothing negotiated),
// in KiB per connection; negative on failure.
double mrtc_bench_cpp_idle_peer_kib(int count) {
  rtcx::InitializeSSL();
  Factory a;
  struct Idle : webrtc::PeerConnectionObserver {
    void OnSignalingChange(webrtc::PeerConnectionInterface::SignalingState) override {}
    void OnDataChannel(rtcx::scoped_refptr<webrtc::DataChannelInterface>) override {}
    void OnIceGatheringChange(webrtc::PeerConnectionInterface::IceGatheringState) override {}
    void OnIceCandidate(const webrtc::IceCandidateInterface*) override {}
  };
  std::vector<std::unique_ptr<Idle>> observers;
  std::vector<rtcx::scoped_refptr<webrtc::PeerConnectionInterface>> pcs;
  long before = ReadRssKib();
  for (int i = 0; i < count; ++i) {
    observers.push_back(std::make_unique<Idle>());
    auto pc = a.pcf->CreatePeerConnectionOrError(
        HostOnlyConfig(), webrtc::PeerConnectionDependencies(observers.back().get()));
    if (!pc.ok()) return -1;
    pcs.push_back(pc.MoveValue());
  }
  long after = ReadRssKib();
  for (auto& pc : pcs) pc->Close();
  pcs.clear();
  return double(after - before) / count;
}

}  // extern "C"

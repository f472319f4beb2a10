// The shim's own audio device module: a real-time 10 ms clock that feeds WebRTC the app's
// capture PCM (AudioBridge) and hands the mixed playout back to the app.
//
// Why not libwebrtc's TestAudioDeviceModule: it is test-only (modules/audio_device's
// test_audio_device.h), upstream's `webrtc` target does not link it (M150's libwebrtc.a has
// no TestAudioDeviceModule symbol), and its Capturer/Renderer interfaces change between
// milestones. AudioDeviceModule and AudioTransport are public API and have been stable from
// M110 to M150 (GetStats() is the one addition, with a default).
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <thread>
#include <vector>

#include "mrtc_internal.h"

namespace mrtc {
namespace {

using webrtc::AudioDeviceModule;

class BridgeAudioDevice : public AudioDeviceModule {
 public:
  explicit BridgeAudioDevice(std::shared_ptr<AudioBridge> bridge) : bridge_(std::move(bridge)) {}
  ~BridgeAudioDevice() override { StopClock(); }

  int32_t ActiveAudioLayer(AudioLayer* layer) const override {
    if (layer) *layer = kDummyAudio;
    return 0;
  }
  // Waits for a running tick: once this returns, the old transport is not called again.
  int32_t RegisterAudioCallback(webrtc::AudioTransport* transport) override {
    std::lock_guard<std::mutex> lock(transport_mu_);
    transport_ = transport;
    return 0;
  }
  int32_t Init() override {
    std::lock_guard<std::mutex> lock(mu_);
    initialized_ = true;
    return 0;
  }
  int32_t Terminate() override {
    StopClock();
    std::lock_guard<std::mutex> lock(mu_);
    initialized_ = recording_ = playing_ = false;
    rec_init_ = play_init_ = false;
    return 0;
  }
  bool Initialized() const override { return Get(initialized_); }

  // One device each way: the app.
  int16_t PlayoutDevices() override { return 1; }
  int16_t RecordingDevices() override { return 1; }
  int32_t PlayoutDeviceName(uint16_t index, char name[webrtc::kAdmMaxDeviceNameSize],
                            char guid[webrtc::kAdmMaxGuidSize]) override {
    return DeviceName(index, "mobilertc playout", name, guid);
  }
  int32_t RecordingDeviceName(uint16_t index, char name[webrtc::kAdmMaxDeviceNameSize],
                              char guid[webrtc::kAdmMaxGuidSize]) override {
    return DeviceName(index, "mobilertc capture", name, guid);
  }
  int32_t SetPlayoutDevice(uint16_t index) override { return index == 0 ? 0 : -1; }
  int32_t SetPlayoutDevice(WindowsDeviceType) override { return 0; }
  int32_t SetRecordingDevice(uint16_t index) override { return index == 0 ? 0 : -1; }
  int32_t SetRecordingDevice(WindowsDeviceType) override { return 0; }

  int32_t PlayoutIsAvailable(bool* available) override { return Yes(available); }
  int32_t InitPlayout() override { return Set(play_init_, true); }
  bool PlayoutIsInitialized() const override { return Get(play_init_); }
  int32_t RecordingIsAvailable(bool* available) override { return Yes(available); }
  int32_t InitRecording() override { return Set(rec_init_, true); }
  bool RecordingIsInitialized() const override { return Get(rec_init_); }

  int32_t StartPlayout() override {
    Set(playing_, true);
    StartClock();
    return 0;
  }
  int32_t StopPlayout() override { return Set(playing_, false); }
  bool Playing() const override { return Get(playing_); }
  int32_t StartRecording() override {
    Set(recording_, true);
    StartClock();
    return 0;
  }
  int32_t StopRecording() override { return Set(recording_, false); }
  bool Recording() const override { return Get(recording_); }

  int32_t InitSpeaker() override { return 0; }
  bool SpeakerIsInitialized() const override { return true; }
  int32_t InitMicrophone() override { return 0; }
  bool MicrophoneIsInitialized() const override { return true; }

  // No hardware volume or mute: muting is the track's enabled flag.
  int32_t SpeakerVolumeIsAvailable(bool* available) override { return No(available); }
  int32_t SetSpeakerVolume(uint32_t) override { return -1; }
  int32_t SpeakerVolume(uint32_t*) const override { return -1; }
  int32_t MaxSpeakerVolume(uint32_t*) const override { return -1; }
  int32_t MinSpeakerVolume(uint32_t*) const override { return -1; }
  int32_t MicrophoneVolumeIsAvailable(bool* available) override { return No(available); }
  int32_t SetMicrophoneVolume(uint32_t) override { return -1; }
  int32_t MicrophoneVolume(uint32_t*) const override { return -1; }
  int32_t MaxMicrophoneVolume(uint32_t*) const override { return -1; }
  int32_t MinMicrophoneVolume(uint32_t*) const override { return -1; }
  int32_t SpeakerMuteIsAvailable(bool* available) override { return No(available); }
  int32_t SetSpeakerMute(bool) override { return -1; }
  int32_t SpeakerMute(bool*) const override { return -1; }
  int32_t MicrophoneMuteIsAvailable(bool* available) override { return No(available); }
  int32_t SetMicrophoneMute(bool) override { return -1; }
  int32_t MicrophoneMute(bool*) const override { return -1; }

  // Stereo exactly when the app configured two channels.
  int32_t StereoPlayoutIsAvailable(bool* available) const override {
    if (available) *available = bridge_->channels() == 2;
    return 0;
  }
  int32_t SetStereoPlayout(bool enable) override {
    return enable == (bridge_->channels() == 2) ? 0 : -1;
  }
  int32_t StereoPlayout(bool* enabled) const override {
    return StereoPlayoutIsAvailable(enabled);
  }
  int32_t StereoRecordingIsAvailable(bool* available) const override {
    return StereoPlayoutIsAvailable(available);
  }
  int32_t SetStereoRecording(bool enable) override { return SetStereoPlayout(enable); }
  int32_t StereoRecording(bool* enabled) const override {
    return StereoPlayoutIsAvailable(enabled);
  }

  int32_t PlayoutDelay(uint16_t* delay_ms) const override {
    if (delay_ms) *delay_ms = 0;
    return 0;
  }
  bool BuiltInAECIsAvailable() const override { return false; }
  bool BuiltInAGCIsAvailable() const override { return false; }
  bool BuiltInNSIsAvailable() const override { return false; }
  int32_t EnableBuiltInAEC(bool) override { return -1; }
  int32_t EnableBuiltInAGC(bool) override { return -1; }
  int32_t EnableBuiltInNS(bool) override { return -1; }

 private:
  static int32_t Yes(bool* b) {
    if (b) *b = true;
    return 0;
  }
  static int32_t No(bool* b) {
    if (b) *b = false;
    return 0;
  }
  static int32_t DeviceName(uint16_t index, const char* what, char* name, char* guid) {
    if (index != 0) return -1;
    if (name) snprintf(name, webrtc::kAdmMaxDeviceNameSize, "%s", what);
    if (guid) snprintf(guid, webrtc::kAdmMaxGuidSize, "%s", what);
    return 0;
  }
  bool Get(const bool& flag) const {
    std::lock_guard<std::mutex> lock(mu_);
    return flag;
  }
  int32_t Set(bool& flag, bool value) {
    std::lock_guard<std::mutex> lock(mu_);
    flag = value;
    return 0;
  }

  void StartClock() {
    std::lock_guard<std::mutex> lock(mu_);
    if (clock_.joinable()) return;
    stop_ = false;
    clock_ = std::thread([this] { Run(); });
  }

  void StopClock() {
    std::thread clock;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
      clock.swap(clock_);
    }
    cv_.notify_all();
    if (clock.joinable()) clock.join();
  }

  // Every 10 ms of wall time: one 10 ms capture chunk in, one playout chunk out. The
  // deadline advances by exactly 10 ms so the average rate is real time; after a stall of
  // more than 100 ms the clock restarts from now rather than bursting to catch up.
  void Run() {
    using Clock = std::chrono::steady_clock;
    constexpr auto kTick = std::chrono::milliseconds(10);
    const size_t channels = bridge_->channels();
    const uint32_t rate = bridge_->sample_rate();
    const size_t frames = rate / 100;
    std::vector<int16_t> capture(frames * channels);
    std::vector<int16_t> playout(frames * channels);
    auto next = Clock::now();
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      const bool recording = recording_;
      const bool playing = playing_;
      // The state lock is not held while WebRTC runs: its threads call Stop*/Playing() on
      // the device while waiting for other work. transport_mu_ is: it only orders this
      // tick against RegisterAudioCallback.
      lock.unlock();
      std::unique_lock<std::mutex> transport_lock(transport_mu_);
      webrtc::AudioTransport* transport = transport_;
      if (transport && recording) {
        bridge_->Pull(capture.data(), capture.size());
        uint32_t new_mic_level = 0;
        transport->RecordedDataIsAvailable(capture.data(), frames, sizeof(int16_t) * channels,
                                           channels, rate, 0, 0, 0, false, new_mic_level);
      }
      if (transport && playing) {
        size_t out = 0;
        int64_t elapsed_ms = -1;
        int64_t ntp_ms = -1;
        transport->NeedMorePlayData(frames, sizeof(int16_t) * channels, channels, rate,
                                    playout.data(), out, &elapsed_ms, &ntp_ms);
        if (out > 0) bridge_->Render(playout.data(), std::min(out, frames) * channels);
      }
      transport_lock.unlock();
      next += kTick;
      const auto now = Clock::now();
      if (now - next > 10 * kTick) next = now;
      lock.lock();
      cv_.wait_until(lock, next, [this] { return stop_; });
    }
  }

  const std::shared_ptr<AudioBridge> bridge_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::thread clock_;
  bool stop_ = false;
  std::mutex transport_mu_;
  webrtc::AudioTransport* transport_ = nullptr;  // guarded by transport_mu_
  bool initialized_ = false;
  bool rec_init_ = false;
  bool play_init_ = false;
  bool recording_ = false;
  bool playing_ = false;
};

}  // namespace

rtcx::scoped_refptr<webrtc::AudioDeviceModule> CreateBridgeAudioDevice(
    std::shared_ptr<AudioBridge> bridge) {
  return rtcx::make_ref_counted<BridgeAudioDevice>(std::move(bridge));
}

}  // namespace mrtc

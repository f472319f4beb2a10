// Internal to the shim: what a platform brings to the factory instead of the shim's own
// defaults. Today only Android (shim/android.cc) uses it; nothing here is seen by bindgen.
//
// factory.cc owns factory creation (threads, SSL init, the SRTP keep-alive, the audio
// codecs); a platform only swaps the pieces below. mrtc_factory_create(config, out) is
// CreateFactory(config, FactoryParts{}, out).
#ifndef MOBILERTC_FACTORY_PARTS_H
#define MOBILERTC_FACTORY_PARTS_H

#include <functional>
#include <memory>

#include "mrtc_internal.h"

#include "api/video_codecs/video_decoder_factory.h"
#include "api/video_codecs/video_encoder_factory.h"
#include "rtc_base/network_monitor_factory.h"

namespace mrtc {

struct FactoryParts {
  // Makes the audio device module. Called once, on the factory's worker thread (where the
  // shim's own device is made), instead of the shim's app-fed device; empty: that device,
  // whose push/playout entry points then work (with a platform device they have no effect).
  // A device that needs a webrtc::Environment makes its own (android.cc does).
  std::function<rtcx::scoped_refptr<webrtc::AudioDeviceModule>()> make_adm;
  // Null: the shim's own video codec factories (factory.cc).
  std::unique_ptr<webrtc::VideoEncoderFactory> video_encoder_factory;
  std::unique_ptr<webrtc::VideoDecoderFactory> video_decoder_factory;
  // Null: none (WebRTC then polls the interfaces). With one, network changes (Wi-Fi <->
  // cellular) reach the port allocator: PeerConnectionFactoryDependencies::
  // network_monitor_factory, which needs CreateModularPeerConnectionFactory.
  std::unique_ptr<rtcx::NetworkMonitorFactory> network_monitor_factory;
};

// Defined in factory.cc. Validates `config` as mrtc_factory_create does, then builds the
// factory with `parts` where they are set.
mrtc_status CreateFactory(const mrtc_factory_config* config, FactoryParts parts,
                          mrtc_factory** out);

}  // namespace mrtc

#endif  // MOBILERTC_FACTORY_PARTS_H

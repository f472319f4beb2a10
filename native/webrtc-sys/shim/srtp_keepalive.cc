// One idle SRTP session held for a factory's lifetime, where measured to pay off.
//
// WebRTC initialises libsrtp when its count of SRTP sessions goes 0 -> 1 and shuts it down
// at 1 -> 0; libsrtp's init runs its cipher self-tests, ~65 ms on Debian's libsrtp2 (the
// distro SDK), on the network thread between DTLS and SCTP. Back-to-back calls, and every
// call of an app with one call at a time, paid it on each setup. Keeping one session alive
// keeps the count above zero. It needs pc/srtp_session.h, which is internal to libwebrtc:
// compiled only when build.rs sets MRTC_SRTP_KEEPALIVE (see there for where it is on).
#include "mrtc_internal.h"

#if MRTC_SRTP_KEEPALIVE
#include "pc/srtp_session.h"

namespace mrtc {

std::shared_ptr<void> StartSrtpKeepalive(rtcx::Thread* network) {
  std::shared_ptr<void> kept;
  network->BlockingCall([&] {
    static const uint8_t kKey[30] = {1};  // AES_CM_128_HMAC_SHA1_80 key + salt; never used
    auto session = std::make_shared<cricketx::SrtpSession>();
    // SetSend(suite, const uint8_t*, size_t, ids) became SetSend(suite, ZeroOnFreeBuffer,
    // ids) upstream: the buffer overload landed on main 2024-09-19 ("srtp: spanify key
    // setters", #43055, after the M130 branch point) and the pointer one was removed
    // 2024-11-13 (#43397, after M132's), so M131 and M132 have both.
#if MRTC_WEBRTC_MILESTONE >= 131
    if (session->SetSend(rtcx::kSrtpAes128CmSha1_80,
                         rtcx::ZeroOnFreeBuffer<uint8_t>(kKey, sizeof(kKey)), {})) {
#else
    if (session->SetSend(rtcx::kSrtpAes128CmSha1_80, kKey, sizeof(kKey), {})) {
#endif
      kept = std::move(session);
    }
  });
  return kept;
}

}  // namespace mrtc
#endif  // MRTC_SRTP_KEEPALIVE

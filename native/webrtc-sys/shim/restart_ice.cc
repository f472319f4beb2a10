// ICE restart (all platforms): new ICE credentials on the next offer, so a call survives a
// change of network (Wi-Fi <-> cellular) instead of dying with the old candidate pairs.
#include "mrtc_internal.h"
#include "peer_internal.h"

extern "C" mrtc_status mrtc_peer_restart_ice(mrtc_peer* peer) {
  return mrtc::Guard(MRTC_ERR_INTERNAL, [&]() -> mrtc_status {
    if (!peer) return MRTC_ERR_INVALID_ARGUMENT;
    auto pc = peer->shared->Pc();
    if (!pc || peer->shared->closed) return MRTC_ERR_CLOSED;
    // Marks every transport for restart and fires OnRenegotiationNeeded
    // (MRTC_EVENT_RENEGOTIATION_NEEDED): the app's next offer carries new ufrag/pwd.
    pc->RestartIce();
    return MRTC_OK;
  });
}

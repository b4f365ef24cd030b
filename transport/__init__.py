"""Transports: how a party's audio and events reach a call, between api/ (HTTP) and pipeline/ (the call).

A transport moves PCM16 audio both ways and JSON events both ways for one party; it never decides
anything about the call. ``transport.webrtc.RtcPeer`` is a browser over WebRTC (the web caller page,
later the agents' console softphone). It may import core/ and pipeline/, never api/.
"""

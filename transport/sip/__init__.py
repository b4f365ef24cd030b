"""Phone calls over SIP: a user agent server that answers a PBX, SIP trunk or SBC (server.py), each
call a caller leg of a call session (call.py), with SIP messages (message.py), SDP offer/answer
(sdp.py) and RTP with keypad digits (rtp.py) written here: see docs/telephony.md for why."""

from transport.sip.server import SipConfig, SipServer

__all__ = ["SipConfig", "SipServer"]

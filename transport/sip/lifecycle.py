"""Starting the SIP endpoint from the service's settings (serve.py's lifespan)."""

from __future__ import annotations

from pipeline.runtime import Runtime
from transport.sip.server import SipConfig, SipServer


def sip_config(runtime: Runtime) -> SipConfig:
    s = runtime.settings
    return SipConfig(
        listen=s.sip_listen,
        port=s.sip_port,
        advertised_address=s.sip_advertised_address,
        rtp_port_min=s.sip_rtp_port_min,
        rtp_port_max=s.sip_rtp_port_max,
        greeting_language=s.greeting_language,
        transfers=list(s.sip_transfers),
        allowed_peers=list(s.sip_allowed_peers),
    )


async def start_sip(runtime: Runtime) -> SipServer | None:
    """The running SIP endpoint, or None when TRIAGE_SIP_ENABLED is false."""
    if not runtime.settings.sip_enabled:
        return None
    server = SipServer(sip_config(runtime), runtime.services_for_new_call)
    await server.start()
    return server

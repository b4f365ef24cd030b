from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

router = APIRouter(tags=["health"])


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def prometheus_metrics() -> Response:
    """Calls, handoffs by urgency, decisions by action, barge-ins, and latency histograms."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

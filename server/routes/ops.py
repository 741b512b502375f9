"""GET /health (process up), /ready (model loaded, accepting), /metrics (Prometheus)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ..state import ServerState, get_state

router = APIRouter()


@router.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready")
async def ready(state: Annotated[ServerState, Depends(get_state)]) -> JSONResponse:
    scheduler = state.scheduler
    body = {
        "ready": state.ready,
        "model": state.settings.model_id,
        # Where the weights came from: the embedded default is model/default/.
        "model_path": str(getattr(state.model, "path", "") or ""),
        "open_sessions": scheduler.slots_in_use if scheduler else 0,
        "max_sessions": state.settings.max_sessions,
        "draining": state.draining.is_set(),
    }
    if state.load_error:
        body["error"] = state.load_error
    return JSONResponse(body, status_code=200 if state.ready else 503)


@router.get("/metrics")
async def metrics(state: Annotated[ServerState, Depends(get_state)]) -> Response:
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)

"""GET / : the browser page from clients/web/ (when that directory exists); /static its files."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

PLACEHOLDER = """<!doctype html><html><head><title>streamscribe</title></head><body>
<h1>streamscribe</h1><p>Streaming speech recognition server. WebSocket endpoints:
<code>/v1/audio/transcriptions/realtime</code> (Mistral) and <code>/v1/realtime</code> (vLLM);
HTTP: <code>POST /v1/audio/transcriptions</code>, <code>/health</code>, <code>/ready</code>,
<code>/metrics</code>.</p></body></html>"""


def mount_web(app: FastAPI, web_dir: Path) -> None:
    router = APIRouter()
    index = web_dir / "index.html"

    @router.get("/", include_in_schema=False, response_model=None)
    async def root() -> FileResponse | HTMLResponse:
        if index.is_file():
            return FileResponse(index, media_type="text/html")
        return HTMLResponse(PLACEHOLDER)

    app.include_router(router)
    # check_dir=False: the page may be installed after the server starts
    app.mount("/static", StaticFiles(directory=web_dir, check_dir=False), name="static")

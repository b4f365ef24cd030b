"""The agent console at /console/ and the web caller page at /call/: static pages (HTML, JS, CSS; no
build step, no CDN)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent / "static"
CALL_PAGE_DIR = Path(__file__).resolve().parent / "static_call"

router = APIRouter(include_in_schema=False)


@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse("/console/")


def mount_console(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/console", StaticFiles(directory=STATIC_DIR, html=True), name="console")
    app.mount("/call", StaticFiles(directory=CALL_PAGE_DIR, html=True), name="call")

"""The agent console: a static page (HTML, JS, CSS; no build step, no CDN) served at /console/."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent / "static"

router = APIRouter(include_in_schema=False)


@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse("/console/")


def mount_console(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/console", StaticFiles(directory=STATIC_DIR, html=True), name="console")

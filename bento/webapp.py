"""The web page, mounted on the service at ``/ui`` (same process, same models).

Plain HTML + JS + SVG from ``bento/web/`` (no build step). The page calls the service's JSON
API (``/recommend``, ``/recommend_text``, ``/recommend_image``, ``/analyze_hrv``,
``/feedback``, ``/models``); this app adds only what a browser needs besides:

* ``GET /ui/``                       the page;
* ``GET /ui/static/<file>``          its script and style;
* ``GET /ui/api/catalog``            the catalog's tracks to choose from (``q``, ``offset``, ``limit``);
* ``GET /ui/api/limits``             the input limits, so the page checks them before uploading;
* ``GET /ui/audio/<track_id>``       a catalog track's audio, looked up **by id** in the catalog
  (the file path comes from the catalog on the server, never from the request); HTTP range
  requests are answered (206), so a long track starts at once and seeks;
* ``GET /ui/licence/<package>``      the copyright file of a Debian package the catalog's tracks
  come from (looked up in the catalog, never a path from the request).
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

WEB_DIR = Path(__file__).resolve().parent / "web"
AUDIO_TYPES = {
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".ogg": "audio/ogg",
    ".opus": "audio/ogg",
    ".flac": "audio/flac",
}


def _service():
    import bentoml

    return bentoml.get_current_service()


def _holder_or_503():
    try:
        return _service().holder.current, None
    except Exception as exc:  # not started, or models still loading
        return None, JSONResponse({"error": f"the service is not ready: {exc}"}, status_code=503)


async def index(request: Request) -> Response:
    return FileResponse(
        WEB_DIR / "index.html", media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-cache"}
    )


async def catalog(request: Request) -> Response:
    ms, error = _holder_or_503()
    if error:
        return error
    try:
        offset = max(0, int(request.query_params.get("offset", 0)))
        limit = min(1000, max(1, int(request.query_params.get("limit", 500))))
    except ValueError:
        return JSONResponse({"error": "offset and limit must be whole numbers"}, status_code=422)
    rows = ms.catalog.search(request.query_params.get("q", ""))
    return JSONResponse(
        {
            "total": len(rows),
            "offset": offset,
            "tracks": rows[offset : offset + limit],
            "built_from": ms.catalog.model_versions,
        }
    )


async def limits(request: Request) -> Response:
    s = _service().settings
    lim = s.service
    return JSONResponse(
        {
            "max_file_bytes": lim.max_file_bytes,
            "max_files": lim.max_files,
            "max_playlist": lim.max_playlist,
            "max_k": lim.max_k,
            "default_k": lim.default_k,
            "max_text_chars": lim.max_text_chars,
            "max_hrv_bytes": lim.max_hrv_bytes,
            "max_image_bytes": min(lim.max_file_bytes, s.image.max_bytes),
        }
    )


async def audio(request: Request) -> Response:
    ms, error = _holder_or_503()
    if error:
        return error
    track_id = request.path_params["track_id"]
    if track_id not in ms.catalog:
        return JSONResponse({"error": f"{track_id!r} is not a catalog track"}, status_code=404)
    path = ms.catalog.audio_path(track_id)
    if path is None:
        return JSONResponse({"error": f"the audio of {track_id!r} is not on this server"}, status_code=404)
    media = (
        AUDIO_TYPES.get(path.suffix.lower())
        or mimetypes.guess_type(path.name)[0]
        or "application/octet-stream"
    )
    return FileResponse(path, media_type=media)


async def licence(request: Request) -> Response:
    ms, error = _holder_or_503()
    if error:
        return error
    package = request.path_params["package"]
    path = ms.catalog.licence_path(package)
    if path is None:
        return JSONResponse({"error": f"no catalog track comes from a package {package!r}"}, status_code=404)
    return PlainTextResponse(path.read_text(encoding="utf-8", errors="replace"))


def create_app() -> Starlette:
    return Starlette(
        routes=[
            Route("/", index),
            Route("/api/catalog", catalog),
            Route("/api/limits", limits),
            Route("/audio/{track_id:path}", audio),
            Route("/licence/{package:str}", licence),
            Mount("/static", app=StaticFiles(directory=WEB_DIR / "static"), name="static"),
        ]
    )


app = create_app()

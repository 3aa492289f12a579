"""The baselines for throughput.py: the fake's two routes answering fixed JSON.

Deliberately plain (Starlette routes, no middleware, no body parsing, no auth) so that fake/bare
measures what the fake's own work costs on top of the framework and server. ``app`` serialises a
dict per request (Starlette's JSONResponse); ``preserialised`` answers bytes made once, the
cheapest honest Starlette answer.

Run: python -m uvicorn bare_app:app --app-dir benchmarks   (or bare_app:preserialised).
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

_TASK_ID = "3c90c3cc-0d44-4b50-8888-8dd25736052a"
_STAMP = "2026-09-21T08:23:12.657134+00:00"


def _envelope(status: str) -> dict[str, dict[str, str]]:
    return {
        "task_info": {
            "id": _TASK_ID,
            "status": status,
            "created_at": _STAMP,
            "updated_at": _STAMP,
        }
    }


async def create(request: Request) -> JSONResponse:
    return JSONResponse(_envelope("pending"), status_code=202)


async def get_task(request: Request) -> JSONResponse:
    return JSONResponse(_envelope("succeeded"))


app = Starlette(
    routes=[
        Route("/vendors/alibaba/v1/wan2.6-i2v/generation", create, methods=["POST"]),
        Route("/vendors/alibaba/v1/wan2.6-i2v/generation/{task_id}", get_task, methods=["GET"]),
    ]
)


_PENDING = JSONResponse(_envelope("pending")).body
_SUCCEEDED = JSONResponse(_envelope("succeeded")).body


async def create_fixed(request: Request) -> Response:
    return Response(_PENDING, status_code=202, media_type="application/json")


async def get_task_fixed(request: Request) -> Response:
    return Response(_SUCCEEDED, media_type="application/json")


preserialised = Starlette(
    routes=[
        Route("/vendors/alibaba/v1/wan2.6-i2v/generation", create_fixed, methods=["POST"]),
        Route(
            "/vendors/alibaba/v1/wan2.6-i2v/generation/{task_id}", get_task_fixed, methods=["GET"]
        ),
    ]
)

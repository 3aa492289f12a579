"""Webhooks through the pytest fixtures and the ``Control`` client: in process to an ASGI app or
an httpx transport the test names, served over real HTTP to a loopback receiver, and the public
``mockserver.webhooks.verify``."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest
import respx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mockserver import webhooks
from mockserver.control import ControlError
from mockserver.testing.api import WanMock
from tests.doc_blocks import doc_block
from tests.helpers import body
from tests.webhook_receiver import receiver

KEY = {"Authorization": "Bearer plugin-key"}


def receiving_app(secret_box: list[str], seen: list[dict[str, object]]) -> Starlette:
    """A receiver as an app would write one: verify, then process (a 400 when it fails)."""

    async def hook(request: Request) -> Response:
        raw = await request.body()
        try:
            event = webhooks.verify(
                secret_box[0],
                dict(request.headers),
                raw,
                now=int(request.headers["x-mulerouter-webhook-timestamp"]),
            )
        except webhooks.WebhookVerificationError as exc:
            return Response(str(exc), 400)
        seen.append(event)
        return Response(status_code=204)

    return Starlette(routes=[Route("/hook", hook, methods=["POST"])])


def create(wan: WanMock, **fields: object) -> str:
    answer = httpx.post(wan.api_url, json=body(**fields), headers=KEY)
    assert answer.status_code == 202, answer.text
    return str(answer.json()["task_info"]["id"])


def test_in_process_deliveries_go_to_the_asgi_app_the_test_names(wan_mock: WanMock) -> None:
    secret: list[str] = []
    seen: list[dict[str, object]] = []
    made = wan_mock.webhooks.add("https://app.test/hook", app=receiving_app(secret, seen))
    secret.append(made.secret)
    task_id = create(wan_mock)
    assert seen == []  # a virtual clock: nothing is sent until the test moves it
    wan_mock.advance(60)
    assert [e["type"] for e in seen] == ["task.created", "task.succeeded"]
    assert [a.status for a in wan_mock.webhooks.delivered()] == [204, 204]
    assert all(a.task_id == task_id for a in wan_mock.webhooks.attempts)


def test_in_process_deliveries_through_an_httpx_transport(wan_mock: WanMock) -> None:
    bodies: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        return httpx.Response(500 if len(bodies) == 1 else 200)

    wan_mock.webhooks.add(
        "https://other.test/in", ["task.created"], app=httpx.MockTransport(handler)
    )
    create(wan_mock)
    assert wan_mock.webhooks.deliver_due() == 1
    wan_mock.advance(5)  # the first retry is due 5 s after a refusal
    assert [a.outcome for a in wan_mock.webhooks.attempts] == ["retry", "delivered"]
    assert json.loads(bodies[0])["id"] == json.loads(bodies[1])["id"]


def test_the_served_fixture_delivers_over_http_to_loopback(wan_server: WanMock) -> None:
    with receiver() as hook:
        hook.secret = wan_server.webhooks.add(hook.url).secret
        task_id = create(wan_server)
        wan_server.advance(60)
        events = hook.events()
    assert [e["type"] for e in events] == ["task.created", "task.succeeded"]
    assert events[1]["data"]["payload"]["task_info"]["id"] == task_id
    with pytest.raises(RuntimeError, match="in-process"):
        wan_server.webhooks.route("https://app.test", receiving_app([], []))


def test_the_control_client_lists_masked_and_deletes(wan_mock: WanMock) -> None:
    control = wan_mock.control
    made = control.add_webhook("https://app.test/a", ["task.failed"], description="alerts")
    assert made.secret.startswith("whsec_")
    (listed,) = control.webhooks()
    assert listed.id == made.id
    assert listed.secret != made.secret  # shown once, at creation
    assert (listed.events, listed.description) == (["task.failed"], "alerts")
    control.delete_webhook(made.id)
    assert control.webhooks() == []
    with pytest.raises(ControlError) as missing:
        control.delete_webhook(made.id)
    assert missing.value.status == 404
    with pytest.raises(ControlError) as bad:
        control.add_webhook("https://app.test/a", ["task.running"])
    assert bad.value.status == 400
    assert bad.value.body["field"] == "events"


def test_verify_uses_the_wall_clock_unless_told(wan_mock: WanMock) -> None:
    seen: list[httpx.Request] = []

    def keep(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    wan_mock.webhooks.add(
        "https://app.test/hook",
        ["task.created"],
        secret="whsec_fixed-secret",
        app=httpx.MockTransport(keep),
    )
    create(wan_mock)
    wan_mock.webhooks.deliver_due()
    (request,) = seen
    headers = dict(request.headers)
    # The fixture's clock is virtual (2026-01-01): by the wall clock the delivery is stale.
    with pytest.raises(webhooks.StaleTimestamp):
        webhooks.verify("whsec_fixed-secret", headers, request.content)
    event = webhooks.verify("whsec_fixed-secret", headers, request.content, now=wan_mock.now().unix)
    assert event["type"] == "task.created"


def test_the_docs_verify_example_runs() -> None:
    script = doc_block("example: webhook-verify")
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    first, second = done.stdout.splitlines()
    assert first == "task.created"
    assert second.startswith("refused: timestamp 1767225600")


def test_in_process_deliveries_reach_a_url_the_test_routes_with_respx(wan_mock: WanMock) -> None:
    with respx.mock(assert_all_called=False) as router:
        hook = router.post("https://app.test/respx-hook").respond(204)
        wan_mock.webhooks.add("https://app.test/respx-hook", ["task.created"])
        create(wan_mock)
        wan_mock.webhooks.deliver_due()
    assert hook.call_count == 1
    assert [a.status for a in wan_mock.webhooks.attempts] == [204]
    # A host nobody routes is still refused, with wan-mock's message.
    wan_mock.webhooks.add("https://nobody.test/hook", ["task.created"])
    create(wan_mock)
    wan_mock.webhooks.deliver_due()
    assert "was not sent" in str(wan_mock.webhooks.attempts[-1].error)

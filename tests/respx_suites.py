"""Inner suites for ``wan_mock`` beside respx: the test's own routers started before, after and
inside the fake's, in every way respx offers, with sync and async clients; and the same under
pytest-asyncio (strict and auto). Each test of an inner suite is expected to pass."""

from __future__ import annotations

# Shared by both suites: one client call per kind (``send``), the user's routes, and one check
# of the three kinds of request: the fake's host, a host the user's route matches, and a host
# nothing matches.
HELPERS = r"""
import asyncio

import httpx
import pytest
import respx

from conftest import API_PATH, AUTH, BODY, REAL, record
from mockserver.testing.router import UnmockedRequest

STORAGE = "https://storage.example.org/bucket/cat.mp4"
NOWHERE = "https://nowhere.example.net/ping"
HOSTS = "api.mulerouter.ai, api.mulerun.com"


def sync_send(method, url, **kwargs):
    with httpx.Client() as client:
        return client.request(method, url, **kwargs)


def async_send(method, url, **kwargs):
    async def main():
        async with httpx.AsyncClient() as client:
            return await client.request(method, url, **kwargs)

    return asyncio.run(main())


@pytest.fixture(params=["sync", "async"])
def send(request):
    return sync_send if request.param == "sync" else async_send


def user_routes(router, prefix=STORAGE):
    return router.put(prefix).respond(201, json={"stored": True})


def fake_answers(send, fake):
    created = send("POST", REAL + API_PATH, json=BODY, headers=AUTH)
    assert created.status_code == 202, created.text
    task_id = created.json()["task_info"]["id"]
    fake.succeed(task_id)
    task = send("GET", f"{REAL}{API_PATH}/{task_id}", headers=AUTH)
    assert task.json()["task_info"]["status"] == "succeeded"
    assert [call.status for call in fake.calls] == [202, 200]


def user_route_answers(send, route):
    stored = send("PUT", STORAGE, content=b"video")
    assert (stored.status_code, stored.json()) == (201, {"stored": True})
    assert route.call_count == 1


def unmatched_is_refused(send):
    with pytest.raises(UnmockedRequest) as caught:
        send("GET", NOWHERE)
    message = str(caught.value)
    assert f"GET {NOWHERE} was not sent" in message and HOSTS in message


def check(send, fake, route, unmatched=unmatched_is_refused):
    fake_answers(send, fake)
    user_route_answers(send, route)
    unmatched(send)
"""

INTEROP_SUITE = (
    HELPERS
    + r"""

def test_records_the_respx_version():
    record("respx_version", respx.__version__)


# Routers started before the fake (fixtures requested before wan_mock).


@pytest.fixture
def strict_router():
    with respx.mock() as router:
        yield router


@pytest.fixture
def lenient_router():
    with respx.mock(assert_all_mocked=False, assert_all_called=False) as router:
        yield router


@pytest.fixture
def started_router():
    router = respx.MockRouter(assert_all_called=False)
    router.start()
    yield router
    router.stop()


def test_strict_router_first(strict_router, wan_mock, send):
    check(send, wan_mock, user_routes(strict_router))


def test_lenient_router_first_does_not_answer_the_fake(lenient_router, wan_mock, send):
    def answered_by_the_lenient_router(send):
        answer = send("GET", NOWHERE)
        assert (answer.status_code, answer.content) == (200, b"")

    check(send, wan_mock, user_routes(lenient_router), answered_by_the_lenient_router)


def test_mock_router_started_first(started_router, wan_mock, send):
    check(send, wan_mock, user_routes(started_router))


def test_respx_mock_fixture_first(respx_mock, wan_mock, send):
    check(send, wan_mock, user_routes(respx_mock))


# Routers started after the fake.


def test_strict_router_after(wan_mock, strict_router, send):
    check(send, wan_mock, user_routes(strict_router))


def test_lenient_router_after(wan_mock, lenient_router, send):
    route = user_routes(lenient_router)
    fake_answers(send, wan_mock)
    user_route_answers(send, route)
    assert send("GET", NOWHERE).status_code == 200  # the lenient router's rule for the rest


def test_mock_router_started_after(wan_mock, started_router, send):
    check(send, wan_mock, user_routes(started_router))


def test_respx_mock_fixture_after(wan_mock, respx_mock, send):
    check(send, wan_mock, user_routes(respx_mock))


@pytest.mark.respx(base_url="https://storage.example.org/bucket")
def test_respx_marker_base_url(wan_mock, respx_mock, send):
    check(send, wan_mock, user_routes(respx_mock, "/cat.mp4"))


@pytest.mark.respx(base_url="https://storage.example.org/bucket", assert_all_called=False)
def test_respx_marker_base_url_first(respx_mock, wan_mock, send):
    check(send, wan_mock, user_routes(respx_mock, "/cat.mp4"))


# Routers started inside the test: context managers, decorators, nesting.


def test_context_manager_inside(wan_mock, send):
    with respx.mock() as router:
        check(send, wan_mock, user_routes(router))


def test_nested_context_managers(wan_mock, send):
    with respx.mock() as outer:
        route = user_routes(outer)
        with respx.mock() as inner:
            other = inner.get("https://notify.example.org/").respond(204)
            check(send, wan_mock, route)
            assert send("GET", "https://notify.example.org/").status_code == 204
            assert other.called
        # the inner router is gone: its host is refused again, the outer route still answers
        with pytest.raises(UnmockedRequest):
            send("GET", "https://notify.example.org/")
        assert send("PUT", STORAGE).status_code == 201


@respx.mock
def test_global_decorator(wan_mock, send):
    check(send, wan_mock, user_routes(respx))


@respx.mock(assert_all_called=False)
def test_local_decorator(wan_mock, send, respx_mock):
    check(send, wan_mock, user_routes(respx_mock))


def test_router_on_httpx_clients_inside(wan_mock, send):
    def that_routers_rule(send):
        # A router on httpx's clients started after the fake's is asked before wan-mock's
        # fallback: what nothing matches fails with that router's own error.
        with pytest.raises(respx.models.AllMockedAssertionError, match="RESPX: .* not mocked"):
            send("GET", NOWHERE)

    with respx.mock(using="httpx") as router:
        check(send, wan_mock, user_routes(router), that_routers_rule)


@pytest.fixture
def httpx_router():
    with respx.mock(using="httpx") as router:
        yield router


def test_router_on_httpx_clients_first(httpx_router, wan_mock, send):
    check(send, wan_mock, user_routes(httpx_router))


# Pass-through: the test's own, and wan-mock's.


def test_a_pass_through_route_of_the_user_reaches_the_network(wan_mock, other_host, send):
    with respx.mock() as router:
        route = user_routes(router)
        router.get(host="other-host.test").pass_through()
        check(send, wan_mock, route)
        assert send("GET", other_host.url + "/through").status_code == 200
    assert other_host.hits == ["other-host.test/through"]


@pytest.mark.wan_mock(passthrough=True)
def test_passthrough_after_the_user_routes(wan_mock, other_host, send):
    def goes_out(send):
        assert send("GET", other_host.url + "/out").text == "hello from the other host"

    with respx.mock() as router:
        check(send, wan_mock, user_routes(router), goes_out)
    assert other_host.hits == ["other-host.test/out"]


@pytest.mark.wan_mock(passthrough=True)
def test_passthrough_with_a_strict_router_first(strict_router, wan_mock, other_host, send):
    check(send, wan_mock, user_routes(strict_router), lambda send: send("GET", other_host.url))
    assert other_host.hits == ["other-host.test/"]


def test_loopback_beside_a_strict_router(strict_router, wan_mock, other_host, send):
    with respx.mock():
        assert send("GET", other_host.loopback_url + "/local").status_code == 200
    assert len(other_host.hits) == 1


def test_nothing_is_sent_for_a_refused_request(wan_mock, other_host, send):
    with respx.mock(assert_all_called=False) as router:
        user_routes(router, "https://storage.example.org/other")
        with pytest.raises(UnmockedRequest, match="other-host.test/x was not sent"):
            send("GET", other_host.url + "/x")
    assert other_host.hits == []


# The app builds its own client on an httpx.MockTransport.


def test_an_app_mock_transport_client(wan_mock, send):
    def stub(request):
        return httpx.Response(299, text="the app's own stub")

    with httpx.Client(transport=httpx.MockTransport(stub)) as client:
        created = client.post(REAL + API_PATH, json=BODY, headers=AUTH)
        assert created.status_code == 202  # the fake's host is the fake's, transport or not
        assert client.get("https://storage.example.org/").status_code == 299


def test_a_client_on_the_fake_transport(wan_fake):
    with httpx.Client(transport=wan_fake.transport, base_url="http://anything") as client:
        created = client.post(API_PATH, json=BODY, headers=AUTH)
    assert created.status_code == 202
    wan_fake.assert_task_created(prompt=BODY["prompt"])


def test_a_mock_transport_on_the_side_effect(wan_fake, send):
    async def main():
        transport = httpx.MockTransport(wan_fake.side_effect)
        async with httpx.AsyncClient(transport=transport) as client:
            return await client.post(REAL + API_PATH, json=BODY, headers=AUTH)

    assert asyncio.run(main()).status_code == 202


# The respx-native way in: the fake as a side effect of the user's own route.


def test_the_fake_as_a_side_effect(wan_fake, respx_mock, send):
    fake_route = respx_mock.route(host="api.mulerouter.ai").mock(side_effect=wan_fake.side_effect)
    route = user_routes(respx_mock)
    fake_answers(send, wan_fake)
    user_route_answers(send, route)
    # create and poll; the control plane's calls (``succeed``) use the fake's transport directly
    assert fake_route.call_count == 2
"""
)

# The same under pytest-asyncio: ``{mark}`` is ``@pytest.mark.asyncio`` in strict mode and empty
# in auto mode; ``{anyio}`` adds anyio's marker beside it in strict mode.
ASYNCIO_SUITE = r"""
import httpx
import pytest
import pytest_asyncio
import respx

from conftest import API_PATH, AUTH, BODY, REAL
from mockserver.testing.router import UnmockedRequest

STORAGE = "https://storage.example.org/bucket/cat.mp4"
NOWHERE = "https://nowhere.example.net/ping"


@pytest_asyncio.fixture
async def async_router():
    async with respx.mock() as router:
        router.put(STORAGE).respond(201)
        yield router


async def exercise(fake):
    async with httpx.AsyncClient(headers=AUTH) as client:
        created = await client.post(REAL + API_PATH, json=BODY)
        assert created.status_code == 202, created.text
        task_id = created.json()["task_info"]["id"]
        fake.advance(60)
        task = (await client.get(f"{REAL}{API_PATH}/{task_id}")).json()
        assert task["task_info"]["status"] == "succeeded"
        assert (await client.put(STORAGE, content=b"video")).status_code == 201
        with pytest.raises(UnmockedRequest, match="GET https://nowhere.example.net/ping"):
            await client.get(NOWHERE)
    # a sync client inside the async test reaches the same fake
    assert httpx.get(f"{REAL}{API_PATH}/{task_id}", headers=AUTH).json() == task


{mark}
async def test_async_router_fixture_first(async_router, wan_mock):
    await exercise(wan_mock)


{mark}
async def test_async_router_fixture_after(wan_mock, async_router):
    await exercise(wan_mock)


{mark}
async def test_respx_mock_fixture(wan_mock, respx_mock):
    respx_mock.put(STORAGE).respond(201)
    await exercise(wan_mock)


{mark}
async def test_async_context_manager_inside(wan_mock):
    async with respx.mock() as router:
        router.put(STORAGE).respond(201)
        await exercise(wan_mock)


{mark}
@respx.mock
async def test_async_decorator(wan_mock):
    respx.put(STORAGE).respond(201)
    await exercise(wan_mock)


{mark}
async def test_the_fake_as_a_side_effect(wan_fake, respx_mock):
    respx_mock.route(host="api.mulerouter.ai").mock(side_effect=wan_fake.side_effect)
    async with httpx.AsyncClient(headers=AUTH) as client:
        created = await client.post(REAL + API_PATH, json=BODY)
    assert created.status_code == 202
    wan_fake.assert_task_created(prompt=BODY["prompt"])
{anyio}
"""

ANYIO_TESTS = r"""

@pytest.mark.anyio
async def test_under_anyio_beside_respx_mock(wan_mock, respx_mock):
    respx_mock.put(STORAGE).respond(201)
    await exercise(wan_mock)


@pytest.mark.anyio
async def test_under_anyio_with_a_router_inside(wan_mock):
    async with respx.mock() as router:
        router.put(STORAGE).respond(201)
        await exercise(wan_mock)
"""


def asyncio_suite(mode: str) -> str:
    """The pytest-asyncio suite for ``mode`` ("strict" or "auto")."""
    strict = mode == "strict"
    mark = "@pytest.mark.asyncio" if strict else ""
    return ASYNCIO_SUITE.replace("{mark}", mark).replace("{anyio}", ANYIO_TESTS if strict else "")

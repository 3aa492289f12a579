"""The pytest plugin (entry point ``pytest11``): fixtures ``wan_mock``, ``wan_fake`` and
``wan_server`` and the marker ``@pytest.mark.wan_mock(...)``.

``wan_mock`` answers every httpx request to the real base URLs in-process; ``wan_fake`` is the
same fake without routing, for a respx router or httpx client of the test's own; ``wan_server``
is a real server on a loopback port for any client. All hand the test a :class:`WanMock`, all
run on a virtual clock (tests never sleep), and the marker configures each.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from mockserver.testing.api import WanFake, WanMock
    from mockserver.testing.server import ServerThread

MARKER_HELP = (
    "wan_mock(seed=None, profile=None, scenario=None, passthrough=None, **settings): configure "
    "the wan_mock / wan_fake / wan_server fixtures for this test. scenario (e.g. 'fail:3002') "
    "applies to every task; settings are wan-mock settings such as failure_rate=0.2 or "
    "timing='realistic'."
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("wan-mock", "wan-mock: a fake of the MuleRouter wan2.6-i2v API")
    group.addoption("--wan-mock-seed", type=int, help="seed of the fakes (default 0)")
    group.addoption("--wan-mock-profile", help="dialect profile: default, legacy, queued, chaos")
    group.addoption(
        "--wan-mock-base-url",
        action="append",
        default=[],
        help="another base URL the in-process fake answers (repeatable)",
    )
    group.addoption(
        "--wan-mock-passthrough",
        action="store_true",
        default=None,
        help="let requests to other hosts through instead of failing the test",
    )
    parser.addini("wan_mock_seed", "seed of the fakes", default="0")
    parser.addini("wan_mock_profile", "dialect profile of the fakes", default="default")
    parser.addini("wan_mock_base_urls", "more base URLs to fake", type="linelist", default=[])
    parser.addini("wan_mock_passthrough", "let other hosts through", type="bool", default=False)
    parser.addini(
        "wan_mock_render_cache_dir",
        "directory the fakes keep rendered videos in, shared by every test, xdist worker and "
        "later session (default: wan-mock in pytest's cache directory; 'none': a private "
        "temporary one per fake)",
        default="",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_HELP)


def _choices(request: pytest.FixtureRequest) -> tuple[dict[str, Any], bool]:
    """The settings changes for this test (suite defaults, then the marker) and pass-through."""
    config = request.config
    marker = request.node.get_closest_marker("wan_mock")
    options: dict[str, Any] = dict(marker.kwargs) if marker else {}
    if marker and marker.args:
        raise pytest.UsageError("@pytest.mark.wan_mock takes keyword arguments only")
    # A value given as None (marker or option) means "the suite's default".
    seed = _first(options.pop("seed", None), config.getoption("wan_mock_seed"), _seed(config))
    profile = _first(
        options.pop("profile", None),
        config.getoption("wan_mock_profile"),
        config.getini("wan_mock_profile"),
    )
    passthrough = _first(
        options.pop("passthrough", None),
        config.getoption("wan_mock_passthrough"),
        config.getini("wan_mock_passthrough"),
    )
    changes: dict[str, Any] = {"seed": seed, "dialect": profile, **options}
    scenario = changes.pop("scenario", None)
    if scenario is not None:
        changes["rules"] = [{"scenario": scenario}]
    _check_names(profile, scenario)
    return changes, bool(passthrough)


def _check_names(profile: Any, scenario: Any) -> None:
    """Name the keyword the user wrote, not the setting it becomes."""
    from mockserver.domain.behaviour import DIALECT_PROFILES
    from mockserver.domain.scenarios import ScenarioError, parse_scenario

    if isinstance(profile, str) and profile not in DIALECT_PROFILES:
        names = ", ".join(map(repr, DIALECT_PROFILES))
        raise pytest.UsageError(
            f"wan-mock: 'profile' of @pytest.mark.wan_mock / --wan-mock-profile: "
            f"unknown name {profile!r}; use {names}"
        )
    if scenario is not None:
        try:
            parse_scenario(str(scenario))
        except ScenarioError as exc:
            raise pytest.UsageError(
                f"wan-mock: 'scenario' of @pytest.mark.wan_mock: {exc}"
            ) from None


def _first(*values: Any) -> Any:
    return next((value for value in values if value is not None), None)


def _seed(config: pytest.Config) -> int:
    text = str(config.getini("wan_mock_seed")).strip()
    if not text.isdigit():
        raise pytest.UsageError(f"wan-mock: wan_mock_seed must be a whole number, got {text!r}")
    return int(text)


def _render_cache_dir(config: pytest.Config) -> str | None:
    """Where the fakes keep rendered videos: a video rendered once is reused by every later
    test, worker and session that asks for the same pictures and sound."""
    configured = str(config.getini("wan_mock_render_cache_dir")).strip()
    if configured.lower() == "none":
        return None
    if configured:
        return str(config.rootpath / configured)
    cache = getattr(config, "cache", None)  # None when the cacheprovider plugin is off
    return str(cache.mkdir("wan-mock")) if cache is not None else None


def _settings(changes: dict[str, Any], base: Any) -> Any:
    from mockserver.domain.loading import SettingsError, merge_settings

    try:
        return merge_settings(base, changes, "@pytest.mark.wan_mock / wan-mock options")
    except SettingsError as exc:
        raise pytest.UsageError(f"wan-mock: {exc}") from None


@pytest.fixture
def wan_fake(request: pytest.FixtureRequest) -> Iterator[WanFake]:
    """The fake in-process, not routed: plug it into a respx router of your own
    (``wan_fake.side_effect``) or an httpx client (``transport=wan_fake.transport``)."""
    from mockserver.control import Control
    from mockserver.domain.settings import Settings
    from mockserver.server.app import create_app
    from mockserver.testing.api import WanFake
    from mockserver.testing.bridge import AppTransport
    from mockserver.testing.router import DEFAULT_BASE_URLS

    changes, _ = _choices(request)
    base = Settings(clock="virtual", render_cache_dir=_render_cache_dir(request.config))
    settings = _settings(changes, base)
    base_urls = [
        *DEFAULT_BASE_URLS,
        *request.config.getini("wan_mock_base_urls"),
        *request.config.getoption("wan_mock_base_url"),
    ]
    app = create_app(settings)
    transport = AppTransport(app)
    control = Control(base_urls[0], transport=transport)
    try:
        yield WanFake(base_urls, control, transport, dispatcher=app.dispatcher)
    finally:
        control.close()
        transport.close()


@pytest.fixture
def wan_mock(request: pytest.FixtureRequest, wan_fake: WanFake) -> Iterator[WanFake]:
    """The fake in-process: every httpx request to the MuleRouter base URLs (and result video
    URLs) is answered by the same app the server runs, beside any respx router of the test's
    own. A request that no router matches fails the test unless pass-through is on."""
    from mockserver.testing.router import WanRouter

    _, passthrough = _choices(request)
    with WanRouter(wan_fake.transport, wan_fake.base_urls, passthrough=passthrough):
        yield wan_fake


@pytest.fixture(scope="session")
def wan_mock_server(request: pytest.FixtureRequest) -> Iterator[ServerThread]:
    """The session's one served fake (each xdist worker has its own, on its own port)."""
    from mockserver.domain.settings import Settings
    from mockserver.testing.server import ServerThread

    config = request.config
    seed = _first(config.getoption("wan_mock_seed"), _seed(config))
    settings = Settings(clock="virtual", seed=seed, render_cache_dir=_render_cache_dir(config))
    with ServerThread(settings) as server:
        yield server


@pytest.fixture
def wan_server(request: pytest.FixtureRequest, wan_mock_server: ServerThread) -> Iterator[WanMock]:
    """The fake as a real server on a loopback port (``.base_url``), reset before each test and
    configured by the marker; an exception inside the fake fails the test it happened in."""
    from mockserver.domain.settings import FIXED_PER_TEST
    from mockserver.testing.api import WanMock

    changes, _ = _choices(request)
    fixed = sorted(FIXED_PER_TEST & set(changes))
    if fixed:
        raise pytest.UsageError(
            f"wan-mock: {', '.join(fixed)} cannot change per test on the shared server"
        )
    control = wan_mock_server.control
    control.reset()
    _settings(changes, wan_mock_server.app.backend.settings)  # a usage error names a bad value
    control.update_settings(**changes)
    wan_mock_server.take_errors()
    yield WanMock(wan_mock_server.base_url, control)
    errors = wan_mock_server.take_errors()
    if errors:
        raise errors[0]

"""No credential in what the fake prints: the start-up banner, ``wan-mock settings``, a bad
setting's message and the access log (mockserver/server/logs.py) show keys and tokens masked."""

from __future__ import annotations

import logging
import time

import httpx
import pytest

from mockserver import Settings, cli, launch
from mockserver.domain.keys import mask
from mockserver.domain.loading import SettingsError, load_settings
from mockserver.server.logs import AccessLogRedactor, redact_query
from tests.server_process import running_server

LONG_KEY = "sk-live-0123456789abcdef"
TOKEN = "adm-0123456789-token"


@pytest.mark.parametrize(
    ("secret", "shown"),
    [
        (LONG_KEY, "sk-...cdef"),
        ("0123456789abcdef", "012...cdef"),  # 16 characters: the first that keeps some
        ("0123456789abcde", "***"),
        ("k", "***"),
    ],
)
def test_mask_keeps_a_few_characters_of_long_secrets_only(secret: str, shown: str) -> None:
    assert mask(secret) == shown


def test_the_banner_masks_keys_and_a_chosen_token() -> None:
    # Reproduces a finding: the start-up banner printed the configured API keys.
    settings = Settings(api_keys=(LONG_KEY, "k2"), admin_token=TOKEN)
    banner = launch._banner(settings, "http://127.0.0.1:9")
    assert "api keys (masked): sk-...cdef, ***" in banner
    assert f"admin token (X-Wan-Mock-Admin-Token): {mask(TOKEN)}" in banner
    for secret in (LONG_KEY, TOKEN, "Bearer k2"):
        assert secret not in banner
    # A token made up for this run is shown whole, once: nobody could learn it otherwise.
    made_up = launch._banner(settings, "http://127.0.0.1:9", token_made_up=True)
    assert f"admin token (X-Wan-Mock-Admin-Token): {TOKEN} (made up" in made_up


def test_wan_mock_settings_masks_credentials(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WAN_MOCK_API_KEYS", LONG_KEY)
    monkeypatch.setenv("WAN_MOCK_ADMIN_TOKEN", TOKEN)
    assert cli.main(["settings"]) == 0
    out = capsys.readouterr().out
    assert '"sk-...cdef"' in out
    assert f'"{mask(TOKEN)}"' in out
    assert LONG_KEY not in out
    assert TOKEN not in out


def test_a_bad_credential_setting_is_named_without_its_value() -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(env={"WAN_MOCK_ADMIN_TOKEN": "tiny7"})
    message = str(raised.value)
    assert "environment variable WAN_MOCK_ADMIN_TOKEN" in message
    assert "tiny7" not in message


@pytest.mark.parametrize(
    ("target", "logged"),
    [
        (f"/_mock/tasks?key={LONG_KEY}", "/_mock/tasks?key=sk-...cdef"),
        (
            f"/_mock/tasks?status=failed&KEY={LONG_KEY}&limit=2",
            "/_mock/tasks?status=failed&KEY=sk-...cdef&limit=2",
        ),
        ("/_mock/tasks?key=short", "/_mock/tasks?key=***"),
        (f"/x?api_key={LONG_KEY}&token=abc", "/x?api_key=sk-...cdef&token=***"),
        ("/x?keys=1&monkey=2", "/x?keys=1&monkey=2"),
        ("/x?key", "/x?key"),
        ("/files/a/b/result_000.mp4", "/files/a/b/result_000.mp4"),
    ],
)
def test_redact_query(target: str, logged: str) -> None:
    assert redact_query(target) == logged


def test_the_filter_rewrites_uvicorns_access_record() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", f"/_mock/tasks?key={LONG_KEY}", "1.1", 200),
        None,
    )
    assert AccessLogRedactor().filter(record)
    assert LONG_KEY not in record.getMessage()
    assert "key=sk-...cdef" in record.getMessage()


def test_a_key_in_the_query_never_reaches_the_access_log() -> None:
    # Reproduces a finding: GET /_mock/tasks?key=<raw key> left the key in the access log.
    with running_server("--api-key", LONG_KEY) as server:
        listed = httpx.get(server.base_url + "/_mock/tasks", params={"key": LONG_KEY}, timeout=5)
        assert listed.status_code == 200, listed.text
        deadline = time.monotonic() + 10  # the access log line arrives through a pipe
        while "GET /_mock/tasks" not in "".join(server.output) and time.monotonic() < deadline:
            time.sleep(0.05)
        output = "".join(server.output)
    assert "GET /_mock/tasks?key=sk-...cdef HTTP/1.1" in output, output
    assert LONG_KEY not in output

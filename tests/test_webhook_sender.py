"""The server's webhook sender against scripted receivers on loopback: what it sends, kept
connections, answers of every framing, redirects not followed, timeouts, refused and broken
connections, and TLS with the host's certificate checked."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from mockserver.server.webhook_sender import CONNECTIONS_PER_ORIGIN, Sender, target

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
HEADERS = {"Content-Type": "application/json", "X-MuleRouter-Webhook-Id": "evt_1"}

Answer = Callable[[int], bytes | None]  # the n-th request's raw answer; None: close, no answer


class Scripted:
    """A receiver answering each request with raw bytes; it records requests and connections."""

    def __init__(self, answer: Answer, delay: float = 0.0) -> None:
        self.answer = answer
        self.delay = delay
        self.requests: list[bytes] = []
        self.connections = 0
        self.port = 0
        self.server: asyncio.Server | None = None

    async def start(self, tls: ssl.SSLContext | None = None) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=tls)
        self.port = int(self.server.sockets[0].getsockname()[1])
        return self.port

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                self.requests.append(head + await reader.readexactly(length))
                await asyncio.sleep(self.delay)
                answer = self.answer(len(self.requests) - 1)
                if answer is None:
                    break
                writer.write(answer)
                await writer.drain()
                if b"Connection: close" in answer or b"HTTP/1.0" in answer:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def close(self) -> None:
        if self.server is not None:
            self.server.close()


def run(answer: Answer, test: Callable[[Sender, int, Scripted], Awaitable[None]]) -> Scripted:
    async def main() -> Scripted:
        receiver = Scripted(answer)
        port = await receiver.start()
        sender = Sender()
        try:
            await test(sender, port, receiver)
        finally:
            await sender.aclose()
            receiver.close()
        return receiver

    return asyncio.run(main())


def test_a_post_carries_the_signed_headers_and_body_and_keeps_the_connection() -> None:
    async def test(sender: Sender, port: int, receiver: Scripted) -> None:
        for n in range(3):
            status, error, took = await sender.post(
                f"http://127.0.0.1:{port}/hooks/wan?x=1", b'{"n":%d}' % n, HEADERS, 5.0
            )
            assert (status, error) == (200, None)
            assert took > 0

    receiver = run(lambda n: OK, test)
    assert receiver.connections == 1  # kept alive between deliveries
    first = receiver.requests[0]
    assert first.startswith(b"POST /hooks/wan?x=1 HTTP/1.1\r\n")
    assert b"\r\nHost: 127.0.0.1:%d\r\n" % receiver.port in first
    assert b"\r\nX-MuleRouter-Webhook-Id: evt_1\r\n" in first
    assert b"\r\nContent-Type: application/json\r\n" in first
    assert first.endswith(b'Content-Length: 7\r\n\r\n{"n":0}')


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        (b"HTTP/1.1 204 No Content\r\n\r\n", 204),
        (b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", 202),
        (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 200),
    ],
    ids=["no-body", "chunked", "continue-first"],
)
def test_answers_of_each_framing_are_read_whole_and_the_connection_kept(
    answer: bytes, status: int
) -> None:
    async def test(sender: Sender, port: int, receiver: Scripted) -> None:
        for _ in range(2):
            got = await sender.post(f"http://127.0.0.1:{port}/", b"{}", {}, 5.0)
            assert got[:2] == (status, None)

    assert run(lambda n: answer, test).connections == 1


def test_an_answer_ended_by_closing_is_read_and_the_next_goes_on_a_new_connection() -> None:
    closing = b"HTTP/1.0 503 Service Unavailable\r\n\r\nbusy, closing"

    async def test(sender: Sender, port: int, receiver: Scripted) -> None:
        for _ in range(2):
            assert (await sender.post(f"http://127.0.0.1:{port}/", b"{}", {}, 5.0))[:2] == (
                503,
                None,
            )

    assert run(lambda n: closing, test).connections == 2


def test_a_redirect_is_an_answer_not_followed() -> None:
    moved = b"HTTP/1.1 307 Temporary Redirect\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n"

    async def test(sender: Sender, port: int, receiver: Scripted) -> None:
        status, error, _ = await sender.post(f"http://127.0.0.1:{port}/hook", b"{}", {}, 5.0)
        assert (status, error) == (307, None)

    assert len(run(lambda n: moved, test).requests) == 1


def test_a_kept_connection_the_receiver_dropped_is_tried_once_more_on_a_new_one() -> None:
    async def test(sender: Sender, port: int, receiver: Scripted) -> None:
        assert (await sender.post(f"http://127.0.0.1:{port}/", b"{}", {}, 5.0))[0] == 200
        # The receiver reads the second request and drops the connection without answering.
        status, error, _ = await sender.post(f"http://127.0.0.1:{port}/", b"{}", {}, 5.0)
        assert (status, error) == (200, None)

    receiver = run(lambda n: None if n == 1 else OK, test)
    assert (receiver.connections, len(receiver.requests)) == (2, 3)


def test_a_new_connection_closed_without_an_answer_is_the_attempts_error() -> None:
    async def test(sender: Sender, port: int, receiver: Scripted) -> None:
        status, error, _ = await sender.post(f"http://127.0.0.1:{port}/", b"{}", {}, 5.0)
        assert status is None
        assert error == "NoAnswer: the receiver closed the connection without an answer"

    assert len(run(lambda n: None, test).requests) == 1  # not sent twice


def test_an_answer_that_is_not_http_is_the_attempts_error() -> None:
    async def test(sender: Sender, port: int, receiver: Scripted) -> None:
        status, error, _ = await sender.post(f"http://127.0.0.1:{port}/", b"{}", {}, 5.0)
        assert status is None
        assert str(error).startswith("NoAnswer: the receiver's answer is not")

    run(lambda n: b"SMTP ready\r\n\r\n", test)


def test_a_receiver_slower_than_the_timeout_fails_the_attempt_in_time() -> None:
    async def main() -> None:
        receiver = Scripted(lambda n: OK, delay=2.0)
        port = await receiver.start()
        sender = Sender()
        status, error, took = await sender.post(f"http://127.0.0.1:{port}/", b"{}", {}, 0.2)
        assert (status, error) == (None, "no answer within 0.2 s")
        assert 150 < took < 1500
        await sender.aclose()
        receiver.close()

    asyncio.run(main())


def test_a_refused_connection_and_a_bad_url_are_the_attempts_error() -> None:
    async def main() -> None:
        sender = Sender()
        status, error, _ = await sender.post("http://127.0.0.1:9/closed", b"{}", {}, 5.0)
        assert status is None
        assert str(error).startswith("ConnectionRefusedError: ")
        status, error, _ = await sender.post("ftp://127.0.0.1/x", b"{}", {}, 5.0)
        assert (status, error) == (
            None,
            "ValueError: not an http(s) URL with a host: 'ftp://127.0.0.1/x'",
        )

    asyncio.run(main())


def test_targets_name_the_host_as_http_wants_it() -> None:
    assert target("http://[::1]:8080/a b".replace(" ", "%20")).head.startswith(
        b"POST /a%20b HTTP/1.1\r\nHost: [::1]:8080\r\n"
    )
    assert b"\r\nHost: example.test\r\n" in target("https://example.test:443").head
    assert target("https://example.test").origin == ("https", "example.test", 443)
    assert target("http://example.test/caf\u00e9?q=%41").head.startswith(
        b"POST /caf%C3%A9?q=%41 HTTP/1.1\r\n"
    )
    with pytest.raises(ValueError, match="not an http"):
        target("mailto:someone@example.test")


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_https_is_sent_over_tls_and_the_certificate_is_checked(
    certificate: tuple[Path, Path],
) -> None:
    cert, key = certificate
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(cert, key)

    async def main() -> None:
        receiver = Scripted(lambda n: OK)
        port = await receiver.start(tls=served)
        url = f"https://127.0.0.1:{port}/hook"
        # The default trust store does not know this certificate: refused before sending.
        status, error, _ = await Sender().post(url, b"{}", {}, 5.0)
        assert status is None
        assert "CERTIFICATE_VERIFY_FAILED" in str(error)
        assert receiver.requests == []
        trusting = Sender(tls=ssl.create_default_context(cafile=str(cert)))
        assert (await trusting.post(url, b"{}", {}, 5.0))[:2] == (200, None)
        await trusting.aclose()
        receiver.close()
        assert len(receiver.requests) == 1

    asyncio.run(main())


def test_a_burst_to_one_receiver_shares_a_few_connections() -> None:
    async def test(sender: Sender, port: int, receiver: Scripted) -> None:
        url = f"http://127.0.0.1:{port}/"
        answers = await asyncio.gather(*(sender.post(url, b"{}", {}, 5.0) for _ in range(40)))
        assert {answer[:2] for answer in answers} == {(200, None)}

    receiver = run(lambda n: OK, test)
    assert len(receiver.requests) == 40
    assert receiver.connections <= CONNECTIONS_PER_ORIGIN

"""The journal's bodies: what a request sent and what a JSON answer said, kept bounded, with
long base64 runs (images) shortened (mockserver/domain/excerpts.py, journal.py, server/edge.py)."""

from __future__ import annotations

import json

import msgspec

from mockserver.domain.excerpts import MAX_BODY_BYTES, TAIL_BYTES, Excerpt, shortened
from mockserver.domain.journal import Journal
from tests.helpers import CREATE_PATH, Fake, b64, body, picture


def test_a_body_without_long_runs_is_kept_exactly() -> None:
    prompt = "A cat looks at the sky, " * 20  # long, but words: not cut
    sent = msgspec.json.encode({"prompt": prompt, "duration": 5}) + b"\n"
    assert shortened(sent) == sent.decode()


def test_long_base64_runs_are_cut_to_their_start_and_length_anywhere() -> None:
    image = "A" * 5000
    sent = msgspec.json.encode(
        {"image": image, "list": [{"deep": f"data:image/png;base64,{image}"}]}
    )
    shown = json.loads(shortened(sent))
    assert shown["image"] == "A" * 48 + "...(5000 characters)"
    assert shown["list"][0]["deep"] == "data:image/png;base64," + shown["image"]
    assert shortened(b"not json " + b"x" * 200) == "not json " + "x" * 48 + "...(200 characters)"


def test_a_small_body_is_kept_as_the_very_bytes_received() -> None:
    excerpt = Excerpt()
    chunk = b'{"prompt": "a cat"}'
    excerpt.add(chunk)
    assert excerpt.kept() is chunk


def test_a_huge_body_keeps_its_start_and_end_and_says_what_is_left_out() -> None:
    excerpt = Excerpt()
    excerpt.add(b'{"prompt": "a cat", "image": "')
    for _ in range(300):  # 30 MB of base64 in chunks, then the last field
        excerpt.add(b"QUJD" * 25_000)
    excerpt.add(b'", "duration": 10}')
    kept = excerpt.kept()
    assert len(kept) < MAX_BODY_BYTES + TAIL_BYTES + 100
    text = shortened(kept)
    assert text.startswith('{"prompt": "a cat", "image": "QUJD')
    assert f"({excerpt.size:,} bytes in all; the middle is left out)" in text
    assert text.endswith('", "duration": 10}')


def test_a_big_body_is_bounded_when_recorded() -> None:
    journal = Journal(4)
    big = msgspec.json.encode({"image": "B" * 1_000_000})
    journal.record((0.0, "POST", "/x", 202, 1.0, []), big, b'{"ok":true}')
    stored = journal._records[0]
    assert len(stored[6]) < 200  # what the entry holds, not only what it shows
    (entry,) = journal.entries()
    assert json.loads(entry.request_body or "") == {"image": "B" * 48 + "...(1000000 characters)"}
    assert entry.response_body == '{"ok":true}'
    assert journal.recorded == 1


def test_the_count_of_recorded_requests_survives_the_bound_and_not_a_clear() -> None:
    journal = Journal(2)
    for n in range(5):
        journal.record((float(n), "GET", "/r", 200, 1.0, []))
    assert (len(journal), journal.recorded) == (2, 5)
    journal.clear()
    assert journal.recorded == 0


def test_the_fake_journals_a_creates_bodies_with_the_image_shortened(fake: Fake) -> None:
    image = b64(picture(400, 400))
    task_id = fake.create(image=image)
    entry = fake.ok("GET", "/_mock/journal")["entries"][-1]
    sent = json.loads(entry["request_body"])
    assert sent["prompt"] == body()["prompt"]
    assert sent["image"] == f"{image[:48]}...({len(image)} characters)"
    assert json.loads(entry["response_body"])["task_info"]["id"] == task_id


def test_a_rejected_request_keeps_its_body_and_its_4xx_answer(fake: Fake) -> None:
    answer = fake.client.post(CREATE_PATH, content=b'{"prompt": 5}')
    assert answer.status_code == 400
    entry = fake.ok("GET", "/_mock/journal")["entries"][-1]
    assert entry["status"] == 400
    assert entry["request_body"] == '{"prompt": 5}'
    assert json.loads(entry["response_body"]) == answer.json()


def test_a_poll_has_no_request_body_and_a_video_no_answer_body(fake: Fake) -> None:
    task_id = fake.create()
    fake.clock.advance(600)
    video = fake.poll(task_id)["videos"][0]
    assert fake.client.get(video).status_code == 200
    poll, download = fake.ok("GET", "/_mock/journal")["entries"][-2:]
    assert poll["request_body"] is None
    assert json.loads(poll["response_body"])["task_info"]["status"] == "succeeded"
    assert download["status"] == 200
    assert download["response_body"] is None

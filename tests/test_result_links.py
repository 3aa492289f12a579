"""Result links cannot be worked out (domain/links.py): a seed fixes task ids, never the token
a link carries; a wrong or missing token is the same 404 as an unknown task; a state file
keeps its link secret, so workers and restarts make the same links."""

from __future__ import annotations

from pathlib import Path

import pytest

from mockserver import Settings
from mockserver.domain.links import ResultLinks
from mockserver.domain.paths import RESULT_NAME
from tests.helpers import (
    BASE_URL,
    OTHER,
    Fake,
    assert_error,
    fake_app,
    open_backend,
)

VICTIM = OTHER  # another key: the attacker never sees its answers


def _succeeded(fake: Fake, headers: dict[str, str] | None = None) -> tuple[str, str]:
    """A task that has succeeded: (its id, the path of its link)."""
    task_id = fake.create(headers=headers)
    fake.clock.advance(60)
    video = fake.poll(task_id, headers=headers)["videos"][0]
    assert video.startswith(BASE_URL + "/files/"), video
    return task_id, video.removeprefix(BASE_URL)


def test_a_seed_and_ones_own_task_never_give_another_keys_link() -> None:
    # Reproduces a finding: with --seed, the seed was recovered from the attacker's own task id
    # and another key's video downloaded without a key (200). Ids still follow the seed; links
    # do not.
    with fake_app(Settings(seed=5)) as target, fake_app(Settings(seed=5)) as replica:
        victim_id, victim_link = _succeeded(target, VICTIM)
        own_id, own_link = _succeeded(target)
        # The attacker replays the seed on a fake of their own: same ids, in the same order.
        guessed_victim, _ = _succeeded(replica)
        guessed_own, replica_link = _succeeded(replica)
        assert (guessed_victim, guessed_own) == (victim_id, own_id)
        assert replica_link != own_link  # the seed did not fix the token
        token = replica_link.split("/")[3]
        for guess in (
            f"/files/{victim_id}/{RESULT_NAME}",  # the link as it was before tokens
            f"/files/{victim_id}/{token}/{RESULT_NAME}",  # the replica's token for that id
            replica_link.replace(guessed_own, victim_id),
            own_link.replace(own_id, victim_id),  # one's own token, another id
        ):
            assert target.client.get(guess, headers={"authorization": ""}).status_code == 404
        assert target.client.get(victim_link, headers={"authorization": ""}).status_code == 200


def test_a_wrong_token_is_the_same_404_as_an_unknown_task(fake: Fake) -> None:
    task_id, link = _succeeded(fake)
    unknown = "3c90c3cc-0d44-4b50-8888-8dd25736052a"
    token = link.split("/")[3]
    wrong = [
        link.replace(token, "0" * 32),
        link.replace(token, token[:-1]),
        link.replace(token, token.upper()),
        link.replace(token, token + "0"),
        link.replace(token, "%00"),
    ]
    answers = [fake.client.get(path) for path in wrong]
    unknown_answer = fake.client.get(fake.backend.links.path(unknown))
    for response in [*answers, unknown_answer]:
        error = assert_error(response, 404, code=404)  # never 403: existence is not revealed
        assert error["detail"].startswith("No result video for task "), error
    shapes = {(r.status_code, r.json()["detail"].replace(unknown, task_id)) for r in answers}
    assert len(shapes | {(404, unknown_answer.json()["detail"].replace(unknown, task_id))}) == 1
    assert fake.client.head(link.replace(token, "f" * 32)).status_code == 404
    assert fake.client.get(link).status_code == 200


def test_tokens_are_an_hmac_of_the_id_under_the_secret() -> None:
    one, other = ResultLinks(b"a" * 32), ResultLinks(b"b" * 32)
    task_id = "3C90C3CC-0D44-4B50-8888-8DD25736052A"
    assert one.token(task_id) == one.token(task_id.lower())  # ids are case-insensitive
    assert len(one.token(task_id)) == 32
    assert one.token(task_id) != other.token(task_id)
    assert one.valid(task_id, one.token(task_id))
    assert not one.valid(task_id, other.token(task_id))
    with pytest.raises(ValueError, match="16 bytes"):
        ResultLinks(b"short")


def test_a_state_file_keeps_its_link_secret_across_workers_restarts_and_resets(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.db"
    first, second = open_backend(path), open_backend(path)
    task_id = "3c90c3cc-0d44-4b50-8888-8dd25736052a"
    link = first.links.path(task_id)
    assert second.links.path(task_id) == link  # two workers on one file
    first.reset()
    first.store.close()
    second.store.close()
    restarted = open_backend(path)
    assert restarted.links.path(task_id) == link  # a restart, after a reset
    restarted.store.close()
    elsewhere = open_backend(tmp_path / "other.db")
    assert elsewhere.links.path(task_id) != link  # another file, another secret
    elsewhere.store.close()


def test_reset_keeps_the_links_of_a_fake_in_memory(fake: Fake) -> None:
    task_id = "3c90c3cc-0d44-4b50-8888-8dd25736052a"
    before = fake.backend.links.path(task_id)
    fake.ok("POST", "/_mock/reset")
    assert fake.backend.links.path(task_id) == before

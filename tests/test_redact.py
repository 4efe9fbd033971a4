"""The scrubber every output goes through (harness/_redact.py), on its own: what it hides and
what it leaves alone. tests/test_secrets.py drives it through every error path."""

from __future__ import annotations

import logging
import secrets

import pytest

from harness._exceptions import HarnessError, TimeLimitExceededError, describe
from harness._redact import remember, scrub, scrub_exception


@pytest.fixture
def held() -> str:
    secret = secrets.token_urlsafe(18)
    remember(f"postgresql://harness:{secret}@127.0.0.1:5432/postgres")
    return secret


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (
            "postgresql://harness:s3cret-pw@127.0.0.1:5432/db",
            "postgresql://harness:***@127.0.0.1:5432/db",
        ),
        ("redis://:s3cret@127.0.0.1:6379/1", "redis://:***@127.0.0.1:6379/1"),
        (
            "'amqp://ci:p%40ss@host/' and mongodb://u:v@h",
            "'amqp://ci:***@host/' and mongodb://u:***@h",
        ),
        (
            "redis://user:password@host:port (an example)",
            "redis://user:password@host:port (an example)",
        ),
        (
            "mongodb://127.0.0.1:27017/ has no password",
            "mongodb://127.0.0.1:27017/ has no password",
        ),
    ],
)
def test_every_url_shows_its_password_as_stars(text: str, shown: str) -> None:
    assert scrub(text) == shown


def test_a_held_password_is_hidden_wherever_it_appears(held: str) -> None:
    assert scrub(f"auth failed with {held!r}") == "auth failed with '***'"
    # pytest cuts long reprs in the middle: a piece of the password on either side of the cut
    cut = f"{{'A': 'postgresql://harness:{held[:9]}...', 'B'...{held[-7:]}@127.0.0.1:1/x'}}"
    assert scrub(cut) == "{'A': 'postgresql://harness:***...', 'B'...***@127.0.0.1:1/x'}"


def test_short_passwords_and_user_equal_password_are_not_searched_for_on_their_own() -> None:
    remember("postgresql://postgres:postgres@ci:5432/x")  # CI's classic: not a secret
    remember("redis://:abc@h:1/0")
    assert scrub("postgres database abc") == "postgres database abc"


def test_a_harness_error_scrubs_its_message_and_notes(held: str) -> None:
    error = HarnessError(f"cannot reach postgresql://harness:{held}@127.0.0.1:5432/x")
    error.add_note(f"the driver said {held}")
    assert held not in str(error) + repr(error.args) + "".join(error.__notes__)
    assert describe(error) == (
        "cannot reach postgresql://harness:***@127.0.0.1:5432/x\nthe driver said ***"
    )


def test_a_chain_of_foreign_errors_is_scrubbed_in_place(held: str) -> None:
    class DriverError(Exception):
        def __init__(self, message: str) -> None:
            super().__init__("driver")
            self.message = message

        def __str__(self) -> str:
            return self.message

    try:
        try:
            raise DriverError(f"connect to redis://:{held}@h:1 failed")
        except DriverError as exc:
            group = ExceptionGroup("group", [exc, OSError(2, "nope", f"/tmp/{held}")])
            raise TimeLimitExceededError("time is up") from group
    except TimeLimitExceededError as error:
        scrub_exception(error)
        group = error.__cause__
        assert isinstance(group, ExceptionGroup)
        driver, oserror = group.exceptions
        assert str(driver) == "connect to redis://:***@h:1 failed"
        assert str(oserror) == "[Errno 2] nope: '/tmp/***'"
        assert str(error) == "time is up"


def test_log_records_of_the_harness_logger_are_scrubbed(
    held: str, caplog: pytest.LogCaptureFixture
) -> None:
    logger = logging.getLogger("harness")
    try:
        raise RuntimeError(f"broken {held}")
    except RuntimeError:
        logger.warning("dropping %s failed", f"redis://:{held}@h:1/2", exc_info=True)
    assert held not in caplog.text
    assert "dropping redis://:***@h:1/2 failed" in caplog.text

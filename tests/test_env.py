"""`.env.test` loading, live URL injection through the mapping, and `override_env`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness import override_env
from harness._env import read_env_file, resolve_env_map
from harness._exceptions import EnvFileError


def test_reads_hyphenated_keys_comments_quotes_and_export(tmp_path: Path) -> None:
    env = tmp_path / ".env.test"
    env.write_text("# comment\nENV=test\nJWT-SECRET-KEY=s3cret\n\nexport QUOTED='a b'\n")
    assert read_env_file(env) == {"ENV": "test", "JWT-SECRET-KEY": "s3cret", "QUOTED": "a b"}


@pytest.mark.parametrize("bad", ["JUST_A_KEY", "=value", "NAME with spaces=1"])
def test_a_malformed_line_names_file_and_line(tmp_path: Path, bad: str) -> None:
    env = tmp_path / ".env.test"
    env.write_text(f"GOOD=1\n{bad}\n")
    with pytest.raises(EnvFileError, match=rf"{env}:2: malformed line"):
        read_env_file(env)


def test_a_missing_file_says_how_to_fix_it(tmp_path: Path) -> None:
    with pytest.raises(EnvFileError, match="harness_env_file"):
        read_env_file(tmp_path / "nope.env")


def test_resolve_env_map_gives_urls_and_their_parts() -> None:
    urls = {
        "postgres": "postgresql://u:p@127.0.0.1:5433/db1",
        "redis": "redis://:pw@127.0.0.1:6390/3",
    }
    mapping = {
        "POSTGRES-SUPABASE-URL": "postgres",
        "PG-HOST": "postgres.host",
        "PG-PORT": "postgres.port",
        "REDIS-DB": "redis.path",
        "MONGO-URL": "mongo",  # not running this session: left out
    }
    assert resolve_env_map(mapping, urls) == {
        "POSTGRES-SUPABASE-URL": urls["postgres"],
        "PG-HOST": "127.0.0.1",
        "PG-PORT": "5433",
        "REDIS-DB": "3",
    }


def test_override_env_restores_exactly_what_it_changed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWT-SECRET-KEY", "original")
    monkeypatch.delenv("ONLY-IN-BLOCK", raising=False)
    monkeypatch.setenv("REMOVED-IN-BLOCK", "here")
    with override_env({"JWT-SECRET-KEY": "other", "ONLY-IN-BLOCK": "1", "REMOVED-IN-BLOCK": None}):
        assert os.environ["JWT-SECRET-KEY"] == "other"
        assert os.environ["ONLY-IN-BLOCK"] == "1"
        assert "REMOVED-IN-BLOCK" not in os.environ
        os.environ["UNRELATED-SET-IN-BLOCK"] = "kept"
    assert os.environ["JWT-SECRET-KEY"] == "original"
    assert "ONLY-IN-BLOCK" not in os.environ
    assert os.environ["REMOVED-IN-BLOCK"] == "here"
    assert os.environ.pop("UNRELATED-SET-IN-BLOCK") == "kept"


def test_override_env_restores_after_an_exception(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENV", "test")
    with pytest.raises(RuntimeError), override_env({"ENV": "production"}):
        raise RuntimeError("boom")
    assert os.environ["ENV"] == "test"


def test_env_file_is_loaded_before_test_modules_are_imported(pytester: pytest.Pytester) -> None:
    pytester.makefile(".test", **{".env": "FROM-ENV-FILE=loaded\n"})
    pytester.makepyfile(
        test_import_time="""
        import os
        AT_IMPORT = os.environ.get("FROM-ENV-FILE")

        def test_seen_at_import():
            assert AT_IMPORT == "loaded"
        """
    )
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_shell_environment_wins_over_the_env_file(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makefile(".test", **{".env": "ENV=test\n"})
    pytester.makepyfile(
        test_x="import os\n\ndef test_x():\n    assert os.environ['ENV'] == 'from-shell'\n"
    )
    monkeypatch.setenv("ENV", "from-shell")
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_a_malformed_env_file_is_a_usage_error_naming_the_line(pytester: pytest.Pytester) -> None:
    pytester.makefile(".test", **{".env": "ENV=test\nthis is not a variable\n"})
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*.env.test:2: malformed line 'this is not a variable'*"])


def test_configure_test_env_and_url_fixtures_inject_mapped_variables(
    inner_pytest, pytester: pytest.Pytester
) -> None:
    pytester.makeini(
        """
        [pytest]
        harness_env_map =
            MY-REDIS-URL=redis
            MY-REDIS-PORT=redis.port
        """
    )
    pytester.makepyfile(
        test_injected="""
        import os
        from urllib.parse import urlsplit

        def test_injected(configure_test_env, redis_url):
            assert os.environ["MY-REDIS-URL"] == redis_url
            assert os.environ["MY-REDIS-PORT"] == str(urlsplit(redis_url).port)
            assert configure_test_env == {"MY-REDIS-URL": redis_url, "MY-REDIS-PORT": os.environ["MY-REDIS-PORT"]}
        """
    )
    result = inner_pytest("-q", "-s")
    result.assert_outcomes(passed=1)
    started = [line.split()[1] for line in result.outlines if line.startswith("harness: ")]
    assert started == ["redis"]  # configure_test_env starts exactly the mapped resources

"""The public API is exactly ``harness.__all__``: every name there exists, is documented and
typed, and nothing public-looking escapes it (httpx's tests/test_exported_members.py habit)."""

from __future__ import annotations

import inspect
import re
import types
from pathlib import Path

import harness
import harness.resources

API_PAGE = Path(__file__).resolve().parents[1] / "docs" / "api.md"

ARCHITECTURE_NAMES = {
    "seed",
    "seeded",
    "app_client",
    "listen",
    "publish",
    "eventually",
    "override_env",
    "postgres",
    "mongo",
    "redis",
    "rabbitmq",
}


def test_all_is_exactly_the_public_namespace() -> None:
    for name in harness.__all__:  # the names are loaded on first use: load them all
        getattr(harness, name)
    public = {
        name
        for name, value in vars(harness).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and name != "annotations"
    }
    assert set(harness.__all__) == public


def test_every_name_loaded_on_first_use_is_exported_and_typed() -> None:
    lazy: dict[str, str] = vars(harness)["_LAZY"]
    assert set(lazy) <= set(harness.__all__)
    source = Path(harness.__file__).read_text(encoding="utf-8")
    checking = source.partition("if _typing.TYPE_CHECKING:")[2].partition("\n\n")[0]
    for name, module in lazy.items():  # mypy sees the same name where it is loaded from
        assert f"from {module} import" in checking and name in checking, name


def test_the_names_the_architecture_fixes_are_exported() -> None:
    assert set(harness.__all__) >= ARCHITECTURE_NAMES


def test_every_public_name_has_a_docstring_and_full_types() -> None:
    for name in harness.__all__:
        value = getattr(harness, name)
        assert inspect.getdoc(value), f"harness.{name} has no docstring"
        if inspect.isfunction(value):
            signature = inspect.signature(value)
            untyped = [
                p for p in signature.parameters.values() if p.annotation is inspect.Parameter.empty
            ]
            assert not untyped, f"harness.{name}: untyped parameters {untyped}"
            assert signature.return_annotation is not inspect.Signature.empty, (
                f"harness.{name}: no return type"
            )


def test_the_api_reference_lists_every_public_name() -> None:
    documented = set(
        re.findall(r"^::: (harness(?:\.resources)?\.\w+)$", API_PAGE.read_text(), re.M)
    )
    public = {f"harness.{name}" for name in harness.__all__}
    public |= {f"harness.resources.{name}" for name in harness.resources.__all__}
    assert documented == public


def test_the_extension_api_is_documented_and_typed() -> None:
    for name in harness.resources.__all__:
        value = getattr(harness.resources, name)
        if name in {"REGISTRY", "Client"}:
            continue  # data: documented by the comment beside it
        assert inspect.getdoc(value), f"harness.resources.{name} has no docstring"

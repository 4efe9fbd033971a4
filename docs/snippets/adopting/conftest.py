"""A root conftest kept from the testcontainers days: its autouse ``configure_test_env`` now only
asks for the harness's fixture of that name, which starts every mapped server and sets the
mapped variables, once, before any test of the directory."""

import pytest


# --8<-- [start:configure_test_env]
@pytest.fixture(scope="session", autouse=True)
def configure_test_env(configure_test_env: dict[str, str]) -> dict[str, str]:
    return configure_test_env


# --8<-- [end:configure_test_env]

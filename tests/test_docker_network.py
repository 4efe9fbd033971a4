"""Where the Docker backend publishes ports and reaches containers: the decision, from plain facts.

Every lane runs these (no daemon needed). tests/test_docker.py checks the same modes against the
real daemon on the Docker lane.
"""

from __future__ import annotations

import pytest

from harness._exceptions import BackendUnavailableError
from harness.backends._docker_network import Facts, decide

OURS = frozenset({"127.0.0.1", "192.0.2.2", "172.17.0.1"})


def test_outside_a_container_publishes_and_connects_on_loopback() -> None:
    plan = decide(Facts(in_container=False, own_addresses=OURS, gateway="172.17.0.1"))
    assert (plan.mode, plan.host, plan.publish, plan.forced) == (
        "docker_host",
        "127.0.0.1",
        "127.0.0.1",
        False,
    )


def test_a_container_sharing_the_daemons_network_uses_loopback() -> None:
    # This machine: /.dockerenv exists, but dockerd runs beside us (docker0's 172.17.0.1 is ours).
    plan = decide(Facts(in_container=True, own_addresses=OURS, gateway="172.17.0.1"))
    assert (plan.mode, plan.host, plan.publish) == ("docker_host", "127.0.0.1", "127.0.0.1")
    assert "gateway 172.17.0.1 is ours" in plan.reason


def test_a_container_the_daemon_runs_reaches_containers_on_its_network() -> None:
    # Docker-outside-of-Docker: the socket is mounted into a container of the same daemon.
    facts = Facts(
        in_container=True,
        own_addresses=frozenset({"127.0.0.1", "172.18.0.5"}),
        own_network="ci_default",
        gateway="172.18.0.1",
    )
    plan = decide(facts)
    assert (plan.mode, plan.host, plan.publish, plan.network) == (
        "bridge_ip",
        None,
        None,
        "ci_default",
    )


def test_another_container_publishes_on_the_gateway_only() -> None:
    facts = Facts(
        in_container=True, own_addresses=frozenset({"127.0.0.1", "10.0.3.7"}), gateway="172.17.0.1"
    )
    plan = decide(facts)
    assert (plan.mode, plan.host, plan.publish) == ("gateway_ip", "172.17.0.1", "172.17.0.1")


def test_a_remote_daemon_publishes_on_its_own_address_never_everywhere() -> None:
    # GitLab's docker:dind service: DOCKER_HOST=tcp://docker:2375.
    facts = Facts(
        daemon_host="docker",
        daemon_address="172.30.0.4",
        in_container=True,
        own_addresses=frozenset({"127.0.0.1", "172.30.0.9"}),
    )
    plan = decide(facts)
    assert (plan.mode, plan.host, plan.publish) == ("docker_host", "docker", "172.30.0.4")


def test_a_tcp_daemon_on_this_machine_is_local() -> None:
    facts = Facts(daemon_host="localhost", in_container=False, own_addresses=OURS)
    assert decide(facts).host == "127.0.0.1"


@pytest.mark.parametrize(
    ("mode", "host", "publish", "network"),
    [
        ("docker_host", "127.0.0.1", "127.0.0.1", None),
        ("gateway_ip", "172.17.0.1", "172.17.0.1", "bridge"),
        ("bridge_ip", None, None, "bridge"),
    ],
)
def test_a_forced_mode_is_honoured_and_said_so(
    mode: str, host: str | None, publish: str | None, network: str | None
) -> None:
    facts = Facts(forced_mode=mode, in_container=True, own_addresses=OURS, gateway="172.17.0.1")
    plan = decide(facts)
    assert (plan.mode, plan.host, plan.publish, plan.network, plan.forced) == (
        mode,
        host,
        publish,
        network,
        True,
    )
    assert "(" + mode + " mode, forced: TESTCONTAINERS_CONNECTION_MODE is set)" in plan.describe()


def test_tc_host_forces_the_address_and_ports_follow_it() -> None:
    facts = Facts(forced_host="docker.internal", forced_address="10.1.2.3", in_container=True)
    plan = decide(facts)
    assert (plan.mode, plan.host, plan.publish, plan.forced) == (
        "docker_host",
        "docker.internal",
        "10.1.2.3",
        True,
    )


def test_an_unknown_forced_mode_names_the_valid_ones() -> None:
    with pytest.raises(BackendUnavailableError, match="docker_host, gateway_ip, bridge_ip"):
        decide(Facts(forced_mode="host"))


def test_forced_gateway_mode_without_a_gateway_says_what_to_use() -> None:
    with pytest.raises(BackendUnavailableError, match="has no gateway address; use docker_host"):
        decide(Facts(forced_mode="gateway_ip", in_container=True))

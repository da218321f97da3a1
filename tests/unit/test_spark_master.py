import socket
import time

import pytest

from lakeward.errors import ConfigurationError, SparkUnavailable
from lakeward.settings import SparkSettings
from lakeward.spark import parse_master, session


@pytest.mark.parametrize(
    ("master", "kind", "endpoints"),
    [
        ("local", "local", []),
        ("local[*]", "local", []),
        ("local[4]", "local", []),
        ("local[2,3]", "local", []),
        ("spark://127.0.0.1:7077", "standalone", [("127.0.0.1", 7077)]),
        ("spark://a:7077,b:7078", "standalone", [("a", 7077), ("b", 7078)]),
        ("sc://localhost", "connect", [("localhost", 15002)]),
        ("sc://host:15003/;token=x", "connect", [("host", 15003)]),
        ("yarn", "passthrough", []),
        ("k8s://https://api:6443", "passthrough", []),
    ],
)
def test_parse_master(master: str, kind: str, endpoints: list[tuple[str, int]]) -> None:
    assert parse_master(master) == (kind, endpoints)


@pytest.mark.parametrize("master", ["spark:/x", "local[0]", "mesos://x:5050", "", "local[*"])
def test_unknown_master_names_the_setting(master: str) -> None:
    with pytest.raises(ConfigurationError, match="LAKEWARD_SPARK_MASTER") as info:
        parse_master(master)
    assert "local[*]" in str(info.value)  # says what to use instead


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("scheme", ["spark", "sc"])
def test_unreachable_master_fails_fast_without_a_jvm(scheme: str) -> None:
    port = _closed_port()
    started = time.monotonic()
    with pytest.raises(SparkUnavailable, match=f"127.0.0.1:{port}") as info:
        session(SparkSettings(master=f"{scheme}://127.0.0.1:{port}", connect_timeout_s=2))
    assert "LAKEWARD_SPARK_MASTER" in str(info.value)
    assert time.monotonic() - started < 10

"""The lake key: from the setting, or created once under LAKEWARD_HOME with safe permissions."""

from __future__ import annotations

import hashlib
import hmac
import stat
import threading
from pathlib import Path

import pytest

from lakeward.dedup._fingerprint import LakeKey, lake_key
from lakeward.errors import ConfigurationError


def test_secret_setting_wins_and_key_id_does_not_reveal_it(tmp_path: Path) -> None:
    key = lake_key(tmp_path, "correct horse battery staple")
    assert key.key_id == lake_key(tmp_path, "correct horse battery staple").key_id
    assert key.key_id != lake_key(tmp_path, "another secret of some length").key_id
    assert "horse" not in key.key_id and len(key.key_id) == 16
    assert not (tmp_path / "keys").exists()
    expected = hmac.new(b"correct horse battery staple", b"msg", hashlib.sha256).digest()[:16]
    assert key.hmac128(b"msg") == expected


def test_generated_key_is_created_once_private_and_shared(tmp_path: Path) -> None:
    keys: list[LakeKey] = []
    threads = [
        threading.Thread(target=lambda: keys.append(lake_key(tmp_path, None))) for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(keys) == 8 and len({k.key_id for k in keys}) == 1
    path = tmp_path / "keys" / "lake.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["lake.key"]
    assert lake_key(tmp_path, None).key_id == keys[0].key_id


def test_bad_keys_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="LAKEWARD_LAKE_SECRET"):
        lake_key(tmp_path, "short")
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "lake.key").write_text("abc")
    with pytest.raises(ConfigurationError, match="damaged"):
        lake_key(tmp_path, None)

"""Integration secrets at rest: sealed with Fernet, keys rotated by listing the new one first, a key generated once
into the data folder (mode 0600) when no setting names one."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from services.integrations import secret_box
from settings import get_settings


@pytest.fixture
def data_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("LEADVANE_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(get_settings(), "secrets_key", None)
    yield tmp_path


def test_a_sealed_secret_opens_and_does_not_show_the_secret(data_folder: Path) -> None:
    sealed = secret_box.seal("xoxb-very-secret")
    assert "xoxb" not in sealed and sealed != secret_box.seal("xoxb-very-secret")  # random IV each time
    assert secret_box.unseal(sealed) == "xoxb-very-secret"


def test_without_a_setting_the_key_is_generated_once_into_the_data_folder(data_folder: Path) -> None:
    sealed = secret_box.seal("token")
    key_file = data_folder / secret_box.KEY_FILE_NAME
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    first = key_file.read_text()
    secret_box.seal("again")
    assert key_file.read_text() == first  # not replaced by a later call
    Fernet(first.encode())  # a valid Fernet key
    assert secret_box.unseal(sealed) == "token"


def test_keys_rotate_new_first_and_an_unknown_key_is_an_unreadable_secret(
    data_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new, other = (Fernet.generate_key().decode() for _ in range(3))
    monkeypatch.setattr(get_settings(), "secrets_key", old)
    sealed_with_old = secret_box.seal("crm-token")
    monkeypatch.setattr(get_settings(), "secrets_key", f"{new},{old}")
    assert secret_box.unseal(sealed_with_old) == "crm-token"  # old secrets still open
    assert Fernet(new.encode()).decrypt(secret_box.seal("x").encode()) == b"x"  # new ones use the first key
    monkeypatch.setattr(get_settings(), "secrets_key", other)
    with pytest.raises(secret_box.UnreadableSecret):
        secret_box.unseal(sealed_with_old)


def test_a_malformed_key_setting_says_what_is_wrong(data_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "secrets_key", "not-a-fernet-key")
    with pytest.raises(RuntimeError, match="LEADVANE_SECRETS_KEY"):
        secret_box.seal("x")

from __future__ import annotations

import pytest

from posthouse.accounts.passwords import hash_password
from tests.accounts.fake_store import PASSWORD, FakeAccountStore


@pytest.fixture
def store() -> FakeAccountStore:
    return FakeAccountStore()


@pytest.fixture(scope="session")
def password_hash() -> str:
    return hash_password(PASSWORD)

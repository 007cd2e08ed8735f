"""Fixtures of the interop tests."""

from __future__ import annotations

import uuid

import pytest

from tests.integration.server import MailServer, add_user
from tests.interop.clients import PASSWORD


@pytest.fixture
def user(server: MailServer) -> str:
    """An account of its own for one test, on the module's server."""
    address = f"i{uuid.uuid4().hex[:10]}@example.test"
    add_user(server.dir, address, PASSWORD)
    return address

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.server import MailServer


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MailServer]:
    """One running posthouse per test module (fast); tests use distinct subjects."""
    srv = MailServer.create(tmp_path_factory.mktemp("instance")).start()
    try:
        yield srv
    finally:
        srv.stop()

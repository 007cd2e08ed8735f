from __future__ import annotations

import pytest

from posthouse.mime import imapvalue
from tests.mime.imaptext import Run


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """ENVELOPE and BODYSTRUCTURE built as they are once the codec writes runs."""
    monkeypatch.setattr(imapvalue, "_RUN", Run)

"""With `workers = 2`, connections are spread evenly over the two worker processes
(server/balance.py), whichever of them the kernel wakes first."""

from __future__ import annotations

import contextlib
import os
import poplib
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from posthouse.server.balance import WorkerLoads
from tests.integration.server import MailServer


def _socket_inodes(pid: int) -> set[str]:
    return {f[len("socket:[") : -1] for f in _open_files(pid) if f.startswith("socket:[")}


def _inode_of_remote_port(port: int) -> str:
    """The inode of the server side of the loopback connection from `port`."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        remote = int(fields[2].split(":")[1], 16)
        if remote == port:
            return fields[9]
    raise AssertionError(f"no server socket for client port {port}")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[MailServer]:
    srv = MailServer.create(tmp_path / "instance", workers=2).start()
    try:
        _wait_for_both_workers(srv)
        yield srv
    finally:
        srv.stop()


def _wait_for_both_workers(server: MailServer) -> None:
    """start() returns once one worker answers; the other may still be starting."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        # Each worker starts the webmail after its mail listeners, and says so.
        if server.log().count("webmail on") >= 2:
            return
        time.sleep(0.05)
    raise AssertionError("the second worker did not start")


def _open_files(pid: int) -> list[str]:
    names = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            names.append(fd.readlink().as_posix())
    return names


def _workers(server: MailServer) -> list[int]:
    assert server.proc is not None
    path = Path(f"/proc/{server.proc.pid}/task/{server.proc.pid}/children")
    pids = [int(p) for p in path.read_text().split()]
    assert len(pids) == 2
    return pids


@pytest.mark.parametrize("listener", ["pop3", "pop3s"])
def test_connections_split_evenly(server: MailServer, listener: str) -> None:
    clients: list[poplib.POP3] = []
    try:
        for _ in range(10):
            if listener == "pop3s":
                tls = ssl.create_default_context()
                tls.check_hostname = False
                tls.verify_mode = ssl.CERT_NONE
                client: poplib.POP3 = poplib.POP3_SSL(
                    "127.0.0.1", server.ports[listener], context=tls, timeout=10
                )
            else:
                client = poplib.POP3("127.0.0.1", server.ports[listener], timeout=10)
            assert client.getwelcome().startswith(b"+OK")  # accepted and being served
            clients.append(client)
        owners = {pid: _socket_inodes(pid) for pid in _workers(server)}
        served = dict.fromkeys(owners, 0)
        for client in clients:
            inode = _inode_of_remote_port(client.sock.getsockname()[1])
            (owner,) = [pid for pid, inodes in owners.items() if inode in inodes]
            served[owner] += 1
        assert sorted(served.values()) == [5, 5], served
        # Each still answers: a connection left to the other worker was not lost.
        for client in clients:
            assert "USER" in client.capa()
    finally:
        for client in clients:
            client.quit()


def test_loads_are_seen_across_fork() -> None:
    loads = WorkerLoads(2)
    mine = loads.for_slot(0)
    pid = os.fork()
    if pid == 0:  # the other worker opens two connections
        other = loads.for_slot(1)
        other.opened()
        other.opened()
        os._exit(0)
    os.waitpid(pid, 0)
    assert loads.counts() == [0, 2]
    assert not mine.should_wait()
    for _ in range(3):
        mine.opened()
    assert mine.should_wait()  # 3 against 2: leave the next one to the other
    mine.closed()
    assert not mine.should_wait()  # 2 against 2
    for _ in range(5):
        mine.closed()
    assert loads.counts() == [0, 2]  # never below zero

"""Reading tshark's reference output in /work/shared/captures/reference/ (README there)."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

CAPTURES = Path(__file__).parents[2].parent / "shared" / "captures"
REFERENCE = CAPTURES / "reference"


@dataclass(slots=True)
class FollowStream:
    """One `tshark -z follow,tcp,ascii,N` block: node 0, node 1 and the chunks."""

    index: int
    node0: tuple[str, int]
    node1: tuple[str, int]
    chunks: list[tuple[int, bytes]] = field(default_factory=list)  # (node, bytes as printed)

    def side(self, node: int) -> bytes:
        return b"".join(data for n, data in self.chunks if n == node)


def capture_files() -> list[Path]:
    if not CAPTURES.is_dir():
        return []
    return sorted(
        p
        for p in CAPTURES.rglob("*")
        if p.suffix in (".pcap", ".pcapng") and REFERENCE not in p.parents
    )


def reference_dir(capture: Path) -> Path:
    return REFERENCE / capture.relative_to(CAPTURES).with_suffix("")


_NODE = re.compile(rb"Node ([01]): (?:\[(.*)\]|(.*)):(\d+)\n")


def parse_follow(path: Path) -> list[FollowStream]:
    text = path.read_bytes()
    streams: list[FollowStream] = []
    sep = b"=" * 67 + b"\n"
    pos = 0
    while True:
        start = text.find(sep + b"Follow: tcp,ascii\n", pos)
        if start < 0:
            return streams
        pos = start + len(sep)
        line_end = text.index(b"\n", pos)  # Follow:
        filt_end = text.index(b"\n", line_end + 1)
        index = int(text[line_end + 1 : filt_end].rsplit(b" ", 1)[1])
        nodes: list[tuple[str, int]] = []
        pos = filt_end + 1
        for _ in range(2):
            m = _NODE.match(text, pos)
            assert m, text[pos : pos + 80]
            addr = (m.group(2) if m.group(2) is not None else m.group(3)).decode()
            nodes.append((addr, int(m.group(4))))
            pos = m.end()
        stream = FollowStream(index, nodes[0], nodes[1])
        while not text.startswith(sep, pos):
            node = 0
            if text[pos : pos + 1] == b"\t":
                node, pos = 1, pos + 1
            nl = text.index(b"\n", pos)
            count = int(text[pos:nl])
            data = text[nl + 1 : nl + 1 + count]
            stream.chunks.append((node, data))
            pos = nl + 1 + count + 1
        streams.append(stream)
        pos += len(sep)


def printable(data: bytes) -> bytes:
    """The bytes as tshark's follow,ascii prints them: 8-bit and control bytes as '.'."""
    return data.translate(_PRINTABLE)


_PRINTABLE = bytes(b if (0x20 <= b < 0x7F or b in (0x0A, 0x0D)) else 0x2E for b in range(256))


@dataclass(frozen=True, slots=True)
class CommandRow:
    frame: int
    stream: int
    direction: str
    protocol: str
    fields: dict[str, str]


def parse_commands(path: Path) -> list[CommandRow]:
    rows: list[CommandRow] = []
    with path.open(newline="", encoding="utf-8", errors="replace") as fh:
        reader = csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        for row in reader:
            rows.append(
                CommandRow(
                    int(row["frame.number"]),
                    int(row["tcp.stream"]),
                    row["direction"],
                    row["protocol"],
                    {k: v for k, v in row.items() if v},
                )
            )
    return rows

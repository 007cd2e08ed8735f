"""Analyzer benchmark: `posthouse analyze --format json` on a synthesized capture of at
least 100 MB of mail traffic, side by side with tshark.

    python benchmarks/analyze.py [--mb 110] [--keep FILE] [--rounds 1]

The capture (classic pcap, Ethernet, IPv4) holds complete SMTP submission sessions
(greeting, EHLO, AUTH PLAIN, MAIL, RCPT, DATA with a 20-200 KB MIME message, QUIT) and
POP3 sessions (USER/PASS, LIST, RETR of the same messages, QUIT), with 1448-byte
segments and an ACK for every two segments, as a real capture has them.

Timed, each as a separate process reading the same file:
  1. posthouse analyze --format json FILE > /dev/null
  2. tshark -r FILE -T fields -e smtp.req.command -e smtp.response.code   (all packets)
  3. tshark -r FILE -q -z follow,tcp,ascii,0                           (one stream)

Reported for each: wall time, CPU time (user + system), and packets/s and MB/s
(capture file size) per CPU second, the figure that survives a busy machine.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MSS = 1448
CLIENT_MAC = b"\x02\x00\x00\x00\x00\x01"
SERVER_MAC = b"\x02\x00\x00\x00\x00\x02"


class PcapWriter:
    def __init__(self, path: Path) -> None:
        self.fh = path.open("wb")
        # draft-ietf-opsawg-pcap: magic, 2.4, zone, sigfigs, snaplen, LINKTYPE_ETHERNET
        self.fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        self.packets = 0
        self.t_us = 1_700_000_000 * 1_000_000

    def packet(self, frame: bytes) -> None:
        self.t_us += 37
        self.fh.write(
            struct.pack(
                "<IIII", self.t_us // 1_000_000, self.t_us % 1_000_000, len(frame), len(frame)
            )
        )
        self.fh.write(frame)
        self.packets += 1

    def close(self) -> None:
        self.fh.close()


def _ip_tcp(
    src: bytes, dst: bytes, sport: int, dport: int, seq: int, ack: int, flags: int, payload: bytes
) -> bytes:
    tcp = struct.pack(
        "!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, flags, 65535, 0, 0
    )
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40 + len(payload), 0, 0x4000, 64, 6, 0, src, dst)
    return ip + tcp + payload


class Conn:
    """One TCP connection written packet by packet (handshake, data, ACKs, FIN)."""

    def __init__(self, w: PcapWriter, index: int, dport: int) -> None:
        self.w = w
        self.c_ip = bytes([10, 0, (index >> 8) & 0xFF, index & 0xFF])
        self.s_ip = bytes([10, 1, 0, 1])
        self.sport = 20000 + index % 40000
        self.dport = dport
        self.seq = {True: 1000, False: 5000}  # True: client
        self.unacked = {True: 0, False: 0}
        self._send(True, 0x02, b"", ack=0)  # SYN
        self.seq[True] += 1
        self._send(False, 0x12, b"")  # SYN-ACK
        self.seq[False] += 1
        self._send(True, 0x10, b"")

    def _send(self, from_client: bool, flags: int, payload: bytes, ack: int | None = None) -> None:
        src, dst = (self.c_ip, self.s_ip) if from_client else (self.s_ip, self.c_ip)
        sp, dp = (self.sport, self.dport) if from_client else (self.dport, self.sport)
        eth = (SERVER_MAC + CLIENT_MAC) if from_client else (CLIENT_MAC + SERVER_MAC)
        a = self.seq[not from_client] if ack is None else ack
        self.w.packet(
            eth + b"\x08\x00" + _ip_tcp(src, dst, sp, dp, self.seq[from_client], a, flags, payload)
        )

    def send(self, from_client: bool, data: bytes) -> None:
        for i in range(0, len(data), MSS):
            chunk = data[i : i + MSS]
            self._send(from_client, 0x18, chunk)
            self.seq[from_client] += len(chunk)
            self.unacked[from_client] += 1
            if self.unacked[from_client] >= 2:
                self._send(not from_client, 0x10, b"")  # delayed ACK every two segments
                self.unacked[from_client] = 0
        if self.unacked[from_client]:
            self._send(not from_client, 0x10, b"")
            self.unacked[from_client] = 0

    def close(self) -> None:
        self._send(True, 0x11, b"")
        self.seq[True] += 1
        self._send(False, 0x11, b"")
        self.seq[False] += 1
        self._send(True, 0x10, b"")


def make_message(rng: random.Random, n: int) -> bytes:
    size = rng.randint(20_000, 200_000)
    attachment = base64.encodebytes(rng.randbytes(size * 3 // 4)).replace(b"\n", b"\r\n")
    return (
        (
            f"From: Alice <alice@example.test>\r\nTo: bob@example.test\r\n"
            f"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe_{n}?=\r\nMessage-ID: <{n}@example.test>\r\n"
            "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
            "--b\r\nContent-Type: text/plain\r\n\r\nHello Bob.\r\n.. a stuffed line\r\n"
            "--b\r\nContent-Type: application/octet-stream\r\n"
            'Content-Disposition: attachment; filename="data.bin"\r\n'
            "Content-Transfer-Encoding: base64\r\n\r\n"
        ).encode()
        + attachment
        + b"--b--\r\n"
    )


def smtp_session(w: PcapWriter, index: int, msg: bytes) -> None:
    c = Conn(w, index, 587)
    c.send(False, b"220 mail.example.test ESMTP posthouse\r\n")
    c.send(True, b"EHLO client.example\r\n")
    c.send(
        False,
        b"250-mail.example.test\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n"
        b"250-AUTH PLAIN LOGIN\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n",
    )
    plain = base64.b64encode(b"\0alice@example.test\0alicepw-Secret1")
    c.send(True, b"AUTH PLAIN " + plain + b"\r\n")
    c.send(False, b"235 2.7.0 Authentication successful\r\n")
    c.send(True, b"MAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n")
    c.send(False, b"250 2.1.0 OK\r\n250 2.1.5 OK\r\n354 End data with <CR><LF>.<CR><LF>\r\n")
    c.send(True, msg + b".\r\n")
    c.send(False, b"250 2.0.0 OK queued\r\n")
    c.send(True, b"QUIT\r\n")
    c.send(False, b"221 2.0.0 Bye\r\n")
    c.close()


def pop3_session(w: PcapWriter, index: int, msgs: list[bytes]) -> None:
    c = Conn(w, index, 110)
    c.send(False, b"+OK POP3 ready\r\n")
    c.send(True, b"USER bob@example.test\r\n")
    c.send(False, b"+OK\r\n")
    c.send(True, b"PASS bobpw-Secret2\r\n")
    c.send(False, b"+OK logged in\r\n")
    c.send(True, b"LIST\r\n")
    listing = b"".join(f"{i} {len(m)}\r\n".encode() for i, m in enumerate(msgs, 1))
    c.send(False, b"+OK\r\n" + listing + b".\r\n")
    for i, m in enumerate(msgs, 1):
        c.send(True, f"RETR {i}\r\n".encode())
        c.send(False, f"+OK {len(m)} octets\r\n".encode() + m + b".\r\n")
    c.send(True, b"QUIT\r\n")
    c.send(False, b"+OK bye\r\n")
    c.close()


def synthesize(path: Path, megabytes: int) -> int:
    rng = random.Random(5)
    w = PcapWriter(path)
    index = 0
    while w.fh.tell() < megabytes * 1_000_000:
        msgs = [make_message(rng, index * 10 + k) for k in range(4)]
        for m in msgs:
            index += 1
            smtp_session(w, index, m)
        index += 1
        pop3_session(w, index, msgs)
    w.close()
    return w.packets


def timed(command: list[str], rounds: int) -> tuple[float, float]:
    """Best wall time and best CPU time (user + system of the child) over `rounds`.
    CPU time is the fairer figure on a machine shared with other work."""
    best_wall = best_cpu = float("inf")
    for _ in range(rounds):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        best_wall, best_cpu = min(best_wall, wall), min(best_cpu, cpu)
    return best_wall, best_cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=110, help="capture size to synthesize, in MB")
    ap.add_argument("--keep", type=Path, default=None, help="keep the capture at this path")
    ap.add_argument("--rounds", type=int, default=1, help="timed rounds (best is reported)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "mail.pcap"
        t0 = time.perf_counter()
        packets = synthesize(path, args.mb)
        size = path.stat().st_size
        print(
            f"capture: {path} {size / 1e6:.1f} MB, {packets} packets "
            f"(synthesized in {time.perf_counter() - t0:.1f} s)"
        )
        runs = {
            "posthouse analyze --format json": [
                sys.executable,
                "-m",
                "posthouse",
                "analyze",
                "--format",
                "json",
                str(path),
            ],
        }
        tshark = shutil.which("tshark")
        if tshark:
            runs["tshark -T fields smtp.req.command,smtp.response.code"] = [
                tshark,
                "-n",
                "-r",
                str(path),
                "-T",
                "fields",
                "-e",
                "smtp.req.command",
                "-e",
                "smtp.response.code",
            ]
            runs["tshark -q -z follow,tcp,ascii,0"] = [
                tshark,
                "-n",
                "-r",
                str(path),
                "-q",
                "-z",
                "follow,tcp,ascii,0",
            ]
        else:
            print("tshark not installed: posthouse alone")
        env_note = {"cpus": os.cpu_count()}
        results = {}
        print(f"{'command':56} {'wall s':>7} {'cpu s':>7} {'packets/s':>10} {'MB/s':>6}")
        for name, command in runs.items():
            wall, cpu = timed(command, args.rounds)
            results[name] = {
                "wall_seconds": round(wall, 3),
                "cpu_seconds": round(cpu, 3),
                "packets_per_cpu_s": round(packets / cpu),
                "mb_per_cpu_s": round(size / 1e6 / cpu, 2),
                "packets_per_wall_s": round(packets / wall),
                "mb_per_wall_s": round(size / 1e6 / wall, 2),
            }
            r = results[name]
            print(
                f"{name:56} {wall:7.2f} {cpu:7.2f} {r['packets_per_cpu_s']:10,} "
                f"{r['mb_per_cpu_s']:6.1f}"
            )
        print("(packets/s and MB/s per CPU second of the process; wall times depend on load)")
        print(json.dumps({"bytes": size, "packets": packets, "results": results, **env_note}))


if __name__ == "__main__":
    main()

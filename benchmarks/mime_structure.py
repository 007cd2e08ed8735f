"""Time the pure MIME functions behind FETCH ENVELOPE and BODYSTRUCTURE, no server.

    python benchmarks/mime_structure.py [--messages 3000]

Builds messages shaped like everyday mail (a dozen trace and DKIM header fields;
one third text/plain, one third multipart/alternative, one third mixed with a base64
attachment of 2-60 kB) and prints microseconds per message for each step.
"""

from __future__ import annotations

import argparse
import base64
import random
import time
from collections.abc import Callable

from posthouse.mime.bodystructure import body_structure
from posthouse.mime.envelope import envelope
from posthouse.mime.tree import parse
from posthouse.proto.imap.response import encode_value


def message(i: int, rnd: random.Random) -> bytes:
    header = "".join(
        f"Received: from mx{j}.example.net (mx{j}.example.net [192.0.2.{j}])\r\n"
        f"\tby mail.example.org with ESMTPS id abc{i}{j}\r\n"
        "\tfor <user@example.org>; Thu, 26 Nov 2026 12:00:00 +0000\r\n"
        for j in range(4)
    )
    header += (
        "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.net; s=s;\r\n"
        f"\th=from:to:subject:date; bh={'A' * 44};\r\n\tb={'B' * 300}\r\n"
        f'From: "Sender {i}" <sender{i}@example.net>\r\n'
        f"To: Recipient <user@example.org>, other{i}@example.org\r\n"
        "Cc: team@example.org\r\n"
        f"Subject: =?utf-8?q?Report_{i}?= and more words\r\n"
        f"Date: Thu, 26 Nov 2026 12:00:{i % 60:02d} +0000\r\n"
        f"Message-ID: <{i}.abc@example.net>\r\nMIME-Version: 1.0\r\n"
    )
    text = "Lorem ipsum dolor sit amet, consectetur adipiscing elit.\r\n" * rnd.randint(5, 60)
    if i % 3 == 0:
        return (header + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + text).encode()
    alternative = (
        "--alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text + "--alt\r\n"
        "Content-Type: text/html; charset=utf-8\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n<p>" + text + "</p>\r\n--alt--\r\n"
    )
    if i % 3 == 1:
        return (
            header + 'Content-Type: multipart/alternative; boundary="alt"\r\n\r\n' + alternative
        ).encode()
    attachment = base64.encodebytes(rnd.randbytes(rnd.randint(2000, 60000))).decode()
    return (
        header + 'Content-Type: multipart/mixed; boundary="mix"\r\n\r\n--mix\r\n'
        'Content-Type: multipart/alternative; boundary="alt"\r\n\r\n' + alternative + "--mix\r\n"
        'Content-Type: application/pdf; name="report.pdf"\r\n'
        'Content-Disposition: attachment; filename="report.pdf"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n"
        + attachment.replace("\n", "\r\n")
        + "--mix--\r\n"
    ).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=3000)
    args = parser.parse_args()
    rnd = random.Random(1)
    messages = [message(i, rnd) for i in range(args.messages)]
    steps: list[tuple[str, Callable[[bytes], object]]] = [
        ("envelope", envelope),
        ("parse", parse),
        ("bodystructure", lambda raw: body_structure(raw, extensible=True)),
        (
            "both, encoded",
            lambda raw: (
                encode_value(envelope(raw)),
                encode_value(body_structure(raw, extensible=True)),
            ),
        ),
    ]
    print(f"{len(messages)} messages, {sum(map(len, messages)) // len(messages)} octets each")
    for name, step in steps:
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            for raw in messages:
                step(raw)
            best = min(best, time.perf_counter() - start)
        print(f"{name:15s} {best / len(messages) * 1e6:8.1f} us/message")


if __name__ == "__main__":
    main()

"""Differential test: ENVELOPE, BODY and BODYSTRUCTURE next to a real Dovecot's.

A private Dovecot instance (its own config, base and state directories, no
listeners) reads the same messages from a Maildir and `doveadm fetch` prints its
answers.  Skipped when Dovecot is not installed or will not start.  Where the two
differ on purpose, DIFFERENT says why; everything else must match byte for byte,
with multipart bodies and addresses written back to back as RFC 9051 §9 has them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from posthouse.mime.bodystructure import body_structure
from posthouse.mime.envelope import envelope
from tests.mime.imaptext import crlf, wire_with_runs

CORPUS = {
    "simple": (
        "From: A <a@b.test>\nTo: c@d.test\nSubject: hi\n"
        "Date: Thu, 26 Nov 2026 12:00:00 +0000\nMessage-ID: <1@b.test>\n\nhello\n"
        "world\n"
    ),
    "no-content-type-empty-body": "Subject: x\n\n",
    "html-no-charset": "MIME-Version: 1.0\nContent-Type: text/html\n\n<b>x</b>\n",
    "alternative": (
        'MIME-Version: 1.0\nContent-Type: multipart/alternative; boundary="alt"\n\n'
        "--alt\nContent-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: quoted-printable\n\nCaf=C3=A9\n\n--alt\n"
        "Content-Type: text/html; charset=utf-8\n\n<p>x</p>\n\n--alt--\n"
    ),
    "mixed-attachment": (
        "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=mix\n\n--mix\n"
        "Content-Type: text/plain\n\nsee attached\n--mix\n"
        'Content-Type: application/pdf; name="a.pdf"\n'
        'Content-Disposition: attachment; filename="a.pdf"; size=5\n'
        "Content-Transfer-Encoding: base64\nContent-ID: <pdf@x>\n"
        "Content-Description: the pdf\n\nJVBERi0=\n--mix--\n"
    ),
    "nested-rfc822": (
        "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=o\n\n--o\n"
        "Content-Type: message/rfc822\n\nFrom: in@x.test\nSubject: inner\n"
        "Content-Type: multipart/alternative; boundary=i\n\n--i\n\nplain\n--i\n"
        "Content-Type: text/html\n\nhtml\n--i--\n--o--\n"
    ),
    "digest": (
        "Content-Type: multipart/digest; boundary=d\n\n--d\n\nFrom: x@y.test\n"
        "Subject: one\n\nfirst\n--d\nContent-Type: text/plain\n\nplain\n--d--\n"
    ),
    "groups": (
        "From: user@domain (Real Name)\n"
        "To: group: g1@d1.org, g2@d2.org;, group2: g3@d3.org;\n"
        "Cc: group:;, group2: (foo) ;\nBcc: Undisclosed recipients:;\n\nbody\n"
    ),
    "encoded-words": (
        "Subject: =?utf-8?q?caf=C3=A9?=\n  and more\n"
        "From: =?iso-8859-1?q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>\n\nx\n"
    ),
    "no-from": "To: a@b.test\nSubject: s\n\nx\n",
    "undisclosed": "To: undisclosed-recipients\nFrom: <>\n\nx\n",
    "broken-angle": "From: Name <broken@x.test\nTo: a@b.test (comment), c@d.test\n\nx\n",
    "route": "From: <@a.test,@b.test:joe@c.test>\n\nx\n",
    "quoted-local": 'From: "quoted local"@example.org, "Doe, John" <j@x.test>\n\nx\n',
    "dotted-phrase": (
        "From: John Q. Public <jqp@x.test>\n"
        "To: Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>\n\nx\n"
    ),
    "missing-boundary": "Content-Type: multipart/mixed\n\n--x\n\nhello\n--x--\n",
    "missing-close": "Content-Type: multipart/mixed; boundary=x\n\n--x\n\nhello\n--x\n\nworld\n",
    "empty-multipart": "Content-Type: multipart/mixed; boundary=foo\n\n",
    "invalid-cte": "Content-Type: text/plain\nContent-Transfer-Encoding: ?invalid\n\nx\n",
    "uppercase": (
        "Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\n"
        "Content-Transfer-Encoding: BASE64\n\naGVsbG8=\n"
    ),
    "rfc2231": (
        "Content-Type: application/x-stuff;\n"
        " title*0*=us-ascii'en'This%20is%20even%20more%20; title*1=fun\n"
        "Content-Disposition: attachment; filename*=utf-8''r%C3%A9sum%C3%A9.pdf\n\nx\n"
    ),
    "languages": (
        "Content-Type: text/plain\nContent-Language: en, fi, se\n"
        "Content-Location: http://example.com/x\n"
        "Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\n\nx\n"
    ),
    "ct-comment": "Content-Type: text/plain; charset=us-ascii (Plain text)\n\nx\n",
    "unquoted-boundary-eq": (
        "Content-Type: multipart/alternative; boundary=----=_NextPart_000\n\n"
        "------=_NextPart_000\nContent-Type: text/plain\n\na\n------=_NextPart_000--\n"
    ),
    "delimiter-padding": (
        "Content-Type: multipart/mixed; boundary=b\n\npre\n--b  \n\none\n--b\t\n\ntwo\n"
        "--b--  \nepi\n"
    ),
    "prefix-boundary": (
        "Content-Type: multipart/mixed; boundary=x\n\n--x\n"
        "Content-Type: multipart/mixed; boundary=x-1\n\n--x-1\n\ninner\n--x-1--\n"
        "--x--\n"
    ),
    "rfc822-no-header": "Content-Type: message/rfc822\n\n\nbody only\n",
    "dup-headers": (
        "Subject: first\nSubject: second\nContent-Type: text/html\n"
        "Content-Type: text/plain\nFrom: a@b.test\nFrom: c@d.test\n\nx\n"
    ),
    "garbage-lines": "Subject: s\nthis is not a header\nFrom: a@b.test\n\nx\n",
    "folded-tabs": "Subject: a\n\tb\n\tc\nFrom: A\n\t<a@b.test>\n\nx\n",
    "eight-bit": (
        "Subject: Grüße\nFrom: Jörg <j@b.test>\n"
        "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
        "ü\n"
    ),
    "empty-subject": "Subject:\nFrom: user\n\nx\n",
    "part-without-header": "Content-Type: multipart/mixed; boundary=b\n\n--b\n\nno header\n--b--\n",
    "quoted-pair-param": (
        'Content-Type: text/x-myown; charset=us-ascii; foo="quoted\\"string"\n\nx\n'
    ),
    "disposition-only": "Content-Type: image/png\nContent-Disposition: inline\n\nx\n",
    "broken-type": "Content-Type: multipart\n\nx\n",
    "type-no-subtype": "Content-Type: text\n\nx\n",
    "message-global": "Content-Type: message/global\n\nSubject: g\n\nbody\n",
    "sender-replyto": (
        "From: a@b.test\nSender: s@b.test\nReply-To: r@b.test, q@b.test\nIn-Reply-To: <x@y>\n\nx\n"
    ),
    "deep-alt-in-mixed": (
        "Content-Type: multipart/mixed; boundary=1\n\n--1\n"
        "Content-Type: multipart/related; boundary=2\n\n--2\n"
        "Content-Type: multipart/alternative; boundary=3\n\n--3\n\nt\n--3\n"
        "Content-Type: text/html\n\nh\n--3--\n--2\nContent-Type: image/gif\n"
        "Content-ID: <i>\n\nGIF\n--2--\n--1\nContent-Type: application/octet-stream\n\n"
        "bin\n--1--\n"
    ),
    "cte-comment": "Content-Transfer-Encoding: 8bit (comment)\n\nx\n",
    "group-in-group-garbage": "To: a: b: c@d;;, e@f\n\nx\n",
    "name-with-at": 'From: "a@b" <c@d.test>\nTo: foo bar@baz.test\n\nx\n',
    "domain-literal": "From: joe@[192.0.2.1]\n\nx\n",
    "nul-in-header": "Subject: a\x00b\n\nx\n",
}

# (message, item) pairs where this module differs from Dovecot 2.3 on purpose.
_DIFFERENT = {
    # RFC 2046 §5.1.1: the CRLF before the outer delimiter belongs to it, also when
    # the line before is the inner close delimiter (Dovecot counts it in the part).
    ("nested-rfc822", "imap.bodystructure"),
    ("nested-rfc822", "imap.body"),
    # RFC 5322 §2.2.3: unfolding removes the CRLF only (Dovecot also makes the white
    # space after it one space, and sends the string as a literal).
    ("encoded-words", "imap.envelope"),
    ("folded-tabs", "imap.envelope"),
    # RFC 2231 parameters are passed as sent (Dovecot joins continuations).
    ("rfc2231", "imap.bodystructure"),
    ("rfc2231", "imap.body"),
    # An unquoted boundary is read up to ";" (Dovecot stops at the "=").
    ("unquoted-boundary-eq", "imap.bodystructure"),
    ("unquoted-boundary-eq", "imap.body"),
    # RFC 2045 §5.2: an invalid Content-Type means text/plain.
    ("broken-type", "imap.bodystructure"),
    ("broken-type", "imap.body"),
    ("type-no-subtype", "imap.bodystructure"),
    ("type-no-subtype", "imap.body"),
    # RFC 2045 §5.1: comments may follow the mechanism (Dovecot then says 7bit).
    ("cte-comment", "imap.bodystructure"),
    ("cte-comment", "imap.body"),
    # Garbage in an address list: reading resumes at the next comma.
    ("group-in-group-garbage", "imap.envelope"),
}
ITEMS = ("imap.envelope", "imap.bodystructure", "imap.body")


@pytest.fixture(scope="module")
def dovecot_answers() -> Iterator[dict[str, dict[str, bytes]]]:
    dovecot, doveadm = shutil.which("dovecot") or "/usr/sbin/dovecot", shutil.which("doveadm")
    if doveadm is None or not Path(dovecot).exists():
        pytest.skip("Dovecot is not installed")
    base = Path(tempfile.mkdtemp(prefix="posthouse-mime-dovecot-"))
    names = list(CORPUS)
    try:
        for sub in ("mail/u/cur", "mail/u/new", "mail/u/tmp", "run", "state"):
            (base / sub).mkdir(parents=True)
        for uid, name in enumerate(names, 1):
            (base / f"mail/u/cur/{1000 + uid}.{uid}.posthouse:2,").write_bytes(crlf(CORPUS[name]))
        for path in [base, *base.rglob("*")]:
            path.chmod(0o777 if path.is_dir() else 0o666)
        conf = base / "dovecot.conf"
        conf.write_text(
            f"base_dir = {base}/run\nstate_dir = {base}/state\n"
            f"instance_name = posthouse-mime-{os.getpid()}\nprotocols =\nssl = no\n"
            f"mail_location = maildir:{base}/mail/%u\nfirst_valid_uid = 1\n"
            f"mail_privileged_group =\nlog_path = {base}/dovecot.log\n"
            "passdb {\n  driver = static\n  args = nopassword=y\n}\n"
            "userdb {\n  driver = static\n"
            f"  args = uid=nobody gid=nogroup home={base}/mail/%u\n}}\n"
        )
        # The daemon keeps whatever it inherits open: no pipes, or run() never returns.
        started = subprocess.run(
            [dovecot, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        if started.returncode != 0:
            pytest.skip("Dovecot did not start")
        try:
            fetched = None
            for _ in range(20):
                result = subprocess.run(
                    [
                        doveadm,
                        "-f",
                        "json",
                        "-c",
                        str(conf),
                        "fetch",
                        "-u",
                        "u",
                        "uid " + " ".join(ITEMS),
                        "mailbox",
                        "INBOX",
                        "all",
                    ],
                    capture_output=True,
                )
                if result.returncode == 0:
                    fetched = result.stdout
                    break
                time.sleep(0.2)  # the auth service may not listen yet
        finally:
            subprocess.run(
                [dovecot, "-c", str(conf), "stop"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        if fetched is None:
            pytest.skip("doveadm fetch failed")
        rows = json.loads(fetched.decode("utf-8", "surrogateescape"))
        yield {
            names[int(row["uid"]) - 1]: {
                item: row[item].encode("utf-8", "surrogateescape") for item in ITEMS
            }
            for row in rows
        }
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize("name", list(CORPUS))
def test_same_as_dovecot(
    runs: None, dovecot_answers: dict[str, dict[str, bytes]], name: str
) -> None:
    raw = crlf(CORPUS[name])
    ours = {
        "imap.envelope": wire_with_runs(envelope(raw))[1:-1],
        "imap.bodystructure": wire_with_runs(body_structure(raw, extensible=True))[1:-1],
        "imap.body": wire_with_runs(body_structure(raw, extensible=False))[1:-1],
    }
    theirs = dovecot_answers[name]
    for item in ITEMS:
        if (name, item) in _DIFFERENT:
            assert ours[item] != theirs[item], f"{name} {item} now matches Dovecot"
        else:
            assert ours[item] == theirs[item], item

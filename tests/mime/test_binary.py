"""BINARY[part] and BINARY.SIZE[part] (RFC 3516 §4.2, §4.3)."""

from __future__ import annotations

import base64
import binascii

import pytest

from posthouse.mime.sections import UnknownTransferEncoding, binary, binary_size
from posthouse.mime.transfer import decode, decode_base64
from tests.mime.imaptext import crlf

PAYLOAD = bytes(range(256)) * 3
B64 = base64.encodebytes(PAYLOAD).replace(b"\n", b"\r\n")
MESSAGE = (
    crlf(
        "Subject: binary\n"
        "Content-Type: multipart/mixed; boundary=b\n"
        "\n"
        "--b\n"
        "Content-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: quoted-printable\n"
        "\n"
        "Caf=C3=A9 au lait, a soft=\n"
        " break and =3D sign\n"
        "--b\n"
        "Content-Type: application/octet-stream\n"
        "Content-Transfer-Encoding: BASE64\n"
        "\n"
    )
    + B64
    + crlf(
        "--b\n"
        "Content-Type: text/plain\n"
        "Content-Transfer-Encoding: 8bit\n"
        "\n"
        "plain 8bit ü\n"
        "--b\n"
        "Content-Type: application/x-thing\n"
        "Content-Transfer-Encoding: x-uuencode\n"
        "\n"
        "begin 644 x\n"
        "--b\n"
        "Content-Type: text/plain\n"
        "\n"
        "no encoding header\n"
        "--b--\n"
    )
)


def test_quoted_printable_part() -> None:
    assert binary(MESSAGE, (1,)) == "Café au lait, a soft break and = sign".encode()
    assert binary_size(MESSAGE, (1,)) == len("Café au lait, a soft break and = sign".encode())


def test_base64_part_is_decoded_whatever_the_case_of_its_name() -> None:
    assert binary(MESSAGE, (2,)) == PAYLOAD
    assert binary_size(MESSAGE, (2,)) == len(PAYLOAD)


def test_identity_encodings_pass_through() -> None:
    assert binary(MESSAGE, (3,)) == "plain 8bit ü".encode()
    assert binary_size(MESSAGE, (3,)) == len("plain 8bit ü".encode())
    assert binary(MESSAGE, (5,)) == b"no encoding header"


def test_unknown_encoding_raises_for_unknown_cte() -> None:
    with pytest.raises(UnknownTransferEncoding) as caught:
        binary(MESSAGE, (4,))
    assert caught.value.encoding == b"x-uuencode"
    with pytest.raises(UnknownTransferEncoding):
        binary_size(MESSAGE, (4,))


def test_whole_message_and_missing_parts() -> None:
    assert binary(MESSAGE, ()) == MESSAGE
    assert binary_size(MESSAGE, ()) == len(MESSAGE)
    assert binary(MESSAGE, (9,)) == b""
    assert binary_size(MESSAGE, (9,)) == 0


def test_single_part_message_part_one() -> None:
    raw = crlf("Content-Transfer-Encoding: base64\n\naGVsbG8=\n")
    assert binary(raw, (1,)) == b"hello"


@pytest.mark.parametrize(
    ("encoded", "decoded"),
    [
        (b"aGVsbG8=", b"hello"),
        (b"aGVsbG8", b"hello"),  # missing padding
        (b"aGVs\r\nbG8=\r\n", b"hello"),
        (b"aGV*sbG8=", b"hello"),  # junk outside the alphabet is ignored
        (b"aGVsbG8=X", b"hello"),  # a stray character after the end
        (b"", b""),
        (b"====", b""),
    ],
)
def test_lenient_base64(encoded: bytes, decoded: bytes) -> None:
    assert decode_base64(encoded) == decoded


def test_decode_is_case_insensitive_and_defaults_to_identity() -> None:
    assert decode(b"=41", b"Quoted-Printable") == b"A"
    assert decode(b"=41", None) == b"=41"
    assert decode(b"x", b"Binary") == b"x"
    assert binascii.a2b_qp(b"a=\r\nb") == b"ab"

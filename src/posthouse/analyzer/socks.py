"""SOCKS5 (RFC 1928) in front of a mail session: the handshake is explained, a
username/password sub-negotiation (RFC 1929) is a credential, and what follows the
server's reply is the tunnelled protocol."""

from __future__ import annotations

import ipaddress

from posthouse.analyzer.dissector import Dissector
from posthouse.analyzer.model import CLIENT, SERVER, Credential, Line, Session

_METHODS = {0: "no authentication", 1: "GSSAPI", 2: "username/password", 0xFF: "none acceptable"}
_REPLIES = {
    0: "succeeded",
    1: "general failure",
    2: "not allowed by ruleset",
    3: "network unreachable",
    4: "host unreachable",
    5: "connection refused",
    6: "TTL expired",
    7: "command not supported",
    8: "address type not supported",
}


class SocksDissector(Dissector):
    protocol = "SOCKS"

    def __init__(self, session: Session, *, encrypted: bool = False, after_tls: bool = False):
        super().__init__(session, encrypted=encrypted, after_tls=after_tls)
        self.client_step = 0  # 0 greeting, 1 (auth), 2 request, 3 done
        self.server_step = 0  # 0 method, 1 (auth status), 2 reply, 3 done
        self.method: int | None = None
        self.target: tuple[str, int] | None = None
        self.failed = False

    def client_data(self) -> None:
        s = self.streams[CLIENT]
        while s.buf and self.client_step < 3:
            buf = s.buf
            frame, ts = s.where(0)
            if self.client_step == 0:
                # RFC 1928 §3: VER NMETHODS METHODS
                if len(buf) < 2 or len(buf) < 2 + buf[1]:
                    return
                methods = [_METHODS.get(m, hex(m)) for m in buf[2 : 2 + buf[1]]]
                s.consume(2 + buf[1])
                self.add(
                    Line(
                        frame,
                        ts,
                        CLIENT,
                        "SOCKS5 hello: " + ", ".join(methods),
                        "client offers ways to authenticate to the proxy (RFC 1928 §3)",
                    )
                )
                self.client_step = 1  # a username/password sub-negotiation may follow
            elif self.client_step == 1:
                if buf[:1] != b"\x01":
                    self.client_step = 2
                    continue
                # RFC 1929 §2: VER ULEN UNAME PLEN PASSWD
                if len(buf) < 2 or len(buf) < 3 + buf[1] or len(buf) < 3 + buf[1] + buf[2 + buf[1]]:
                    return
                ulen = buf[1]
                user = bytes(buf[2 : 2 + ulen]).decode("utf-8", "backslashreplace")
                plen = buf[2 + ulen]
                password = bytes(buf[3 + ulen : 3 + ulen + plen]).decode(
                    "utf-8", "backslashreplace"
                )
                s.consume(3 + ulen + plen)
                self.add(
                    Line(
                        frame,
                        ts,
                        CLIENT,
                        f"SOCKS5 login {user!r} / {password!r}",
                        "username and password in the clear (RFC 1929)",
                        "auth",
                    )
                )
                self.credential(Credential("SOCKS5", "USER/PASS", user, password, frame, False))
                self.client_step = 2
            else:
                # RFC 1928 §4: VER CMD RSV ATYP DST.ADDR DST.PORT
                got = _address(buf, 3)
                if got is None:
                    return
                host, port, size = got
                s.consume(size)
                self.target = (host, port)
                self.session.tunnel = f"SOCKS5 to {host}:{port}"
                self.add(
                    Line(
                        frame,
                        ts,
                        CLIENT,
                        f"SOCKS5 CONNECT {host}:{port}",
                        "client asks the proxy to connect (RFC 1928 §4)",
                    )
                )
                self.client_step = 3

    def server_data(self) -> None:
        s = self.streams[SERVER]
        while s.buf and self.server_step < 3:
            buf = s.buf
            frame, ts = s.where(0)
            if self.server_step == 0:
                if len(buf) < 2:
                    return
                self.method = buf[1]
                s.consume(2)
                self.add(
                    Line(
                        frame,
                        ts,
                        SERVER,
                        f"SOCKS5 method: {_METHODS.get(self.method, hex(self.method))}",
                        "proxy picks how the client authenticates",
                        "reply",
                    )
                )
                self.server_step = 1 if self.method == 2 else 2
            elif self.server_step == 1:
                if len(buf) < 2:
                    return
                ok = buf[1] == 0
                s.consume(2)
                for cred in self.session.credentials:
                    if cred.protocol == "SOCKS5":
                        cred.success = ok
                self.add(
                    Line(
                        frame,
                        ts,
                        SERVER,
                        "SOCKS5 login " + ("accepted" if ok else "refused"),
                        "",
                        "reply",
                    )
                )
                self.server_step = 2
            else:
                got = _address(buf, 3)
                if got is None:
                    return
                host, port, size = got
                rep = buf[1]
                s.consume(size)
                self.add(
                    Line(
                        frame,
                        ts,
                        SERVER,
                        f"SOCKS5 reply: {_REPLIES.get(rep, hex(rep))}",
                        f"bound {host}:{port}; the tunnelled session follows",
                        "reply",
                    )
                )
                self.server_step = 3
                self.failed = rep != 0
                if not self.failed:
                    self.upgraded = True


def _address(buf: bytearray, at: int) -> tuple[str, int, int] | None:
    """ATYP DST.ADDR DST.PORT starting at `at` (RFC 1928 §5): host, port, total size."""
    if len(buf) < at + 2:
        return None
    atyp = buf[at]
    if atyp == 1:
        end = at + 1 + 4
        host = str(ipaddress.IPv4Address(bytes(buf[at + 1 : end]))) if len(buf) >= end else ""
    elif atyp == 4:
        end = at + 1 + 16
        host = str(ipaddress.IPv6Address(bytes(buf[at + 1 : end]))) if len(buf) >= end else ""
    else:
        end = at + 2 + buf[at + 1]
        host = bytes(buf[at + 2 : end]).decode("ascii", "backslashreplace")
    if len(buf) < end + 2:
        return None
    return host, int.from_bytes(buf[end : end + 2], "big"), end + 2

"""SMTP (RFC 5321 and extensions): sans-IO protocol cores for both roles.

`ServerConnection` (server.py) turns a client's bytes into events and the session's
replies into bytes; `ClientConnection` (client.py) does the reverse for outbound
delivery and for the analyzer. Paths and parameters are parsed in address.py, the EHLO
keyword list is built and read in ehlo.py.
"""

from posthouse.proto.smtp.address import decode_xtext, encode_xtext, parse_params, parse_path
from posthouse.proto.smtp.client import ClientConnection
from posthouse.proto.smtp.ehlo import ServerFeatures, ehlo_lines, ehlo_reply, parse_ehlo
from posthouse.proto.smtp.events import NEED_DATA, PAUSED
from posthouse.proto.smtp.reply import LocalProtocolError, RemoteProtocolError, Reply, SMTPError
from posthouse.proto.smtp.server import ServerConnection, ServerLimits, State

__all__ = [
    "NEED_DATA",
    "PAUSED",
    "ClientConnection",
    "LocalProtocolError",
    "RemoteProtocolError",
    "Reply",
    "SMTPError",
    "ServerConnection",
    "ServerFeatures",
    "ServerLimits",
    "State",
    "decode_xtext",
    "ehlo_lines",
    "ehlo_reply",
    "encode_xtext",
    "parse_ehlo",
    "parse_params",
    "parse_path",
]

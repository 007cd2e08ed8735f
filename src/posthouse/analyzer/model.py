"""What the analyzer reports: sessions, transcript lines, credentials, messages, TLS
details and findings. Plain dataclasses; `report_json` turns them into the documented
JSON form, `report_text` and `report_html` into pages."""

from __future__ import annotations

from dataclasses import dataclass, field

CLIENT = "C"
SERVER = "S"


@dataclass(slots=True)
class Line:
    """One transcript line: a command, a reply line, a note about the stream."""

    frame: int
    time_ns: int
    sender: str  # "C", "S", or "" for a note from the analyzer (gap, TLS start)
    text: str  # as sent, decoded best effort (undecodable bytes as \\xNN)
    note: str = ""  # what it means
    kind: str = "command"  # command, reply, auth, data, tls, gap, note
    verb: str | None = None  # command verb, upper-case ("STARTTLS", "UID FETCH")
    argument: str | None = None  # the rest of the command line
    code: int | None = None  # SMTP reply code
    enhanced: str | None = None  # RFC 3463 enhanced status code
    status: str | None = None  # POP3 +OK/-ERR, IMAP OK/NO/BAD/PREAUTH/BYE
    tag: str | None = None  # IMAP tag
    decoded: str | None = None  # base64 decoded, when the line carries SASL data
    encrypted: bool = False  # seen inside TLS (decrypted with a key log)


@dataclass(slots=True)
class Credential:
    protocol: str
    mechanism: str  # USER/PASS, LOGIN, PLAIN, APOP, CRAM-MD5, NTLM, XOAUTH2, ...
    username: str | None
    password: str | None  # None when the mechanism does not carry one in the clear
    frame: int
    encrypted: bool  # False: sent in the clear, readable by anyone on the path
    success: bool | None = None  # None: the server's answer was not captured
    raw: list[str] = field(default_factory=list)  # the lines as sent (base64 forms)


@dataclass(slots=True)
class Attachment:
    filename: str | None
    content_type: str
    size: int


@dataclass(slots=True)
class Message:
    source: str  # DATA, BDAT, RETR, TOP, FETCH
    frame: int  # the frame that completed it
    raw: bytes
    mail_from: str | None = None  # SMTP envelope
    rcpt_to: list[str] = field(default_factory=list)
    complete: bool = True  # False: a gap or the end of the capture cut it
    encrypted: bool = False
    # Filled by messages.summarize():
    header_from: str = ""
    header_to: str = ""
    subject: str = ""
    date: str = ""
    message_id: str = ""
    attachments: list[Attachment] = field(default_factory=list)
    path: str | None = None  # where the .eml was written


@dataclass(slots=True)
class TlsInfo:
    version: str | None = None
    cipher_suite: str | None = None
    key_exchange: str | None = None
    authentication: str | None = None
    cipher: str | None = None
    hash: str | None = None
    sni: str | None = None
    alpn: list[str] = field(default_factory=list)
    offered_versions: list[str] = field(default_factory=list)
    offered_suites: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    certificates: list[dict[str, str]] = field(default_factory=list)
    curve: str | None = None
    alerts: list[str] = field(default_factory=list)
    application_bytes: dict[str, int] = field(default_factory=lambda: {"C": 0, "S": 0})
    decrypted: bool = False
    start_frame: int = 0
    how: str = ""  # "implicit" (TLS from the first byte) or "STARTTLS"/"STLS"
    problems: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Finding:
    severity: str  # "high", "medium", "low", "info"
    kind: str  # cleartext-credentials, no-tls, auth-before-starttls, weak-tls, spoofing, ...
    text: str
    session: int
    frame: int | None = None


@dataclass(slots=True)
class Session:
    index: int  # the TCP connection index (tshark's tcp.stream)
    client: str
    server: str
    protocol: str  # SMTP, POP3, IMAP, HTTPS, TLS, unknown
    protocol_reason: str  # how it was recognised: "port 25", "greeting", "--port", ...
    start_ns: int
    end_ns: int
    first_frame: int
    packets: int
    bytes_client: int
    bytes_server: int
    mid_stream: bool = False
    lines: list[Line] = field(default_factory=list)
    credentials: list[Credential] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    tls: TlsInfo | None = None
    auth_mechanisms_offered: list[str] = field(default_factory=list)
    auth_offered_in_clear: bool = False
    starttls_offered: bool = False
    auth_mechanism: str | None = None
    gaps: int = 0
    tunnel: str | None = None  # "SOCKS5 to host:port" when the session was tunnelled
    warnings: list[str] = field(default_factory=list)

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns


@dataclass(slots=True)
class Report:
    capture: str
    format: str  # pcap or pcapng
    frames: int
    start_ns: int
    sessions: list[Session]
    findings: list[Finding] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

"""The instance configuration: one TOML file, `posthouse.toml`, in the instance directory.

An instance directory holds everything one posthouse needs:

    posthouse.toml      this configuration
    data/posthouse.db   the SQLite store (WAL)
    data/blobs/         message files too large to keep inline
    tls/cert.pem        certificate chain (self-signed by `posthouse init`)
    tls/key.pem         its private key
"""

from __future__ import annotations

import os
import socket
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from posthouse.resolver.static import StaticResolver

CONFIG_NAME = "posthouse.toml"
ENV_DIR = "POSTHOUSE_DIR"
DEFAULT_DIR = "instance"


class ConfigError(Exception):
    pass


# protocol -> (default port, TLS mode).  POP3/IMAP/HTTPS ports are reserved here so
# a config written today keeps working when those listeners arrive.
LISTENER_DEFAULTS: dict[str, tuple[int, str]] = {
    "smtp": (2525, "starttls"),
    "submission": (2587, "starttls"),
    "submissions": (2465, "implicit"),
    "pop3": (2110, "starttls"),
    "pop3s": (2995, "implicit"),
    "imap": (2143, "starttls"),
    "imaps": (2993, "implicit"),
    "https": (8443, "implicit"),
    "http": (8080, "none"),  # optional: only redirects browsers to the https listener
}
TLS_MODES = ("none", "starttls", "implicit")


@dataclass(frozen=True)
class Listener:
    name: str  # a key of LISTENER_DEFAULTS
    address: str
    port: int
    tls: str  # one of TLS_MODES

    @property
    def protocol(self) -> str:
        """The protocol spoken: smtp (MTA), submission, pop3, imap or https."""
        return {"submissions": "submission", "pop3s": "pop3", "imaps": "imap"}.get(
            self.name, self.name
        )


@dataclass(frozen=True)
class SMTPSettings:
    max_message_size: int = 50 * 1024 * 1024
    max_recipients: int = 100  # RFC 5321 §4.5.3.1.8: at least 100 must be accepted
    max_errors: int = 10
    idle_timeout: float = 300.0  # RFC 5321 §4.5.3.2.7: 5 minutes between commands
    data_timeout: float = 600.0  # RFC 5321 §4.5.3.2.6 allows 10 minutes for data
    max_connections: int = 1000


@dataclass(frozen=True)
class POP3Settings:
    # RFC 1939 §3: an inactivity autologout timer "MUST be of at least 10 minutes".
    idle_timeout: float = 600.0
    max_errors: int = 10  # -ERR answers to bad commands before the server hangs up


@dataclass(frozen=True)
class IMAPSettings:
    # RFC 9051 §5.4: the autologout timer "MUST be at least 30 minutes" of inactivity.
    idle_timeout: float = 1800.0
    max_errors: int = 20  # BAD answers in a row before the server hangs up
    append_limit: int = 50 * 1024 * 1024  # RFC 7889 APPENDLIMIT: largest APPEND accepted
    max_connections_per_user: int = 50  # sessions one user may hold at once, per process


TLS_POLICIES = ("none", "may", "encrypt", "verify")
SMARTHOST_TLS = ("starttls", "implicit", "none")


@dataclass(frozen=True)
class RelaySettings:
    """Outbound delivery ([relay]): where mail for other domains goes and how."""

    # Port for hosts found by MX or A lookup; 25 on the Internet, 2525 in a lab.
    port: int = 25
    # domain -> "host:port" (a name or an IP address): used instead of MX lookups.
    routes: dict[str, str] = field(default_factory=dict)
    # "host:port" every other remote domain is relayed through; "" delivers by MX.
    smarthost: str = ""
    smarthost_tls: str = "starttls"  # one of SMARTHOST_TLS
    smarthost_username: str = ""
    smarthost_password: str = ""
    # TLS: none (never), may (STARTTLS when offered, certificate not checked, plaintext
    # when it fails), encrypt (STARTTLS required), verify (required, certificate checked).
    tls: str = "may"
    tls_policy: dict[str, str] = field(default_factory=dict)  # domain -> level
    tls_ca_file: str = ""  # CA bundle for "verify"; "" uses the system's
    helo_name: str = ""  # "" uses hostname
    source_address: str = ""  # local address outgoing connections come from
    # Seconds between attempts; the last one repeats until max_age.
    retry_schedule: tuple[float, ...] = (60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0)
    max_age: float = 5 * 24 * 3600.0  # then the sender gets a DSN
    concurrency: int = 20  # connections per destination
    connect_timeout: float = 30.0
    # RFC 5321 §4.5.3.2: client timeouts of 5 minutes per command, 10 for the final dot.
    command_timeout: float = 300.0
    data_timeout: float = 600.0
    poll_interval: float = 1.0  # seconds between looks at the queue when idle


@dataclass(frozen=True)
class Config:
    dir: Path
    hostname: str
    domain: str  # the first (primary) domain
    teaching_mode: bool = False
    workers: int = 1  # processes serving the listeners; >1 uses more cores
    listeners: tuple[Listener, ...] = ()
    smtp: SMTPSettings = field(default_factory=SMTPSettings)
    pop3: POP3Settings = field(default_factory=POP3Settings)
    imap: IMAPSettings = field(default_factory=IMAPSettings)
    tls_cert: Path = Path("tls/cert.pem")
    tls_key: Path = Path("tls/key.pem")
    tls_keylog: Path | None = None
    database: Path = Path("data/posthouse.db")
    blobs: Path = Path("data/blobs")
    log_level: str = "info"
    relay: RelaySettings = field(default_factory=RelaySettings)
    # [dns]: name -> {MX/A/AAAA/TXT/PTR/CNAME: records}; when present the servers ask
    # this table instead of real DNS (a lab on loopback), see posthouse.resolver.static.
    dns: dict[str, Any] | None = None

    def path(self, p: Path) -> Path:
        return p if p.is_absolute() else self.dir / p

    @property
    def database_path(self) -> Path:
        return self.path(self.database)

    @property
    def blob_dir(self) -> Path:
        return self.path(self.blobs)

    @property
    def cert_path(self) -> Path:
        return self.path(self.tls_cert)

    @property
    def key_path(self) -> Path:
        return self.path(self.tls_key)

    def listener(self, name: str) -> Listener | None:
        for li in self.listeners:
            if li.name == name:
                return li
        return None


def resolve_dir(directory: str | os.PathLike[str] | None) -> Path:
    """--dir wins, then $POSTHOUSE_DIR, then ./instance."""
    if directory:
        return Path(directory).resolve()
    env = os.environ.get(ENV_DIR)
    if env:
        return Path(env).resolve()
    return Path(DEFAULT_DIR).resolve()


def default_hostname() -> str:
    name = socket.gethostname() or "localhost"
    return name.lower()


def default_config_text(domain: str, hostname: str) -> str:
    """The TOML `posthouse init` writes: every setting present, with its default."""
    s = SMTPSettings()
    p = POP3Settings()
    i = IMAPSettings()
    lines = [
        "# posthouse configuration.  Paths are relative to this file's directory.",
        f'hostname = "{hostname}"',
        f'domain = "{domain}"',
        "# Teaching mode allows AUTH and USER/PASS over plaintext from anywhere and says so",
        "# in every greeting.  Keep it off unless you are showing how mail works.",
        "teaching_mode = false",
        "# Processes serving connections. 1 keeps everything in one process; 2 or more",
        "# share the listening sockets and use more CPU cores for higher throughput.",
        "workers = 1",
        'log_level = "info"',
        "",
        "[tls]",
        'cert = "tls/cert.pem"',
        'key = "tls/key.pem"',
        "# NSS key log for decrypting captures (posthouse analyze --keylog). Off when empty.",
        'keylog = ""',
        "",
        "[storage]",
        'database = "data/posthouse.db"',
        'blobs = "data/blobs"',
        "",
        "[smtp]",
        f"max_message_size = {s.max_message_size}",
        f"max_recipients = {s.max_recipients}",
        f"max_errors = {s.max_errors}",
        f"idle_timeout = {s.idle_timeout}",
        f"data_timeout = {s.data_timeout}",
        f"max_connections = {s.max_connections}",
        "",
        "[pop3]",
        "# RFC 1939 section 3: at least 600 seconds of inactivity before the autologout.",
        f"idle_timeout = {p.idle_timeout}",
        f"max_errors = {p.max_errors}",
        "",
        "[imap]",
        "# RFC 9051 section 5.4: at least 30 minutes of inactivity before the autologout.",
        f"idle_timeout = {i.idle_timeout}",
        f"max_errors = {i.max_errors}",
        "# The largest message APPEND accepts (RFC 7889 APPENDLIMIT).",
        f"append_limit = {i.append_limit}",
        f"max_connections_per_user = {i.max_connections_per_user}",
        "",
        *_relay_text(),
        "",
        "# One table per listener; remove a table (or set port = 0) to turn it off.",
        "# tls: none | starttls | implicit",
    ]
    for name in ("smtp", "submission", "submissions", "pop3", "pop3s", "imap", "imaps", "https"):
        port, tls = LISTENER_DEFAULTS[name]
        lines += [
            "",
            f"[listeners.{name}]",
            'address = "127.0.0.1"',
            f"port = {port}",
            f'tls = "{tls}"',
        ]
    lines += [
        "",
        "# Webmail is served on [listeners.https]; add [listeners.http] (port 8080,",
        '# tls = "none") to redirect browsers from plain HTTP to it.',
    ]
    return "\n".join(lines) + "\n"


def _get(table: dict[str, Any], key: str, kind: type, default: Any) -> Any:
    value = table.get(key, default)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{key}: expected {kind.__name__}, got {value!r}")
    return value


def parse_config(directory: Path, data: dict[str, Any]) -> Config:
    domain = _get(data, "domain", str, "").strip().lower()
    if not domain:
        raise ConfigError("domain: missing")
    hostname = _get(data, "hostname", str, default_hostname()).strip().lower()
    tls = data.get("tls", {})
    storage = data.get("storage", {})
    smtp = data.get("smtp", {})
    d = SMTPSettings()
    settings = SMTPSettings(
        max_message_size=_get(smtp, "max_message_size", int, d.max_message_size),
        max_recipients=_get(smtp, "max_recipients", int, d.max_recipients),
        max_errors=_get(smtp, "max_errors", int, d.max_errors),
        idle_timeout=_get(smtp, "idle_timeout", float, d.idle_timeout),
        data_timeout=_get(smtp, "data_timeout", float, d.data_timeout),
        max_connections=_get(smtp, "max_connections", int, d.max_connections),
    )
    if settings.max_message_size < 1 or settings.max_recipients < 1 or settings.max_errors < 1:
        raise ConfigError("smtp: max_message_size, max_recipients, max_errors must be positive")
    if min(settings.idle_timeout, settings.data_timeout) <= 0 or settings.max_connections < 1:
        raise ConfigError("smtp: timeouts and max_connections must be positive")
    pop3 = data.get("pop3", {})
    p = POP3Settings()
    pop3_settings = POP3Settings(
        idle_timeout=_get(pop3, "idle_timeout", float, p.idle_timeout),
        max_errors=_get(pop3, "max_errors", int, p.max_errors),
    )
    if pop3_settings.idle_timeout <= 0 or pop3_settings.max_errors < 1:
        raise ConfigError("pop3: idle_timeout and max_errors must be positive")
    imap = data.get("imap", {})
    im = IMAPSettings()
    imap_settings = IMAPSettings(
        idle_timeout=_get(imap, "idle_timeout", float, im.idle_timeout),
        max_errors=_get(imap, "max_errors", int, im.max_errors),
        append_limit=_get(imap, "append_limit", int, im.append_limit),
        max_connections_per_user=_get(
            imap, "max_connections_per_user", int, im.max_connections_per_user
        ),
    )
    if (
        imap_settings.idle_timeout <= 0
        or imap_settings.max_errors < 1
        or imap_settings.append_limit < 1
        or imap_settings.max_connections_per_user < 1
    ):
        raise ConfigError("imap: idle_timeout, max_errors and limits must be positive")
    listeners = []
    for name, table in data.get("listeners", {}).items():
        if name not in LISTENER_DEFAULTS:
            raise ConfigError(f"listeners.{name}: unknown listener")
        port, mode = LISTENER_DEFAULTS[name]
        port = _get(table, "port", int, port)
        mode = _get(table, "tls", str, mode)
        if mode not in TLS_MODES:
            raise ConfigError(f"listeners.{name}.tls: one of {', '.join(TLS_MODES)}")
        if not 0 <= port <= 65535:
            raise ConfigError(f"listeners.{name}.port: out of range")
        if port:
            address = _get(table, "address", str, "127.0.0.1")
            listeners.append(Listener(name, address, port, mode))
    keylog = _get(tls, "keylog", str, "")
    return Config(
        dir=directory,
        hostname=hostname,
        domain=domain,
        teaching_mode=_get(data, "teaching_mode", bool, False),
        workers=_workers(data),
        listeners=tuple(listeners),
        smtp=settings,
        pop3=pop3_settings,
        imap=imap_settings,
        tls_cert=Path(_get(tls, "cert", str, "tls/cert.pem")),
        tls_key=Path(_get(tls, "key", str, "tls/key.pem")),
        tls_keylog=Path(keylog) if keylog else None,
        database=Path(_get(storage, "database", str, "data/posthouse.db")),
        blobs=Path(_get(storage, "blobs", str, "data/blobs")),
        log_level=_get(data, "log_level", str, "info"),
        relay=_relay(data.get("relay", {})),
        dns=_dns(data),
    )


def _dns(data: dict[str, Any]) -> dict[str, Any] | None:
    table = data.get("dns")
    if table is None:
        return None
    try:
        StaticResolver.from_config(table)  # reject a bad table when the config loads
    except ValueError as e:
        raise ConfigError(str(e)) from None
    return dict(table)


def _relay_text() -> list[str]:
    r = RelaySettings()
    schedule = ", ".join(f"{int(s)}" for s in r.retry_schedule)
    return [
        "[relay]",
        "# Port for servers found by MX lookup (25 on the Internet).",
        f"port = {r.port}",
        '# Relay every remote domain through this "host:port" (empty: deliver by MX).',
        'smarthost = ""',
        "# starttls | implicit | none; AUTH only ever inside TLS.",
        f'smarthost_tls = "{r.smarthost_tls}"',
        'smarthost_username = ""',
        'smarthost_password = ""',
        "# none | may (STARTTLS when offered) | encrypt (required) | verify (+ certificate)",
        f'tls = "{r.tls}"',
        '# CA bundle for "verify" (empty: the system\'s).',
        'tls_ca_file = ""',
        "# Local address outgoing connections come from (empty: any).",
        'source_address = ""',
        "# Seconds between attempts (the last repeats), and the age that bounces.",
        f"retry_schedule = [{schedule}]",
        f"max_age = {int(r.max_age)}",
        "# Connections per destination.",
        f"concurrency = {r.concurrency}",
        "",
        '# Static routes: "domain" = "host:port", instead of MX lookups.',
        "[relay.routes]",
        "",
        '# TLS level per destination domain: "domain" = "verify".',
        "[relay.tls_policy]",
    ]


def _relay(table: Any) -> RelaySettings:
    if not isinstance(table, dict):
        raise ConfigError("relay: expected a table")
    d = RelaySettings()
    routes = table.get("routes", {})
    policy = table.get("tls_policy", {})
    if not isinstance(routes, dict) or not all(isinstance(v, str) for v in routes.values()):
        raise ConfigError('relay.routes: "domain" = "host:port" entries')
    if not isinstance(policy, dict) or not all(v in TLS_POLICIES for v in policy.values()):
        raise ConfigError(f"relay.tls_policy: each level one of {', '.join(TLS_POLICIES)}")
    schedule = table.get("retry_schedule", list(d.retry_schedule))
    if (
        not isinstance(schedule, list)
        or not schedule
        or not all(isinstance(s, int | float) and not isinstance(s, bool) for s in schedule)
        or min(schedule) <= 0
    ):
        raise ConfigError("relay.retry_schedule: a list of positive numbers of seconds")
    relay = RelaySettings(
        port=_get(table, "port", int, d.port),
        routes={k.strip().lower(): v.strip() for k, v in routes.items()},
        smarthost=_get(table, "smarthost", str, d.smarthost).strip(),
        smarthost_tls=_get(table, "smarthost_tls", str, d.smarthost_tls),
        smarthost_username=_get(table, "smarthost_username", str, d.smarthost_username),
        smarthost_password=_get(table, "smarthost_password", str, d.smarthost_password),
        tls=_get(table, "tls", str, d.tls),
        tls_policy={k.strip().lower(): v for k, v in policy.items()},
        tls_ca_file=_get(table, "tls_ca_file", str, d.tls_ca_file),
        helo_name=_get(table, "helo_name", str, d.helo_name).strip(),
        source_address=_get(table, "source_address", str, d.source_address).strip(),
        retry_schedule=tuple(float(s) for s in schedule),
        max_age=_get(table, "max_age", float, d.max_age),
        concurrency=_get(table, "concurrency", int, d.concurrency),
        connect_timeout=_get(table, "connect_timeout", float, d.connect_timeout),
        command_timeout=_get(table, "command_timeout", float, d.command_timeout),
        data_timeout=_get(table, "data_timeout", float, d.data_timeout),
        poll_interval=_get(table, "poll_interval", float, d.poll_interval),
    )
    if relay.tls not in TLS_POLICIES:
        raise ConfigError(f"relay.tls: one of {', '.join(TLS_POLICIES)}")
    if relay.smarthost_tls not in SMARTHOST_TLS:
        raise ConfigError(f"relay.smarthost_tls: one of {', '.join(SMARTHOST_TLS)}")
    if not 0 < relay.port <= 65535 or relay.concurrency < 1:
        raise ConfigError("relay: port out of range or concurrency below 1")
    if min(relay.max_age, relay.connect_timeout, relay.command_timeout) <= 0:
        raise ConfigError("relay: max_age and timeouts must be positive")
    if min(relay.data_timeout, relay.poll_interval) <= 0:
        raise ConfigError("relay: data_timeout and poll_interval must be positive")
    return relay


def _workers(data: dict[str, Any]) -> int:
    workers = _get(data, "workers", int, 1)
    if not 1 <= workers <= 64:
        raise ConfigError("workers: between 1 and 64")
    return int(workers)


def load_config(directory: Path) -> Config:
    path = directory / CONFIG_NAME
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no configuration (run `posthouse init`)") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: {e}") from None
    return parse_config(directory, data)

"""Short explanations for transcript lines: what a command asks for, what a reply
code or an enhanced status code means."""

from __future__ import annotations

# RFC 5321 §4.1.1 and the extensions' RFCs.
SMTP_COMMANDS = {
    "EHLO": "client introduces itself and asks for the server's extensions (RFC 5321 §4.1.1.1)",
    "HELO": "client introduces itself, no extensions (RFC 5321 §4.1.1.1)",
    "LHLO": "LMTP greeting (RFC 2033)",
    "MAIL": "starts a message: the envelope sender, where bounces go (RFC 5321 §4.1.1.2)",
    "RCPT": "one envelope recipient (RFC 5321 §4.1.1.3)",
    "DATA": "asks to send the message content (RFC 5321 §4.1.1.4)",
    "BDAT": "sends a chunk of the message of a given size (RFC 3030 §2)",
    "RSET": "abandons the current message (RFC 5321 §4.1.1.5)",
    "VRFY": "asks whether a mailbox exists (RFC 5321 §4.1.1.6)",
    "EXPN": "asks for the members of a mailing list (RFC 5321 §4.1.1.7)",
    "HELP": "asks for help (RFC 5321 §4.1.1.8)",
    "NOOP": "does nothing; keeps the connection alive (RFC 5321 §4.1.1.9)",
    "QUIT": "ends the session (RFC 5321 §4.1.1.10)",
    "STARTTLS": "asks to switch the connection to TLS (RFC 3207)",
    "AUTH": "starts a login with a SASL mechanism (RFC 4954)",
    "ETRN": "asks the server to deliver queued mail for a domain (RFC 1985)",
    "XCLIENT": "proxy passes the real client's details (Postfix extension)",
}

# RFC 5321 §4.2.2-§4.2.3 and the extensions.
SMTP_CODES = {
    211: "system status",
    214: "help message",
    220: "service ready",
    221: "closing the connection",
    235: "authentication succeeded (RFC 4954)",
    250: "requested action completed",
    251: "user not local; will forward",
    252: "cannot verify the user, will accept the message anyway",
    334: "authentication challenge (RFC 4954), base64",
    354: "start the message content; end with <CRLF>.<CRLF>",
    421: "service not available, closing the connection",
    432: "a password transition is needed (RFC 4954)",
    450: "mailbox unavailable (busy or blocked), try again later",
    451: "local error in processing, try again later",
    452: "insufficient storage or too many recipients, try again later",
    454: "temporary authentication failure or TLS not available",
    455: "server unable to accommodate parameters",
    500: "syntax error, command unrecognised",
    501: "syntax error in parameters or arguments",
    502: "command not implemented",
    503: "bad sequence of commands",
    504: "command parameter not implemented",
    521: "this host does not accept mail (RFC 7504)",
    530: "authentication required (RFC 4954)",
    534: "authentication mechanism is too weak (RFC 4954)",
    535: "authentication credentials invalid (RFC 4954)",
    538: "encryption required for this mechanism (RFC 4954)",
    550: "mailbox unavailable or rejected by policy",
    551: "user not local",
    552: "exceeded storage allocation or message too big",
    553: "mailbox name not allowed",
    554: "transaction failed",
    555: "MAIL/RCPT parameters not recognised or not implemented",
    556: "domain does not accept mail (RFC 7504)",
}

_SMTP_CLASS = {
    2: "success",
    3: "intermediate: more input needed",
    4: "temporary failure: try again later",
    5: "permanent failure",
}

# RFC 3463 §3 (classes), §3.1-§3.8 (subjects) and its detail codes.
_ENHANCED_CLASS = {"2": "success", "4": "persistent transient failure", "5": "permanent failure"}
_ENHANCED_SUBJECT = {
    "0": "other or undefined status",
    "1": "addressing",
    "2": "mailbox",
    "3": "mail system",
    "4": "network and routing",
    "5": "mail delivery protocol",
    "6": "message content or media",
    "7": "security or policy",
}
_ENHANCED_DETAIL = {
    "1.0": "other address status",
    "1.1": "bad destination mailbox address",
    "1.2": "bad destination system address",
    "1.3": "bad destination mailbox address syntax",
    "1.5": "destination address valid",
    "1.6": "destination mailbox has moved",
    "1.7": "bad sender's mailbox address syntax",
    "1.8": "bad sender's system address",
    "1.10": "recipient address has null MX (RFC 7505)",
    "2.0": "other or undefined mailbox status",
    "2.1": "mailbox disabled, not accepting messages",
    "2.2": "mailbox full",
    "2.3": "message length exceeds administrative limit",
    "3.0": "other or undefined mail system status",
    "3.4": "message too big for system",
    "4.0": "other or undefined network or routing status",
    "4.7": "delivery time expired",
    "5.0": "other or undefined protocol status",
    "5.1": "invalid command",
    "5.2": "syntax error",
    "5.3": "too many recipients",
    "5.4": "invalid command arguments",
    "6.0": "other or undefined media error",
    "7.0": "other or undefined security status",
    "7.1": "delivery not authorized, message refused",
    "7.8": "authentication credentials invalid (RFC 4954)",
    "7.9": "authentication mechanism is too weak (RFC 4954)",
    "7.11": "encryption required for requested authentication mechanism (RFC 4954)",
}


def smtp_command(verb: str) -> str:
    return SMTP_COMMANDS.get(verb, "unknown command")


def smtp_reply(code: int, enhanced: str | None) -> str:
    text = SMTP_CODES.get(code) or _SMTP_CLASS.get(code // 100, "not a valid reply code")
    if enhanced:
        text += f"; {enhanced} = {enhanced_status(enhanced)}"
    return text


def enhanced_status(code: str) -> str:
    """RFC 3463: class.subject.detail spelled out."""
    parts = code.split(".")
    if len(parts) != 3:
        return "malformed enhanced status code"
    klass = _ENHANCED_CLASS.get(parts[0], "unknown class")
    detail = _ENHANCED_DETAIL.get(f"{parts[1]}.{parts[2]}")
    subject = _ENHANCED_SUBJECT.get(parts[1], "unknown subject")
    return f"{klass}, {detail}" if detail else f"{klass}, {subject}"


# RFC 1939 §5-§7, RFC 2449, RFC 5034, RFC 2595.
POP3_COMMANDS = {
    "USER": "names the mailbox to log into; the password follows with PASS (RFC 1939 §7)",
    "PASS": "the password, in the clear (RFC 1939 §7)",
    "APOP": "login with an MD5 digest of the greeting's timestamp and the secret (RFC 1939 §7)",
    "AUTH": "starts a SASL login (RFC 5034)",
    "STAT": "asks for the number and total size of messages (RFC 1939 §5)",
    "LIST": "asks for message sizes (RFC 1939 §5)",
    "UIDL": "asks for unique message identifiers (RFC 1939 §7)",
    "RETR": "downloads a whole message (RFC 1939 §5)",
    "TOP": "downloads the header and the first lines of a message (RFC 1939 §7)",
    "DELE": "marks a message for deletion (RFC 1939 §5)",
    "RSET": "unmarks deleted messages (RFC 1939 §5)",
    "NOOP": "does nothing (RFC 1939 §5)",
    "QUIT": "ends the session; deletions take effect (RFC 1939 §6)",
    "CAPA": "asks for the server's capabilities (RFC 2449)",
    "STLS": "asks to switch the connection to TLS (RFC 2595 §4)",
    "UTF8": "asks for UTF-8 mode (RFC 6856)",
}

# RFC 9051 §6 (and RFC 3501 §6).
IMAP_COMMANDS = {
    "CAPABILITY": "asks what the server supports",
    "NOOP": "does nothing; lets the server report changes",
    "LOGOUT": "ends the session",
    "STARTTLS": "asks to switch the connection to TLS",
    "AUTHENTICATE": "starts a SASL login",
    "LOGIN": "logs in with user name and password in the clear",
    "ENABLE": "turns on extensions",
    "SELECT": "opens a mailbox for reading and writing",
    "EXAMINE": "opens a mailbox read-only",
    "CREATE": "creates a mailbox",
    "DELETE": "deletes a mailbox",
    "RENAME": "renames a mailbox",
    "SUBSCRIBE": "adds a mailbox to the subscribed list",
    "UNSUBSCRIBE": "removes a mailbox from the subscribed list",
    "LIST": "lists mailboxes",
    "LSUB": "lists subscribed mailboxes",
    "NAMESPACE": "asks for the mailbox name spaces",
    "STATUS": "asks for a mailbox's counters",
    "APPEND": "uploads a message into a mailbox",
    "IDLE": "waits for the server to report changes",
    "CHECK": "asks for a checkpoint of the mailbox",
    "CLOSE": "closes the mailbox, expunging deleted messages",
    "UNSELECT": "closes the mailbox without expunging",
    "EXPUNGE": "removes messages marked \\Deleted",
    "SEARCH": "searches for messages",
    "FETCH": "downloads message data",
    "STORE": "changes message flags",
    "COPY": "copies messages to another mailbox",
    "MOVE": "moves messages to another mailbox",
    "UID": "a command that uses unique identifiers",
    "ID": "exchanges client and server identification (RFC 2971)",
}

IMAP_STATUS = {
    "OK": "success",
    "NO": "failure",
    "BAD": "protocol error",
    "PREAUTH": "already logged in",
    "BYE": "the server is closing the connection",
}

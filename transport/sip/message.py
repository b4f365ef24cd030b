"""SIP messages (RFC 3261 section 7): parse bytes from the network into a ``SipMessage``, build
requests and responses, serialise them back.

The parser is strict about what the service relies on and lenient about the rest: a message that
cannot be framed, lacks a header a transaction needs (Via, From, To, Call-ID, CSeq) or has a bad
Content-Length raises ``SipParseError``, never anything else (tests/test_sip_message.py fuzzes it).
Header names are case-insensitive and compact forms (``v``, ``f``, ``t``, ``i``, ``m``, ``l``, ``c``)
are expanded; folded header lines are joined.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field

MAX_MESSAGE_BYTES = 65_535
"""Largest message accepted (the largest UDP datagram); bigger ones are refused unread."""
MAX_HEADERS = 100
SIP_VERSION = "SIP/2.0"
BRANCH_MAGIC = "z9hG4bK"

_COMPACT = {
    "v": "via",
    "f": "from",
    "t": "to",
    "i": "call-id",
    "m": "contact",
    "l": "content-length",
    "c": "content-type",
    "k": "supported",
    "s": "subject",
    "e": "content-encoding",
    "r": "refer-to",
    "b": "referred-by",
}
_CANONICAL = {
    "via": "Via",
    "from": "From",
    "to": "To",
    "call-id": "Call-ID",
    "cseq": "CSeq",
    "contact": "Contact",
    "content-length": "Content-Length",
    "content-type": "Content-Type",
    "max-forwards": "Max-Forwards",
    "record-route": "Record-Route",
    "www-authenticate": "WWW-Authenticate",
    "user-to-user": "User-to-User",  # RFC 7433's spelling; some PBXs match it case-sensitively
}
REQUIRED = ("via", "from", "to", "call-id", "cseq")
_TOKEN = re.compile(r"^[A-Za-z0-9\-.!%*_+`'~]+$")
_STATUS_LINE = re.compile(r"^SIP/2\.0 ([1-6]\d\d) ?(.*)$")
_REQUEST_LINE = re.compile(r"^([A-Za-z0-9\-.!%*_+`'~]+) (\S+) SIP/2\.0$")


class SipParseError(ValueError):
    """Bytes that are not a SIP message the service can act on."""


@dataclass
class SipMessage:
    """One request (``method`` set) or response (``status`` set)."""

    method: str = ""
    uri: str = ""
    status: int = 0
    reason: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    """(lower-case name, value) in order; a header repeated or comma-listed appears as sent."""
    body: bytes = b""

    @property
    def is_request(self) -> bool:
        return bool(self.method)

    def get(self, name: str, default: str = "") -> str:
        name = name.lower()
        for key, value in self.headers:
            if key == name:
                return value
        return default

    def get_all(self, name: str) -> list[str]:
        name = name.lower()
        return [value for key, value in self.headers if key == name]

    def set(self, name: str, value: str) -> None:
        """Replace every ``name`` header by one (appended at the end when absent)."""
        name = name.lower()
        kept = [(k, v) for k, v in self.headers if k != name]
        self.headers = [*kept, (name, value)]

    @property
    def call_id(self) -> str:
        return self.get("call-id")

    @property
    def cseq(self) -> tuple[int, str]:
        return parse_cseq(self.get("cseq"))

    @property
    def branch(self) -> str:
        return header_param(self.get("via"), "branch")

    @property
    def from_tag(self) -> str:
        return header_param(self.get("from"), "tag")

    @property
    def to_tag(self) -> str:
        return header_param(self.get("to"), "tag")

    def to_bytes(self) -> bytes:
        first = (
            f"{self.method} {self.uri} {SIP_VERSION}"
            if self.method
            else f"{SIP_VERSION} {self.status} {self.reason}"
        )
        lines = [first]
        for key, value in self.headers:
            if key != "content-length":
                lines.append(f"{_CANONICAL.get(key, _title(key))}: {value}")
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


def _title(name: str) -> str:
    return "-".join(part[:1].upper() + part[1:] for part in name.split("-"))


def parse_cseq(value: str) -> tuple[int, str]:
    parts = value.split()
    if len(parts) != 2 or not parts[0].isdigit() or len(parts[0]) > 10 or not _TOKEN.match(parts[1]):
        raise SipParseError(f"bad CSeq {value[:60]!r}")
    number = int(parts[0])
    if number >= 2**31:
        raise SipParseError("CSeq number out of range")
    return number, parts[1].upper()


def header_param(value: str, name: str) -> str:
    """A ``;name=value`` parameter of a header (outside any <...> URI), '' when absent."""
    outside = value.rsplit(">", 1)[-1] if "<" in value else value
    for part in outside.split(";")[1:]:
        key, _, val = part.partition("=")
        if key.strip().lower() == name:
            return val.strip().split(",")[0].strip().strip('"')
    return ""


def header_uri(value: str) -> str:
    """The URI of a name-addr (``"Ann" <sip:100@pbx>;tag=1``) or addr-spec header."""
    if "<" in value:
        start = value.index("<") + 1
        end = value.find(">", start)
        if end < 0:
            raise SipParseError("unclosed '<' in an address header")
        return value[start:end].strip()
    return value.split(";", 1)[0].strip()


def uri_user(uri: str) -> str:
    """The user part of a sip:/sips:/tel: URI ('' when there is none)."""
    scheme, _, rest = uri.partition(":")
    if scheme.lower() == "tel":
        return rest.split(";", 1)[0]
    if scheme.lower() not in ("sip", "sips") or "@" not in rest:
        return ""
    return rest.split("@", 1)[0].split(";", 1)[0].split(":", 1)[0]


def uri_host_port(uri: str, default_port: int = 5060) -> tuple[str, int]:
    _, _, rest = uri.partition(":")
    hostport = rest.split("@", 1)[-1].split(";", 1)[0].split("?", 1)[0]
    host, _, port = hostport.rpartition(":") if hostport.count(":") == 1 else (hostport, "", "")
    if not port.isdigit():
        return hostport.strip("[]"), default_port
    return host, int(port)


def frame_length(head: bytes) -> int:
    """Content-Length from a header block (for stream transports: TCP); -1 when missing/bad."""
    for raw in head.split(b"\r\n")[1:]:
        name, _, value = raw.partition(b":")
        if name.strip().lower() in (b"content-length", b"l"):
            text = value.strip()
            return int(text) if text.isdigit() and len(text) < 7 else -1
    return 0


def parse(data: bytes, stream: bool = False, with_body: bool = True) -> SipMessage:
    """Parse one SIP message. ``stream``: from TCP, where Content-Length is mandatory.
    ``with_body=False`` reads the headers only (to answer a message whose body is bad)."""
    if len(data) > MAX_MESSAGE_BYTES:
        raise SipParseError(f"message of {len(data)} bytes is over {MAX_MESSAGE_BYTES}")
    data = data.lstrip(b"\r\n")  # keep-alive CRLFs before a message are allowed
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = data.partition(b"\n\n")
        if not sep:
            raise SipParseError("no blank line after the headers")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SipParseError("headers are not UTF-8") from e
    if "\x00" in text:
        raise SipParseError("NUL byte in the headers")
    lines = text.replace("\r\n", "\n").split("\n")
    message = _start_line(lines[0])
    unfolded: list[str] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t"):
            if not unfolded:
                raise SipParseError("a folded line before any header")
            unfolded[-1] += " " + line.strip()
        elif line:
            unfolded.append(line)
    if len(unfolded) > MAX_HEADERS:
        raise SipParseError(f"more than {MAX_HEADERS} headers")
    for line in unfolded:
        name, colon, value = line.partition(":")
        name = name.strip().lower()
        if not colon or not _TOKEN.match(name):
            raise SipParseError(f"bad header line {line[:60]!r}")
        message.headers.append((_COMPACT.get(name, name), value.strip()))
    _check(message)
    if with_body:
        message.body = _body(message, body, stream)
    return message


def _start_line(line: str) -> SipMessage:
    if status := _STATUS_LINE.match(line):
        return SipMessage(status=int(status.group(1)), reason=status.group(2))
    if request := _REQUEST_LINE.match(line):
        uri = request.group(2)
        if ":" not in uri:
            raise SipParseError(f"request URI without a scheme: {uri[:60]!r}")
        return SipMessage(method=request.group(1).upper(), uri=uri)
    raise SipParseError(f"bad start line {line[:80]!r}")


def _check(message: SipMessage) -> None:
    for name in REQUIRED:
        if not message.get(name):
            raise SipParseError(f"missing {_CANONICAL[name]} header")
    _, method = message.cseq  # raises on a bad CSeq
    if message.is_request and method != message.method and message.method not in ("ACK", "CANCEL"):
        raise SipParseError(f"CSeq method {method} does not match the request {message.method}")
    if message.is_request and message.method in ("ACK", "CANCEL") and method != message.method:
        raise SipParseError(f"CSeq method {method} does not match the request {message.method}")
    via = message.get("via")
    if not via.upper().startswith("SIP/2.0/"):
        raise SipParseError(f"bad Via {via[:60]!r}")
    max_forwards = message.get("max-forwards")
    if max_forwards and (not max_forwards.isdigit() or len(max_forwards) > 3):
        raise SipParseError("bad Max-Forwards")
    header_uri(message.get("from"))
    header_uri(message.get("to"))


def _body(message: SipMessage, body: bytes, stream: bool) -> bytes:
    declared = message.get("content-length")
    if not declared:
        if stream:
            raise SipParseError("Content-Length is required over TCP")
        return body
    if not declared.isdigit() or len(declared) > 6:
        raise SipParseError(f"bad Content-Length {declared[:20]!r}")
    length = int(declared)
    if length > len(body):
        raise SipParseError(f"Content-Length {length} is more than the {len(body)} body bytes received")
    return body[:length]


def new_tag() -> str:
    return secrets.token_hex(6)


def new_branch() -> str:
    return BRANCH_MAGIC + secrets.token_hex(8)


def response(
    request: SipMessage,
    status: int,
    reason: str,
    to_tag: str = "",
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
) -> SipMessage:
    """A response to ``request`` (RFC 3261 8.2.6): Via, From, Call-ID, CSeq copied; To gets our tag."""
    out = SipMessage(status=status, reason=reason)
    for via in request.get_all("via"):
        out.headers.append(("via", via))
    for name in ("from", "to", "call-id", "cseq"):
        value = request.get(name)
        if name == "to" and to_tag and not request.to_tag:
            value = f"{value};tag={to_tag}"
        out.headers.append((name, value))
    if request.method == "INVITE" and 100 < status < 300:  # dialog-creating: the route set goes back
        out.headers.extend(("record-route", route) for route in request.get_all("record-route"))
    out.headers.extend(headers or [])
    out.body = body
    return out

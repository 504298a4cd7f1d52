"""The host half of the device line protocol (see ``firmware/edgecnn_protocol.h``).

Every line the sketch prints starts with ``edgecnn `` and a kind word, followed by ``key=value``
fields. Anything else on the port (boot messages, noise, half lines) is not a protocol line.

Example:
    >>> parse_line("edgecnn bench run=3 us=1520 cycles=97280").fields
    {'run': 3, 'us': 1520, 'cycles': 97280}
    >>> infer_command(b"\\x01\\x02")
    b'infer 2 b6cc4292\\n'
"""
from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field

# The protocol's constants and command grammar, the Python half of firmware/edgecnn_protocol.h
# and .cpp. tests/test_protocol_agreement.py compiles the C parser and checks that it and
# parse_command() below agree on every constant, command word, error text and a corpus of lines.
PROTOCOL_VERSION = 3      # EDGECNN_PROTOCOL_VERSION
LINE_MAX = 96             # EDGECNN_LINE_MAX: longer command lines are dropped whole
MAX_RUNS = 100_000        # EDGECNN_MAX_RUNS: bench RUNS and WARMUP
MAX_LINE_BYTES = 64 * 1024   # no protocol line is longer; a board's endless line is noise
MAX_SKIPPED_LINES = 10_000    # lines a step may pass over while it waits for its own answer
MAX_VERIFY_SAMPLES = 1_000_000   # bench --samples (random inputs are made one at a time)
COMMANDS = ("id", "selfcheck", "bench", "help", "infer", "profile")
HELP = "commands: id | selfcheck | bench RUNS [WARMUP] | infer LENGTH CRC32 | profile"
ERRORS = {
    "unknown": "unknown command; send 'help'",
    "no_arguments": "this command takes no arguments",
    "infer_length": "usage: infer LENGTH CRC32HEX, then LENGTH raw bytes",
    "infer_crc": "usage: infer LENGTH CRC32HEX (8 hex digits)",
    "infer_extra": "usage: infer LENGTH CRC32HEX",
    "bench_runs": f"usage: bench RUNS [WARMUP], 1 <= RUNS <= {MAX_RUNS}",
    "bench_warmup": f"usage: bench RUNS [WARMUP], 0 <= WARMUP <= {MAX_RUNS}",
    "bench_extra": "usage: bench RUNS [WARMUP]",
}
PREFIX = "edgecnn "
KINDS = frozenset({"id", "model", "arena", "input", "output", "selfcheck", "bench", "infer",
                   "profile", "ready", "error", "help"})
_FIELD = re.compile(r"([a-z_0-9]+)=(\S*)")
_INT = re.compile(r"^-?\d+$")
# hex or names that may look like decimal numbers
_TEXT_FIELDS = frozenset({"crc32", "sha256", "output", "version", "board", "kernels", "tag",
                          "shape", "target"})
# What the firmware says it runs on; a report's source is this answer, never the port's name.
TARGETS = ("device", "virtual", "emulator")


@dataclass
class Message:
    """One protocol line: its kind (the word after ``edgecnn``) and its ``key=value`` fields."""

    kind: str
    fields: dict = field(default_factory=dict)
    text: str = ""

    def int(self, key: str) -> int:
        return int(self.fields[key])

    @property
    def words(self) -> list[str]:
        """Bare words after the kind, e.g. ``start`` in ``edgecnn bench start runs=5``."""
        rest = self.text[len(PREFIX) + len(self.kind):].split()
        return [w for w in rest if "=" not in w]


def parse_line(text: str) -> Message | None:
    """Return the message on one line, or None when the line is not a well-formed one."""
    text = text.strip()
    if not text.startswith(PREFIX):
        # Noise in front of a line (a glitch, boot chatter without a newline): resynchronise on
        # the last marker; a line without one is not ours.
        start = text.rfind(PREFIX)
        if start < 0:
            return None
        text = text[start:]
    body = text[len(PREFIX):]
    kind = body.split(" ", 1)[0]
    if kind not in KINDS:
        return None
    if kind == "error":   # free text after the kind
        return Message(kind, {"message": body[len(kind):].strip()}, text)
    fields = {}
    for key, value in _FIELD.findall(body):
        fields[key] = int(value) if key not in _TEXT_FIELDS and _INT.match(value) else value
    return Message(kind, fields, text)


def infer_command(payload: bytes) -> bytes:
    """The line that announces an input tensor; the raw payload follows once the board is ready."""
    return f"infer {len(payload)} {zlib.crc32(payload):08x}\n".encode()


def decode_output(message: Message, expected_bytes: int) -> bytes:
    """The raw output tensor of an ``infer`` answer, checked against its CRC-32."""
    data = bytes.fromhex(str(message.fields.get("output", "")))
    if len(data) != expected_bytes:
        raise ValueError(f"output has {len(data)} bytes, expected {expected_bytes}")
    crc = message.fields.get("crc32")
    if crc is None or int(str(crc), 16) != zlib.crc32(data):
        raise ValueError("output CRC-32 does not match its bytes")
    return data


@dataclass(frozen=True)
class Command:
    """A parsed command line, as the firmware's ``EdgecnnCommand``: ``kind`` is one of
    COMMANDS, ``"none"`` (blank) or ``"error"`` (then ``error`` says why)."""

    kind: str
    runs: int = 0        # bench: timed runs; infer: payload length
    warmup: int = 0
    checksum: int = 0    # infer: CRC-32 of the payload
    error: str | None = None


def _read_uint(words: list[str], i: int) -> int | None:
    if i >= len(words) or not words[i].isascii() or not words[i].isdigit():
        return None
    value = int(words[i])
    return value if value <= 0xFFFFFFFF else None


def parse_command(line: bytes | str) -> Command:
    """Parse one command line exactly as ``edgecnn_parse_command`` in the firmware does."""
    if isinstance(line, str):
        line = line.encode("latin-1", errors="replace")
    text = line.split(b"\x00", 1)[0].decode("latin-1")
    words = [w for w in text.replace("\t", " ").split(" ") if w]
    if not words:
        return Command("none")
    word, args = words[0], words[1:]
    if word in ("id", "selfcheck", "help", "profile"):
        return Command("error", error=ERRORS["no_arguments"]) if args else Command(word)
    if word == "infer":
        length = _read_uint(words, 1)
        if length is None or length == 0:
            return Command("error", error=ERRORS["infer_length"])
        crc = words[2] if len(words) > 2 else ""
        if len(crc) != 8 or any(c not in "0123456789abcdefABCDEF" for c in crc):
            return Command("error", error=ERRORS["infer_crc"])
        if len(words) > 3:
            return Command("error", error=ERRORS["infer_extra"])
        return Command("infer", runs=length, checksum=int(crc, 16))
    if word == "bench":
        runs = _read_uint(words, 1)
        if runs is None or not 1 <= runs <= MAX_RUNS:
            return Command("error", error=ERRORS["bench_runs"])
        warmup = 1
        if len(words) > 2:
            given = _read_uint(words, 2)
            if given is None or given > MAX_RUNS:
                return Command("error", error=ERRORS["bench_warmup"])
            warmup = given
            if len(words) > 3:
                return Command("error", error=ERRORS["bench_extra"])
        return Command("bench", runs=runs, warmup=warmup)
    return Command("error", error=ERRORS["unknown"])

"""The host half of the device line protocol (the device half is ``firmware/edgecnn_protocol.h``
and ``.cpp``, on every target).

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

from ..codegen.context import PROTOCOL_VERSION as PROTOCOL_VERSION  # for the harness

# The constants the harness shares with firmware/edgecnn_protocol.h (the device side of the
# protocol, which every target runs; tests/test_firmware_parser.py compares them).
MAX_RUNS = 100_000        # EDGECNN_MAX_RUNS: bench RUNS and WARMUP
MAX_LINE_BYTES = 64 * 1024   # no protocol line is longer; a board's endless line is noise
MAX_SKIPPED_LINES = 10_000    # lines a step may pass over while it waits for its own answer
MAX_VERIFY_SAMPLES = 1_000_000   # bench --samples (random inputs are made one at a time)
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

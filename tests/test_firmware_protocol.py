"""The device command parser, compiled for the host with AddressSanitizer and UBSan."""
import os
import subprocess
import zlib
from pathlib import Path

import pytest
from conftest import require_tool

from edgecnn.resources import resource_dir

HARNESS = Path(__file__).with_name("protocol_harness.cc")


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    require_tool("g++")
    fw = resource_dir("firmware")
    exe = tmp_path_factory.mktemp("fw") / "harness"
    subprocess.run(["g++", "-std=gnu++14", "-g", "-O1", "-Wall", "-Wextra", "-Werror",
                    "-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-I", str(fw),
                    str(HARNESS), str(fw / "edgecnn_protocol.cpp"), "-o", str(exe)], check=True)
    return exe


def _run(exe, data: bytes):
    proc = subprocess.run([str(exe)], input=data, capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout.decode().splitlines()


def test_commands_parse(harness):
    out = _run(harness, b"id\nselfcheck\r\nbench 50 5\n  bench 7  \nhelp\nprofile\n\n")
    assert out == ["kind=id runs=0 warmup=0 checksum=00000000 error=-",
                   "kind=selfcheck runs=0 warmup=0 checksum=00000000 error=-",
                   "kind=bench runs=50 warmup=5 checksum=00000000 error=-",
                   "kind=bench runs=7 warmup=1 checksum=00000000 error=-",
                   "kind=help runs=0 warmup=0 checksum=00000000 error=-",
                   "kind=profile runs=0 warmup=0 checksum=00000000 error=-"]


def test_infer_payload_checksum_is_zlib_crc32(harness):
    payload = bytes(range(64))
    good = f"infer 64 {zlib.crc32(payload):08x}\n".encode() + payload
    bad = f"infer 64 {zlib.crc32(payload) ^ 1:08X}\n".encode() + payload
    out = _run(harness, good + b"id\n" + bad + b"id\n")
    assert out == [f"kind=infer runs=64 warmup=0 checksum={zlib.crc32(payload):08x} error=-",
                   "infer ready bytes=64", "payload ok bytes=64",
                   "kind=id runs=0 warmup=0 checksum=00000000 error=-",
                   f"kind=infer runs=64 warmup=0 checksum={zlib.crc32(payload) ^ 1:08x} error=-",
                   "infer ready bytes=64", "payload bad-checksum bytes=64",
                   "kind=id runs=0 warmup=0 checksum=00000000 error=-"]


def test_infer_payload_never_exceeds_the_input_tensor(harness):
    # Announcing more bytes than the input holds is refused; the bytes then parse as lines.
    payload = os.urandom(100).replace(b"\n", b"x").replace(b"\r", b"x")
    out = _run(harness, f"infer 100 {zlib.crc32(payload):08x}\n".encode() + payload + b"\nid\n")
    assert out[1] == "infer refused length=100"
    assert out[-1] == "kind=id runs=0 warmup=0 checksum=00000000 error=-"


@pytest.mark.parametrize("line", [b"bench", b"bench 0", b"bench -1", b"bench 99999999999",
                                  b"bench 100001", b"bench 5 x", b"bench 5 5 5", b"id now",
                                  b"reboot", b"bench 5x", b"\xff\xfe", b"infer", b"infer 0 00000000",
                                  b"infer 64", b"infer 64 1234567", b"infer 64 123456789",
                                  b"infer 64 1234567g", b"infer 64 12345678 9", b"profile 1"])
def test_malformed_commands_get_an_error(harness, line):
    out = _run(harness, line + b"\n")
    assert len(out) == 1 and out[0].startswith("kind=error "), out
    assert "error=-" not in out[0]


def test_a_line_starting_with_nul_is_empty(harness):
    assert _run(harness, b"\x00bench 5\n") == [
        "kind=none runs=0 warmup=0 checksum=00000000 error=-"]


def test_oversized_line_is_dropped_not_overflowed(harness):
    out = _run(harness, b"x" * 5000 + b"\nid\n")
    assert out == ["overflow", "kind=id runs=0 warmup=0 checksum=00000000 error=-"]


def test_random_streams_never_crash(harness):
    proc = subprocess.run([str(harness), "fuzz", "2000000"], capture_output=True, timeout=120)
    assert proc.returncode == 0, (proc.returncode, proc.stderr.decode())
    counts = dict(kv.split("=") for kv in proc.stdout.decode().split()[1:])
    # The stream reached every path: lines, overflows and completed payloads.
    assert int(counts["lines"]) > 1000 and int(counts["overflows"]) > 0
    assert int(counts["payloads_ok"]) + int(counts["payloads_bad"]) > 0, counts

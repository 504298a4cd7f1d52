"""The firmware's command parser (firmware/edgecnn_protocol.cpp), the one implementation of
the device side of edgecnn's protocol that every target runs, compiled for this computer and
fed a corpus of command lines; each outcome is written down here. The few constants the
harness shares with it (the protocol version, the bench limit, the MLPerf Tiny terminator)
are read from the C headers and compared."""
import re
import subprocess
from pathlib import Path

import pytest
from conftest import require_tool

from edgecnn.harness import mlperf, protocol
from edgecnn.resources import resource_dir

FIRMWARE = resource_dir("firmware")
HARNESS = Path(__file__).with_name("protocol_harness.cc")


def _define(header, name):
    text = (FIRMWARE / header).read_text()
    m = re.search(rf"#define {name}\s+(?:\\\s*)?(\"[^\"]*\"|'.'|\d+)u?", text)
    assert m, f"{name} is not defined in {header}"
    value = m.group(1)
    return value[1:-1] if value[0] in "\"'" else int(value)


def test_the_constants_the_harness_shares_with_the_firmware():
    assert _define("edgecnn_protocol.h", "EDGECNN_PROTOCOL_VERSION") == protocol.PROTOCOL_VERSION
    assert _define("edgecnn_protocol.h", "EDGECNN_MAX_RUNS") == protocol.MAX_RUNS == 100_000
    assert _define("edgecnn_mlperf.h", "EDGECNN_MLPERF_TERMINATOR") == mlperf.TERMINATOR == "%"


# command line -> what edgecnn_parse_command() makes of it
EXPECTED = [
    ('id', 'kind=id runs=0 warmup=0 checksum=00000000 error=-'),
    ('  id  ', 'kind=id runs=0 warmup=0 checksum=00000000 error=-'),
    ('\tselfcheck', 'kind=selfcheck runs=0 warmup=0 checksum=00000000 error=-'),
    ('help', 'kind=help runs=0 warmup=0 checksum=00000000 error=-'),
    ('profile', 'kind=profile runs=0 warmup=0 checksum=00000000 error=-'),
    ('id now', 'kind=error runs=0 warmup=0 checksum=00000000 error=this command takes no arguments'),
    ('help me', 'kind=error runs=0 warmup=0 checksum=00000000 error=this command takes no arguments'),
    ('ID', "kind=error runs=0 warmup=0 checksum=00000000 error=unknown command; send 'help'"),
    ('identify', "kind=error runs=0 warmup=0 checksum=00000000 error=unknown command; send 'help'"),
    ('bench 1', 'kind=bench runs=1 warmup=1 checksum=00000000 error=-'),
    ('bench 50 5', 'kind=bench runs=50 warmup=5 checksum=00000000 error=-'),
    ('bench 7', 'kind=bench runs=7 warmup=1 checksum=00000000 error=-'),
    (' bench  7  ', 'kind=bench runs=7 warmup=1 checksum=00000000 error=-'),
    ('bench 100000 100000', 'kind=bench runs=100000 warmup=100000 checksum=00000000 error=-'),
    ('bench 100001', 'kind=error runs=0 warmup=0 checksum=00000000 error=usage: bench RUNS [WARMUP], 1 <= RUNS <= 100000'),
    ('bench 0', 'kind=error runs=0 warmup=0 checksum=00000000 error=usage: bench RUNS [WARMUP], 1 <= RUNS <= 100000'),
    ('bench -1', 'kind=error runs=0 warmup=0 checksum=00000000 error=usage: bench RUNS [WARMUP], 1 <= RUNS <= 100000'),
    ('bench 5 x', 'kind=error runs=0 warmup=0 checksum=00000000 error=usage: bench RUNS [WARMUP], 0 <= WARMUP <= 100000'),
    ('bench 5 100001', 'kind=error runs=0 warmup=0 checksum=00000000 error=usage: bench RUNS [WARMUP], 0 <= WARMUP <= 100000'),
    ('bench 5 3 1', 'kind=error runs=0 warmup=0 checksum=00000000 error=usage: bench RUNS [WARMUP]'),
    ('bench', 'kind=error runs=0 warmup=0 checksum=00000000 error=usage: bench RUNS [WARMUP], 1 <= RUNS <= 100000'),
    ('bench 1e3', 'kind=error runs=0 warmup=0 checksum=00000000 error=usage: bench RUNS [WARMUP], 1 <= RUNS <= 100000'),
    ('bench 4294967295', 'kind=error runs=0 warmup=0 checksum=00000000 error=usage: bench RUNS [WARMUP], 1 <= RUNS <= 100000'),
    ('bench 4294967296', 'kind=error runs=0 warmup=0 checksum=00000000 error=usage: bench RUNS [WARMUP], 1 <= RUNS <= 100000'),
    ('bench 12abc', 'kind=error runs=0 warmup=0 checksum=00000000 error=usage: bench RUNS [WARMUP], 1 <= RUNS <= 100000'),
    ('bench\t3\t2', 'kind=bench runs=3 warmup=2 checksum=00000000 error=-'),
    ('infer', 'kind=error runs=0 warmup=0 checksum=00000000 error=usage: infer LENGTH CRC32HEX, then LENGTH raw bytes'),
    ('infer 0 00000000', 'kind=error runs=0 warmup=0 checksum=00000000 error=usage: infer LENGTH CRC32HEX, then LENGTH raw bytes'),
    ('infer 65 0badcafe', 'kind=infer runs=65 warmup=0 checksum=0badcafe error=-'),
    ('infer 90 0BADCAFE', 'kind=infer runs=90 warmup=0 checksum=0badcafe error=-'),
    ('infer 70 badcafe', 'kind=error runs=0 warmup=0 checksum=00000000 error=usage: infer LENGTH CRC32HEX (8 hex digits)'),
    ('infer 70 0badcafe0', 'kind=error runs=0 warmup=0 checksum=00000000 error=usage: infer LENGTH CRC32HEX (8 hex digits)'),
    ('infer 70 0badcafg', 'kind=error runs=0 warmup=0 checksum=00000000 error=usage: infer LENGTH CRC32HEX (8 hex digits)'),
    ('infer 70 0badcafe extra', 'kind=error runs=0 warmup=0 checksum=00000000 error=usage: infer LENGTH CRC32HEX'),
    ('infer x 0badcafe', 'kind=error runs=0 warmup=0 checksum=00000000 error=usage: infer LENGTH CRC32HEX, then LENGTH raw bytes'),
    ('infer 4294967296 00000000', 'kind=error runs=0 warmup=0 checksum=00000000 error=usage: infer LENGTH CRC32HEX, then LENGTH raw bytes'),
    ('infer 100 ffffffff ', 'kind=infer runs=100 warmup=0 checksum=ffffffff error=-'),
    ('hello', "kind=error runs=0 warmup=0 checksum=00000000 error=unknown command; send 'help'"),
    ('xyzzy 1 2', "kind=error runs=0 warmup=0 checksum=00000000 error=unknown command; send 'help'"),
    ('edgecnn id', "kind=error runs=0 warmup=0 checksum=00000000 error=unknown command; send 'help'"),
]


@pytest.fixture(scope="module")
def c_parser(tmp_path_factory):
    require_tool("g++")
    exe = tmp_path_factory.mktemp("parser") / "harness"
    subprocess.run(["g++", "-std=gnu++14", "-O1", "-Wall", "-Wextra", "-Werror", "-I",
                    str(FIRMWARE), str(HARNESS), str(FIRMWARE / "edgecnn_protocol.cpp"), "-o",
                    str(exe)], check=True)
    return exe


def test_the_firmware_parses_every_command_line_as_written_down(c_parser):
    lines = [line for line, _ in EXPECTED]
    proc = subprocess.run([str(c_parser)], input="".join(f"{line}\n" for line in lines).encode(),
                          capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()
    got = [line for line in proc.stdout.decode().splitlines() if line.startswith("kind=")]
    assert got == [want for _, want in EXPECTED]
    # the corpus reaches every command and every error text of the firmware
    source = (FIRMWARE / "edgecnn_protocol.cpp").read_text()
    words = set(re.findall(r'word_is\(s, word_end, "([a-z]+)"\)', source))
    assert {want.split()[0][5:] for _, want in EXPECTED} == words | {"error"}
    assert len({want.split("error=")[1] for _, want in EXPECTED} - {"-"}) == 8

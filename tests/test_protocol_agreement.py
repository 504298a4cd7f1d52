"""The protocol is defined once per language and the two must agree: the firmware's C
(firmware/edgecnn_protocol.h and .cpp, what the boards run) and the harness's Python
(edgecnn/harness/protocol.py, what the harness and the virtual board follow). This reads the
C sources for their constants, command words and error texts, and runs a corpus of command
lines through the compiled C parser and through parse_command(), field by field."""
import re
import subprocess
from pathlib import Path

import pytest
from conftest import require_tool

from edgecnn.harness import protocol
from edgecnn.resources import resource_dir

FIRMWARE = resource_dir("firmware")
HARNESS = Path(__file__).with_name("protocol_harness.cc")


def _define(name):
    text = (FIRMWARE / "edgecnn_protocol.h").read_text()
    m = re.search(rf"#define {name}\s+(?:\\\s*)?(\"[^\"]*\"|\d+)u?", text)
    assert m, f"{name} is not defined in edgecnn_protocol.h"
    value = m.group(1)
    return value[1:-1] if value.startswith('"') else int(value)


def test_constants_agree():
    assert _define("EDGECNN_PROTOCOL_VERSION") == protocol.PROTOCOL_VERSION
    assert _define("EDGECNN_LINE_MAX") == protocol.LINE_MAX
    assert _define("EDGECNN_MAX_RUNS") == protocol.MAX_RUNS
    assert _define("EDGECNN_HELP") == protocol.HELP


def test_command_words_and_error_texts_agree():
    source = (FIRMWARE / "edgecnn_protocol.cpp").read_text()
    words = set(re.findall(r'word_is\(s, word_end, "([a-z]+)"\)', source))
    assert words == set(protocol.COMMANDS)
    texts = set(re.findall(r'cmd\.error = "([^"]+)"', source))
    texts |= set(re.findall(r'EdgecnnCommand cmd = \{EDGECNN_CMD_ERROR, 0, 0, 0, "([^"]+)"\}',
                            source))
    # the C source spells the bench limits out; Python formats them from MAX_RUNS
    assert texts == set(protocol.ERRORS.values())


CORPUS = [
    "id", "  id  ", "\tselfcheck", "help", "profile", "id now", "help me", "ID", "identify",
    "bench 1", "bench 50 5", "bench 7", " bench  7  ", "bench 100000 100000", "bench 100001",
    "bench 0", "bench -1", "bench 5 x", "bench 5 100001", "bench 5 3 1", "bench", "bench 1e3",
    "bench 4294967295", "bench 4294967296", "bench 12abc", "bench\t3\t2",
    "infer", "infer 0 00000000", "infer 65 0badcafe", "infer 90 0BADCAFE", "infer 70 badcafe",
    "infer 70 0badcafe0", "infer 70 0badcafg", "infer 70 0badcafe extra", "infer x 0badcafe",
    "infer 4294967296 00000000", "infer 100 ffffffff ", "hello", "xyzzy 1 2", "edgecnn id",
]


def _c_parse(exe, lines):
    proc = subprocess.run([str(exe)], input="".join(f"{line}\n" for line in lines).encode(),
                          capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()
    return [line for line in proc.stdout.decode().splitlines() if line.startswith("kind=")]


def _py_parse(line):
    c = protocol.parse_command(line)
    return (f"kind={c.kind} runs={c.runs} warmup={c.warmup} checksum={c.checksum:08x} "
            f"error={c.error or '-'}")


@pytest.fixture(scope="module")
def c_parser(tmp_path_factory):
    require_tool("g++")
    exe = tmp_path_factory.mktemp("agree") / "harness"
    subprocess.run(["g++", "-std=gnu++14", "-O1", "-Wall", "-Wextra", "-Werror", "-I",
                    str(FIRMWARE), str(HARNESS), str(FIRMWARE / "edgecnn_protocol.cpp"), "-o",
                    str(exe)], check=True)
    return exe


def test_the_c_and_python_parsers_agree_line_by_line(c_parser):
    # every infer in the corpus asks for more than the harness's 64-byte input, so that no
    # payload phase swallows the following lines
    assert all(protocol.parse_command(line).runs > 64 for line in CORPUS
               if protocol.parse_command(line).kind == "infer")
    assert _c_parse(c_parser, CORPUS) == [_py_parse(line) for line in CORPUS]
    # the corpus reaches every outcome
    kinds = {protocol.parse_command(line).kind for line in CORPUS}
    errors = {protocol.parse_command(line).error for line in CORPUS}
    assert kinds == set(protocol.COMMANDS) | {"error"}
    assert errors - {None} == set(protocol.ERRORS.values())


def _mlperf_define(name):
    text = (FIRMWARE / "edgecnn_mlperf.h").read_text()
    m = re.search(rf"#define {name}\s+(\"[^\"]*\"|'.'|\d+)", text)
    assert m, f"{name} is not defined in edgecnn_mlperf.h"
    value = m.group(1)
    return value[1:-1] if value[0] in "\"'" else int(value)


def test_mlperf_constants_agree():
    """The MLPerf Tiny DUT constants of the firmware and of edgecnn.harness.mlperf; the
    answers themselves are compared line by line in test_firmware_host.py."""
    from edgecnn.harness import mlperf

    assert _mlperf_define("EDGECNN_MLPERF_CMD_SIZE") == mlperf.CMD_SIZE == 80
    assert _mlperf_define("EDGECNN_MLPERF_TERMINATOR") == mlperf.TERMINATOR == "%"
    assert _mlperf_define("EDGECNN_MLPERF_FW_VERSION") == mlperf.FW_VERSION
    assert _mlperf_define("EDGECNN_MLPERF_DEVICE_NAME") == mlperf.DEVICE_NAME == "dut"
    assert _mlperf_define("EDGECNN_MLPERF_DEFAULT_WARMUP") == mlperf.DEFAULT_WARMUP == 10

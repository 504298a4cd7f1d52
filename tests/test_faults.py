"""edgecnn/harness/faults.py: what each fault does to a board's lines (LineFaults, no I/O),
and the proxy in front of targets other than the virtual board."""
import zlib

import pytest
from conftest import require_tool

from edgecnn.build import build
from edgecnn.errors import IncompleteRunError
from edgecnn.harness import bench
from edgecnn.harness.faults import Faults, LineFaults

IDENT = [b"edgecnn id version=0.1.0 protocol=3 target=virtual board=b kernels=k clock_hz=0 "
         b"cycles=0 profiler=0\r\n", b"edgecnn model sha256=ab bytes=3\r\n",
         b"edgecnn arena allocated=8 used=4\r\n",
         b"edgecnn input shape=1x2 type=9 scale=1 zero_point=0\r\n",
         b"edgecnn output shape=1x2 type=9 scale=1 zero_point=0\r\n"]


def _rows(n):
    return [b"edgecnn bench run=%d us=10 cycles=0\r\n" % i for i in range(n)]


def _started(faults: str) -> LineFaults:
    lines = LineFaults(Faults.parse(faults))
    assert lines.board_line(b"boot chatter\r\n").endswith(b"boot chatter\r\n")
    lines.host_line(b"id")
    for line in IDENT:
        assert lines.board_line(line).endswith(line)
    return lines


def test_drop_loses_every_nth_result_line_only():
    lines = _started("drop=3")
    out = [lines.board_line(r) for r in _rows(9)]
    assert [i for i, o in enumerate(out) if not o] == [2, 5, 8]
    assert lines.board_line(b"edgecnn bench done\r\n") == b"edgecnn bench done\r\n"


def test_silence_and_vanish_stop_everything_after_n_results():
    lines = _started("silence=2")
    assert [bool(lines.board_line(r)) for r in _rows(4)] == [True, True, False, False]
    assert lines.board_line(b"edgecnn ready\r\n") == b""
    lines = _started("vanish=1")
    [lines.board_line(r) for r in _rows(2)]
    assert lines.vanished


def test_a_reset_says_the_identification_again_and_mutes_until_the_next_id_answer():
    lines = _started("reset=2")
    assert lines.board_line(_rows(3)[0]) and lines.board_line(_rows(3)[1])
    rebooted = lines.board_line(_rows(3)[2])
    assert rebooted == b"".join(IDENT) + b"edgecnn ready\r\n"
    # the rest of the interrupted bench never arrives; the board's answer to `id` does
    assert lines.board_line(b"edgecnn bench run=3 us=10 cycles=0\r\n") == b""
    lines.host_line(b"id")
    assert lines.board_line(IDENT[0]) == IDENT[0]
    assert lines.board_line(_rows(1)[0])      # once only


def test_corrupt_changes_a_computed_output_with_a_matching_crc():
    lines = _started("corrupt=2")
    out = bytes([5, 0x7F, 200])
    answer = b"edgecnn infer us=3 cycles=0 crc32=%08x output=%s\r\n" % (zlib.crc32(out),
                                                                     out.hex().encode())
    assert lines.board_line(answer) == answer                    # the first is left alone
    damaged = lines.board_line(answer)
    assert b"output=067fc8" in damaged and b"crc32=%08x" % zlib.crc32(bytes([6, 0x7F, 200])) \
        in damaged
    row = b"edgecnn selfcheck vector=%d label=1 predicted=1 bitexact=1 mismatches=0 max_diff=0 " \
          b"us=1 cycles=0\r\n"
    assert b"bitexact=1" in lines.board_line(row % 0)
    assert b"bitexact=0 mismatches=1 max_diff=1" in lines.board_line(row % 1)
    assert lines.board_line(b"edgecnn selfcheck done passed=2 total=2\r\n") == \
        b"edgecnn selfcheck done passed=1 total=2\r\n"


def test_garbage_is_random_bytes_before_a_line_never_a_line_end():
    lines = _started("garbage=1,seed=5")
    for row in _rows(50):
        out = lines.board_line(row)
        assert out.endswith(row) and len(out) > len(row)
        assert b"\n" not in out[:-len(row)] and b"\r" not in out[:-len(row)]


def test_boot_chatter_is_not_counted_as_results():
    lines = LineFaults(Faults.parse("drop=1"))
    assert lines.board_line(_rows(1)[0]) == _rows(1)[0]      # before the harness spoke


def test_faults_reach_the_emulated_board_too(tmp_path, tiny_model):
    """--fault is a property of the line, not of the virtual board: the emulator's UART
    behind the same proxy loses rows, and the run says it is incomplete."""
    for tool in ("qemu-system-arm", "arm-none-eabi-gcc", "arm-none-eabi-g++"):
        require_tool(tool)
    project = build("mps2-an386", tiny_model["tflite"], tmp_path / "p").project
    with pytest.raises(IncompleteRunError, match="of 10 timed runs arrived"):
        bench(project, port="emulator", runs=10, warmup=0, profile=False, timeout=20,
              out=tmp_path / "r.json", faults=Faults.parse("drop=4"))

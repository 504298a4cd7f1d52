"""edgecnn/harness/targets.py: --port names a target, and each target says what it is."""
import pytest

from edgecnn.build import build
from edgecnn.harness import FaultProxy, Faults, HostFirmware, open_target
from edgecnn.harness.emulator import Emulator
from edgecnn.harness.targets import SerialBoard


@pytest.fixture(scope="module")
def projects(tmp_path_factory, tiny_model):
    root = tmp_path_factory.mktemp("targets")
    return {"tflm": build("nano33", tiny_model["tflite"], root / "tflm").project,
            "native": build("nano33", tiny_model["tflite"], root / "native",
                            runtime="native").project,
            "emulated": build("mps2-an386", tiny_model["tflite"], root / "emu").project}


def test_each_port_names_its_target_and_the_target_says_what_it_is(projects):
    from edgecnn.harness import load_project

    tflm, native = load_project(projects["tflm"]), load_project(projects["native"])
    virtual = open_target(tflm, "virtual")
    assert isinstance(virtual, HostFirmware) and virtual.kind == "virtual"
    assert "TFLM's host interpreter" in virtual.clock and "host timings" in virtual.clock
    assert "recording allocator" in virtual.arena
    native_virtual = open_target(native, "virtual")
    assert "native runtime" in native_virtual.clock and "static memory plan" in native_virtual.arena
    board = open_target(tflm, "/dev/ttyACM7")
    assert isinstance(board, SerialBoard) and board.kind == "device"
    assert board.arena == "device: interpreter->arena_used_bytes()"
    emulator = open_target(load_project(projects["emulated"]), "emulator")
    assert isinstance(emulator, Emulator) and emulator.kind == "emulator"
    assert "emulated instructions" in emulator.clock


def test_faults_put_a_faulty_line_in_front_of_any_target_that_keeps_its_labels(projects):
    from edgecnn.harness import load_project

    tflm = load_project(projects["tflm"])
    for port in ("virtual", "/dev/ttyACM7"):
        proxied = open_target(tflm, port, Faults.parse("drop=3"))
        assert isinstance(proxied, FaultProxy)
        assert proxied.kind == open_target(tflm, port).kind
        assert proxied.clock == open_target(tflm, port).clock
    assert not isinstance(open_target(tflm, "virtual", Faults()), FaultProxy)   # no fault

import pytest
from conftest import reference_model, shared_model

from edgecnn.analyze import analyze
from edgecnn.boards import list_boards, load_board, parse_board
from edgecnn.errors import BoardError
from edgecnn.fit import check_fit
from edgecnn.resources import resource_dir
from edgecnn.runtimes.tflm import plan_arena


def test_every_board_file_validates():
    boards = list_boards()
    assert {b.name for b in boards} >= {"nano33ble", "esp32", "mps2-an386"}
    for b in boards:
        assert b.runtime.source and b.sram_bytes > b.runtime.ram_bytes
        # a board that lists the TFLM runtime pins its library; the others need none
        assert ("tflm" in b.runtimes) == (b.tflm is not None)
        if b.tflm is not None:
            assert b.tflm.why and b.tflm.lib_deps
        # an emulated board says how to run it; a board with an Arduino core is PlatformIO's
        assert (b.target == "emulator") == (b.emulator is not None)
        assert (b.platform == "arduino") == (b.platformio is not None)


def test_the_emulated_board():
    b = load_board("emulator")
    assert b.name == "mps2-an386" and b.target == "emulator" and b.runtimes == ("native", "tflm")
    assert b.emulator.machine == "mps2-an386" and "-mcpu=cortex-m4" in b.emulator.compiler_flags
    assert (resource_dir("firmware") / b.platform / b.emulator.linker_script).is_file()


@pytest.mark.parametrize("alias, name", [("nano33", "nano33ble"), ("NANO33BLESENSE", "nano33ble"),
                                         ("esp32dev", "esp32"), ("esp32", "esp32")])
def test_aliases(alias, name):
    assert load_board(alias).name == name


@pytest.mark.parametrize("bad", ["uno", "../esp32", "a/b", "", "nano33\n"])
def test_unknown_or_unsafe_board_names_list_the_boards(bad):
    with pytest.raises(BoardError, match="nano33ble"):
        load_board(bad)


def test_a_broken_board_file_names_its_problem(tmp_path):
    text = (resource_dir("boards") / "esp32.toml").read_text()
    broken = tmp_path / "esp32.toml"
    broken.write_text(text.replace('api = "error-reporter-2022"', 'api = "mystery"'))
    with pytest.raises(BoardError, match="tflm.api"):
        parse_board(broken)
    missing = tmp_path / "esp32.toml"
    missing.write_text(text.replace("clock_hz = 240_000_000\n", ""))
    with pytest.raises(BoardError, match="clock_hz"):
        parse_board(missing)


def test_op_tables_are_the_libraries_own_method_names():
    """Facts read from each library's micro_mutable_op_resolver.h, written here by hand: names
    that no CamelCase rule gives, and the ops one library has and the other lacks."""
    nano, esp = load_board("nano33").tflm.ops, load_board("esp32").tflm.ops
    for ops in (nano, esp):
        assert ops["UNIDIRECTIONAL_SEQUENCE_LSTM"] == "AddUnidirectionalSequenceLSTM"
        assert ops["PADV2"] == "AddPadV2" and ops["CUMSUM"] == "AddCumSum"
        assert ops["BATCH_TO_SPACE_ND"] == "AddBatchToSpaceNd"
        assert ops["CONV_2D"] == "AddConv2D" and ops["L2_POOL_2D"] == "AddL2Pool2D"
        for op in ("SLICE", "MIRROR_PAD", "SPACE_TO_DEPTH", "VAR_HANDLE", "READ_VARIABLE",
                   "ASSIGN_VARIABLE", "CALL_ONCE", "IF", "WHILE", "BROADCAST_TO",
                   "BROADCAST_ARGS"):
            assert op in ops, op
    assert "DIV" in nano and "DIV" not in esp
    for op in ("LOG_SOFTMAX", "SELECT_V2", "SQUARED_DIFFERENCE", "SUM"):
        assert op in nano and op not in esp
    assert (len(nano), len(esp)) == (94, 89)


def test_arena_plan_adds_cmsis_scratch_only_for_cmsis_boards():
    a = analyze(reference_model("kws_ref_model.tflite"))
    nano, esp = plan_arena(a, load_board("nano33")), plan_arena(a, load_board("esp32"))
    # CMSIS-NN at 7948b85: first conv 10x4 over 1 channel -> 2*1*10*4 int16 = 160 B; 3x3
    # depthwise over 64 channels -> 64*3*3 int16 = 1,152 B (no 3x3 exemption in this snapshot);
    # 1x1 pointwise convs none; average pool over 64 channels -> 64 int32 = 256 B
    assert nano.scratch_bytes == max(2 * 1 * 10 * 4 * 2, 64 * 9 * 2, 64 * 4) == 1152
    assert esp.scratch_bytes == 0
    assert nano.allocated_bytes % 16 == 0


# arena_used_bytes() that the pinned Nano library (7948b85, CMSIS-NN) reports for these models
# on a 32-bit Cortex-M4 (built as PlatformIO builds it, run on QEMU mps2-an386): measured
# reference figures, not derived from edgecnn's code.
DEVICE_ARENA_USED = {"kws_ref_model.tflite": 24_164, "pretrainedResnet_quant.tflite": 55_188,
                     "ad01_int8.tflite": 2_596}


def test_the_arena_is_never_smaller_than_the_board_uses():
    for name, used in DEVICE_ARENA_USED.items():
        plan = plan_arena(analyze(reference_model(name)), load_board("nano33"))
        assert plan.device_need_bytes >= used, name
        assert plan.allocated_bytes >= plan.device_need_bytes
        if used > 8192:
            assert plan.allocated_bytes <= 1.10 * used, name


def test_a_model_too_big_for_the_board_is_refused_with_options():
    a = analyze(shared_model("ad01_int8.tflite"))
    board = load_board("nano33")
    a.flash_bytes = 2_000_000  # as if the model were 2 MB
    report = check_fit(a, board)
    assert not report.fits
    message = report.failure_message()
    assert "over by" in message and "--force" in message
    assert "depthwise-separable" in message and "esp32" in message


@pytest.mark.parametrize("old, new, field", [
    ('"tanakamasayuki/TensorFlowLite_ESP32@1.0.0"',
     '"tanakamasayuki/TensorFlowLite_ESP32@1.0.0\\n[env:evil]"', "tflm.lib_deps"),
    ('aliases = ["esp32dev", "esp32-devkit"]', 'aliases = "esp32dev"', "aliases"),
    ("clock_hz = 240_000_000", "clock_hz = true", "clock_hz"),
    ('title = "ESP32 DevKit (ESP32-WROOM-32)"', 'title = "ESP32\\";\\nint evil;//"', "title"),
    ('build_flags = []', 'build_flags = "-DFOO"', "platformio.build_flags"),
])
def test_hostile_board_fields_are_refused_naming_the_field(tmp_path, old, new, field):
    text = (resource_dir("boards") / "esp32.toml").read_text()
    assert old in text
    path = tmp_path / "esp32.toml"
    path.write_text(text.replace(old, new))
    with pytest.raises(BoardError, match=field.replace(".", r"\.")):
        parse_board(path)


def test_a_users_board_folder_cannot_take_over_a_name_and_broken_files_hide_nothing(
        tmp_path, monkeypatch):
    from edgecnn.boards import scan_boards

    text = (resource_dir("boards") / "esp32.toml").read_text()
    (tmp_path / "mine.toml").write_text(text.replace('name = "esp32"', 'name = "mine"')
                                        .replace('aliases = ["esp32dev", "esp32-devkit"]',
                                                 'aliases = ["nano33"]'))
    (tmp_path / "broken.toml").write_text("name = [")
    (tmp_path / "mine2.toml").write_text(text.replace('name = "esp32"', 'name = "mine2"')
                                         .replace('aliases = ["esp32dev", "esp32-devkit"]',
                                                  'aliases = ["m2"]'))
    monkeypatch.setenv("EDGECNN_BOARDS_DIR", str(tmp_path))
    scan = scan_boards()
    assert {b.name for b in scan.boards} == {"esp32", "nano33ble", "mps2-an386", "mine2"}
    assert any("'nano33' is already taken" in e for e in scan.errors)
    assert any("broken.toml cannot be read" in e for e in scan.errors)
    assert load_board("nano33").name == "nano33ble" and load_board("m2").name == "mine2"
    with pytest.raises(BoardError, match="broken.toml cannot be read"):
        load_board("broken")

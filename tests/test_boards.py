import pytest

from conftest import shared_model
from edgecnn.analyze import analyze
from edgecnn.boards import check_fit, list_boards, load_board, parse_board, plan_arena
from edgecnn.errors import BoardError
from edgecnn.resources import resource_dir


def test_every_board_file_validates():
    boards = list_boards()
    assert {b.name for b in boards} >= {"nano33ble", "esp32"}
    for b in boards:
        assert b.runtime.source and b.tflm.why and b.tflm.lib_deps
        assert b.sram_bytes > b.runtime.ram_bytes


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
    a = analyze(shared_model("kws_ref_model.tflite"))
    nano, esp = plan_arena(a, load_board("nano33")), plan_arena(a, load_board("esp32"))
    # first conv: 10x4 kernel over 1 input channel -> 2*1*10*4 int16 values = 160 B;
    # 3x3 depthwise convs: none; average pool over 64 channels -> 64 int32 = 256 B (the largest)
    assert nano.scratch_bytes == max(2 * 1 * 10 * 4 * 2, 64 * 4) == 256
    assert "average_pooling2d" in nano.scratch_layer
    assert esp.scratch_bytes == 0
    assert nano.allocated_bytes % 16 == 0
    assert nano.device_need_bytes <= nano.allocated_bytes <= 1.10 * nano.device_need_bytes


def test_a_model_too_big_for_the_board_is_refused_with_options():
    a = analyze(shared_model("ad01_int8.tflite"))
    board = load_board("nano33")
    a.flash_bytes = 2_000_000  # as if the model were 2 MB
    report = check_fit(a, board)
    assert not report.fits
    message = report.failure_message()
    assert "over by" in message and "--force" in message
    assert "depthwise-separable" in message and "esp32" in message

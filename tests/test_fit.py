"""edgecnn/fit.py: a runtime's memory plan and a model's flash against a board's budgets."""
import pytest

from edgecnn.analyze import analyze
from edgecnn.boards import load_board
from edgecnn.errors import FitError
from edgecnn.fit import check_fit, require_fit
from edgecnn.runtimes import ArenaPlan, PlanPart


def _plan(allocated):
    return ArenaPlan(device_need_bytes=allocated, allocated_bytes=allocated,
                     parts=(PlanPart("tensors", allocated - 100), PlanPart("scratch", 100)),
                     scratch_bytes=100, scratch_layer="0 CONV_2D", margin=0.0, kernels="k",
                     method="test plan")


def test_the_rows_add_up_what_the_board_file_says(tiny_model):
    a = analyze(tiny_model["tflite"])
    board = load_board("nano33")
    report = check_fit(a, board, _plan(4_000))
    flash, ram = report.rows
    rt = board.runtime
    assert flash.used == a.flash_bytes + rt.flash_bytes and flash.available == board.flash_bytes
    assert ram.used == 4_000 + rt.ram_bytes + rt.stack_heap_reserve_bytes
    assert ram.available == board.sram_bytes and report.fits
    # the plan's own words: its parts, as the runtime labelled them
    assert "tensors 3,900 B + scratch 100 B" in report.table()
    assert report.to_dict()["arena"]["parts"][1] == {"label": "scratch", "bytes": 100}
    require_fit(report)


def test_a_plan_over_the_ram_is_refused_with_how_much_and_options(tiny_model):
    a = analyze(tiny_model["tflite"])
    board = load_board("nano33")
    report = check_fit(a, board, _plan(board.sram_bytes))
    assert not report.fits
    over = report.rows[1].used - report.rows[1].available
    with pytest.raises(FitError, match=f"over by {over:,} B") as caught:
        require_fit(report)
    assert "a board with more memory" in str(caught.value)
    require_fit(report, force=True)         # --force builds anyway


def test_the_esp32_checks_the_static_array_region_too(tiny_model):
    a = analyze(tiny_model["tflite"])
    esp = load_board("esp32")
    report = check_fit(a, esp, _plan(esp.runtime.static_ram_limit_bytes + 16))
    region = [r for r in report.rows if "dram0_0_seg" in r.resource]
    assert region and not region[0].ok and not report.fits

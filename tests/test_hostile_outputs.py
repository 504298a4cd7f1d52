"""Nothing the user made is lost: --force on a project, outputs that exist, interrupted runs."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import assert_one_line_error, run_cli

from edgecnn.build import build
from edgecnn.errors import OutputExistsError
from edgecnn.fsutil import check_writable_outputs, recover_interrupted


@pytest.fixture
def project(tmp_path, tiny_model):
    out = tmp_path / "P"
    build("nano33", model=tiny_model["tflite"], out=out)
    return out


def test_force_keeps_the_users_files_and_saves_edited_generated_ones(project, tiny_model):
    generated = (project / "src" / "main.cpp").read_text()
    (project / "NOTES.md").write_text("my notes")
    (project / "reports" / "20260101-000000").mkdir(parents=True)
    (project / "reports" / "20260101-000000" / "report.json").write_text('{"mine": 1}')
    (project / "src" / "main.cpp").write_text(generated + "\n// my change\n")
    (project / "src" / "extra.cpp").write_text("int extra;")

    result = build("nano33", model=tiny_model["tflite"], out=project, force=True)

    assert (project / "NOTES.md").read_text() == "my notes"
    assert (project / "reports" / "20260101-000000" / "report.json").read_text() == '{"mine": 1}'
    assert (project / "src" / "extra.cpp").read_text() == "int extra;"
    assert (project / "src" / "main.cpp").read_text() == generated
    inst = result.installed
    assert inst.replaced and inst.backed_up == ["src/main.cpp"] and inst.kept == 3
    assert inst.backup.parent == project / "edgecnn-backup"
    assert (inst.backup / "src" / "main.cpp").read_text().endswith("// my change\n")

    again = build("nano33", model=tiny_model["tflite"], out=project, force=True)
    assert again.installed.backed_up == []          # nothing edited since
    assert (inst.backup / "src" / "main.cpp").is_file()   # the earlier backup stays


def test_files_a_new_build_no_longer_writes_are_removed_unless_edited(tmp_path, tiny_model):
    out = tmp_path / "P"
    build("nano33", model=tiny_model["tflite"], out=out, arduino=True)
    sketch = next((out / "arduino").iterdir())
    edited = sketch / "model_data.h"
    edited.write_text(edited.read_text() + "// edited\n")
    result = build("nano33", model=tiny_model["tflite"], out=out, force=True)
    leftovers = [p for p in (out / "arduino").rglob("*") if p.is_file()]
    assert leftovers == []
    rel = edited.relative_to(out).as_posix()
    assert result.installed.backed_up == [rel]
    assert (result.installed.backup / rel).read_text().endswith("// edited\n")
    manifest = json.loads((out / "edgecnn.json").read_text())
    assert not any(p.startswith("arduino/") for p in manifest["files"])


def test_the_manifest_records_every_generated_file(project):
    manifest = json.loads((project / "edgecnn.json").read_text())
    on_disk = sorted(p.relative_to(project).as_posix() for p in project.rglob("*")
                     if p.is_file() and p.name != "edgecnn.json")
    assert sorted(manifest["files"]) == on_disk
    assert "model/model.tflite" in manifest["files"]


def test_train_and_quantize_refuse_to_replace_a_model(tmp_path, tiny_model):
    (tmp_path / "m.keras").write_bytes(b"my own model")
    proc = run_cli("train", "--dataset", "digits", "--epochs", "1", "--out", "m.keras",
                   cwd=tmp_path)
    assert_one_line_error(proc, "m.keras exists", "--force")
    assert (tmp_path / "m.keras").read_bytes() == b"my own model"
    (tmp_path / "m.keras").unlink()
    (tmp_path / "m.json").write_text("{}")      # a stale .json of the same stem
    proc = run_cli("train", "--dataset", "digits", "--epochs", "1", "--out", "m.keras",
                   cwd=tmp_path)
    assert_one_line_error(proc, "m.json exists")

    (tmp_path / "q.tflite").write_bytes(b"mine")
    proc = run_cli("quantize", tiny_model["keras"], "--out", tmp_path / "q.tflite",
                   "--eval-samples", "10")
    assert_one_line_error(proc, "q.tflite exists", "--force")
    assert (tmp_path / "q.tflite").read_bytes() == b"mine"


def test_an_output_below_a_file_is_one_line_before_any_work(tmp_path):
    (tmp_path / "plain").write_text("x")
    proc = run_cli("train", "--dataset", "digits", "--out", tmp_path / "plain" / "m.keras")
    assert_one_line_error(proc, "is not a folder")
    with pytest.raises(OutputExistsError, match="is a folder"):
        check_writable_outputs([tmp_path], force=True)


def _unwritable_folder(tmp_path):
    """A folder this process cannot write: a read-only mount if the machine has one (root
    writes anywhere else), otherwise a folder without write permission."""
    for line in Path("/proc/mounts").read_text().splitlines():
        fields = line.split()
        if len(fields) > 3 and "ro" in fields[3].split(",") and os.path.isdir(fields[1]):
            return fields[1]
    if os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o555)
        return locked
    pytest.skip("running as root on a machine without a read-only mount: no folder here is "
                "unwritable to this process")


def test_an_unwritable_folder_is_found_before_training(tmp_path):
    folder = _unwritable_folder(tmp_path)
    proc = run_cli("train", "--dataset", "digits", "--out", os.path.join(folder, "m.keras"))
    assert_one_line_error(proc, "not writable")


def test_bench_refuses_to_replace_report_files(tmp_path, tiny_model):
    out = tmp_path / "P"
    build("nano33", model=tiny_model["tflite"], out=out)
    mine = tmp_path / "report.md"
    mine.write_text("my report")
    proc = run_cli("bench", "--project", out, "--port", "virtual", "--runs", "3",
                   "--out", tmp_path / "report.json")
    assert_one_line_error(proc, "report.md exists", "--force")
    assert mine.read_text() == "my report"
    assert not (tmp_path / "report.json").exists()


def test_an_interrupted_swap_is_restored_and_stale_staging_removed(tmp_path):
    out = tmp_path / "P"
    aside = tmp_path / ".P.old.abc123"
    (aside / "previous").mkdir(parents=True)
    (aside / "previous" / "edgecnn.json").write_text('{"generator": "edgecnn"}')
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    stale = tmp_path / f".P.{dead}.x1.tmp"
    stale.mkdir()
    live = tmp_path / f".P.{os.getpid()}.x2.tmp"
    live.mkdir()

    notes = recover_interrupted(out)

    assert (out / "edgecnn.json").is_file() and not aside.exists()
    assert not stale.exists() and live.exists()
    assert any("restored" in n for n in notes) and any(dead in n for n in notes)


def test_a_build_reports_what_it_recovered(tmp_path, tiny_model):
    out = tmp_path / "P"
    build("nano33", model=tiny_model["tflite"], out=out)
    aside = tmp_path / ".P.old.zz"
    aside.mkdir()
    os.replace(out, aside / "previous")     # killed between the two renames
    proc = run_cli("build", "--board", "nano33", "--model", tiny_model["tflite"], "--out", out)
    assert_one_line_error(proc, "already holds an edgecnn project")
    assert "edgecnn: warning: restored" in proc.stderr
    assert (out / "edgecnn.json").is_file()


@pytest.mark.parametrize("blocker", ["src/main.cpp", "include"])
def test_something_in_the_way_stops_the_update_before_any_change(project, tiny_model, blocker):
    path = project / blocker
    before = (project / "edgecnn.json").read_text()   # its creation time changes on a build
    if path.is_dir():
        shutil.rmtree(path)
        path.write_text("a file where edgecnn writes a folder")
    else:
        path.unlink()
        path.mkdir()
    with pytest.raises(OutputExistsError, match=f"{blocker} is in the way"):
        build("nano33", model=tiny_model["tflite"], out=project, force=True)
    assert (project / "edgecnn.json").read_text() == before

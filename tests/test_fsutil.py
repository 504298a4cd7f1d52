"""--force never reaches past what a command owns: a manifest or a report marker that names a
path outside its folder, a link out of the folder, an output that is an input of the same run,
anything but a regular file. Each is refused in one line with nothing changed."""
import hashlib
import json
import os
from pathlib import Path

import pytest
from conftest import assert_one_line_error, run_cli

from edgecnn.build import build
from edgecnn.errors import OutputExistsError, ProjectError
from edgecnn.fsutil import check_writable_outputs, owned_path


def _tree(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with its content's hash (links as their target)."""
    out = {}
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).as_posix()
        if p.is_symlink():
            out[rel] = "-> " + os.readlink(p)
        elif p.is_file():
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.fixture
def project(tmp_path, tiny_model):
    out = tmp_path / "P"
    build("nano33", model=tiny_model["tflite"], out=out)
    return out


@pytest.mark.parametrize("name", ["../victim.txt", "ABSOLUTE", "src/../../victim.txt",
                                  "./src/main.cpp", ""])
def test_a_manifest_naming_a_path_outside_the_project_is_refused(tmp_path, project,
                                                                 tiny_model, name):
    victim = tmp_path / "victim.txt"
    victim.write_text("the user's")
    name = str(victim) if name == "ABSOLUTE" else name
    manifest = json.loads((project / "edgecnn.json").read_text())
    manifest["files"][name] = "0" * 64
    (project / "edgecnn.json").write_text(json.dumps(manifest))
    before = _tree(project)

    proc = run_cli("build", "--model", tiny_model["tflite"], "--board", "nano33", "--out",
                   project, "--force")

    assert_one_line_error(proc, "edgecnn.json names", "not a file inside the project")
    assert victim.read_text() == "the user's"
    assert _tree(project) == before
    # every command reading the project refuses it the same way
    assert_one_line_error(run_cli("bench", "--project", project, "--port", "virtual"),
                          "not a file inside the project")


def test_a_folder_linked_out_of_the_project_is_never_written_through(tmp_path, project,
                                                                     tiny_model):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.cpp").write_text("mine")
    os.rename(project / "src", tmp_path / "old-src")
    os.symlink(elsewhere, project / "src")
    before = _tree(elsewhere)

    proc = run_cli("build", "--model", tiny_model["tflite"], "--board", "nano33", "--out",
                   project, "--force")

    assert_one_line_error(proc, "in the way")
    assert _tree(elsewhere) == before


def test_owned_path_accepts_only_plain_names_inside_the_folder(tmp_path):
    (tmp_path / "sub").mkdir()
    os.symlink(tmp_path.parent, tmp_path / "out")
    assert owned_path(tmp_path, "sub/a.c") == tmp_path / "sub" / "a.c"
    for bad in ("../a", "/etc/passwd", "sub/../../a", "out/a", "", "a//b", "./a", None, 3,
                "a\\..\\b", "a\0b"):
        assert owned_path(tmp_path, bad) is None, bad


def test_report_force_keeps_the_users_files_and_backs_up_edited_pages(tmp_path, tiny_model):
    out = tmp_path / "R"
    args = ("report", "--model", tiny_model["keras"], "--tflite", tiny_model["tflite"],
            "--samples", "40", "--out", out)
    assert run_cli(*args).returncode == 0
    (out / "mine.txt").write_text("my notes")
    (out / "report.md").write_text("my edit")
    (out / "extra").mkdir()
    (out / "extra" / "data.csv").write_text("1,2")

    proc = run_cli(*args, "--force")

    assert proc.returncode == 0, proc.stderr
    assert (out / "mine.txt").read_text() == "my notes"
    assert (out / "extra" / "data.csv").read_text() == "1,2"
    assert (out / "report.md").read_text().startswith("# edgecnn report")
    backups = list((out / "edgecnn-backup").rglob("report.md"))
    assert [b.read_text() for b in backups] == ["my edit"]
    marker = json.loads((out / "edgecnn-report.json").read_text())
    assert "report.html" in marker["files"] and "mine.txt" not in marker["files"]


def test_a_report_marker_naming_a_file_outside_is_refused(tmp_path, tiny_model):
    out = tmp_path / "R"
    args = ("report", "--model", tiny_model["keras"], "--tflite", tiny_model["tflite"],
            "--samples", "20", "--out", out)
    assert run_cli(*args).returncode == 0
    victim = tmp_path / "victim.txt"
    victim.write_text("the user's")
    marker = json.loads((out / "edgecnn-report.json").read_text())
    marker["files"]["../victim.txt"] = "0" * 64
    (out / "edgecnn-report.json").write_text(json.dumps(marker))

    assert_one_line_error(run_cli(*args, "--force"), "not a file inside the report")
    assert victim.read_text() == "the user's"


def test_an_output_that_is_an_input_is_refused_even_with_force(tmp_path, tiny_model):
    model = tmp_path / "m.keras"
    model.write_bytes(tiny_model["keras"].read_bytes())
    proc = run_cli("quantize", model, "--out", model, "--force", "--dataset", "digits")
    assert_one_line_error(proc, "is also an input of this run")
    assert model.read_bytes() == tiny_model["keras"].read_bytes()
    # through a hard link, too
    link = tmp_path / "same.keras"
    os.link(model, link)
    with pytest.raises(OutputExistsError, match="input"):
        check_writable_outputs([link], True, inputs=[model])


def test_bench_never_writes_over_the_projects_own_files(project):
    before = _tree(project)
    for name in ("edgecnn.json", "model/test_vectors.json"):
        proc = run_cli("bench", "--project", project, "--port", "virtual", "--runs", "2",
                       "--out", project / name, "--force")
        assert_one_line_error(proc, "is also an input of this run")
    assert _tree(project) == before


def test_only_regular_files_are_replaced(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    target = tmp_path / "real.json"
    target.write_text("{}")
    link = tmp_path / "link.json"
    os.symlink(target, link)
    with pytest.raises(OutputExistsError, match="not a regular file"):
        check_writable_outputs([fifo], True)
    with pytest.raises(OutputExistsError, match="symbolic link"):
        check_writable_outputs([link], True)
    with pytest.raises(OutputExistsError, match="not a regular file"):
        check_writable_outputs([Path("/dev/null")], True)
    assert link.is_symlink() and target.read_text() == "{}"


def test_a_name_longer_than_the_file_system_allows_is_one_line(tmp_path, tiny_model):
    long = tmp_path / ("x" * 300 + ".tflite")
    proc = run_cli("quantize", tiny_model["keras"], "--out", long, "--dataset", "digits")
    assert_one_line_error(proc, "choose a shorter name")
    proc = run_cli("build", "--model", tiny_model["tflite"], "--board", "nano33", "--out",
                   tmp_path / ("p" * 300))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_a_bench_that_fails_before_running_leaves_no_empty_report_folder(project):
    proc = run_cli("bench", "--project", project, "--port", "/dev/edgecnn-no-such-port",
                   "--runs", "2")
    assert proc.returncode == 2
    assert not (project / "reports").exists() or not any((project / "reports").iterdir())


def test_a_tampered_manifest_is_refused_by_read_manifest(project):
    from edgecnn.manifest import read_manifest

    manifest = json.loads((project / "edgecnn.json").read_text())
    manifest["files"]["/etc/passwd"] = "0" * 64
    (project / "edgecnn.json").write_text(json.dumps(manifest))
    with pytest.raises(ProjectError, match="not a file inside the project"):
        read_manifest(project)

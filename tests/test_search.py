"""edgecnn/search.py and `edgecnn search`: candidates measured before training, rejected when
they do not fit, the rest trained; a study that continues, is shared by processes, survives
SIGTERM; outputs a build can use."""
import json
import signal
import subprocess
import sys
import time

import pytest
from conftest import assert_one_line_error, run_cli

from edgecnn.errors import OptionError
from edgecnn.search import SearchConfig, SearchSpace, pareto, search

FAST = dict(dataset="digits", board="nano33", epochs=1, archs=("edge_cnn", "edge_cnn_gap"))


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("search") / "s"
    return search(SearchConfig(out=out, trials=3, **FAST), log=lambda s: None)


def test_every_trial_is_measured_and_the_best_is_ready_to_build(study, tmp_path):
    out = study.out
    assert len(study.records) == 3 and all(r.arch in FAST["archs"] for r in study.records)
    for r in study.records:
        assert r.status == "complete" and 0 <= r.val_int8_accuracy <= 1
        assert r.arena_bytes > 0 and r.flash_bytes > r.model_bytes > 0
        assert (out / "trials" / f"{r.number:04d}" / "model.tflite").is_file()
    best = study.best
    assert best.val_int8_accuracy == max(r.val_int8_accuracy for r in study.records)
    assert 0 <= study.best_test_int8_accuracy <= 1
    for name in ("trials.csv", "trials.json", "report.html", "report.md", "pareto_arena.png",
                 "pareto_flash.png", "best.tflite", "best.keras", "best.json"):
        assert (out / name).is_file(), name
    assert (out / "best.tflite").read_bytes() == (
        out / "trials" / f"{best.number:04d}" / "model.tflite").read_bytes()
    assert len(json.loads((out / "trials.json").read_text())) == 3
    proc = run_cli("build", "--model", out / "best.tflite", "--board", "nano33", "--out",
                   tmp_path / "P")
    assert proc.returncode == 0, proc.stderr
    assert f"int8 {study.best_test_int8_accuracy:.4f}" in proc.stdout


def test_the_size_measured_before_training_is_the_trained_models(study):
    """An untrained model's biases are all zero and the converter stores equal constants once:
    measured as it is, the candidate's int8 graph is smaller than the trained one's (a model
    over a flash budget would pass). The measurement before training must give the bytes of
    the model that training makes, and leave the untrained model as it was."""
    import numpy as np

    from edgecnn.data import load_dataset
    from edgecnn.quantize import _convert
    from edgecnn.search import _Costs
    from edgecnn.zoo import build_model

    record = study.records[1]
    assert record.arch == "edge_cnn_gap" and record.status == "complete"
    trained = (study.out / "trials" / f"{record.number:04d}" / "model.tflite").read_bytes()
    dataset = load_dataset("digits")
    model = build_model("edge_cnn_gap", dataset.input_shape, dataset.num_classes,
                        filters=tuple(record.params["filters"]))
    before = [w.copy() for w in model.get_weights()]
    tflite, _, _ = _Costs(SearchConfig(out=study.out, **FAST), dataset).measure(model)
    assert len(tflite) == len(trained) == record.model_bytes
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True))
    assert len(_convert(model, dataset, 8)) < len(trained)    # why the measurement takes care


def test_a_new_study_begins_with_the_zoo_defaults(study):
    """The warm start: the searched architectures' hand-picked defaults (written out here, not
    read from the zoo) at the default training, without augmentation or label smoothing on a
    1-epoch schedule."""
    first, second = study.records[:2]
    assert (first.arch, first.params) == ("edge_cnn", {"filters": [16, 32, 64], "dense": 48,
                                                       "dropout": 0.3})
    assert (second.arch, second.params) == ("edge_cnn_gap", {"filters": [16, 32, 48, 64]})
    for r in (first, second):
        assert r.training == {"learning_rate": 0.003, "batch_size": 128, "augment": False,
                              "label_smoothing": 0.0}


def test_the_warm_start_keeps_to_a_restricted_space():
    from edgecnn.search import zoo_defaults

    narrow = SearchSpace.restricted(("edge_cnn", "edge_cnn_gap", "dscnn"),
                                    {"filters": "8..32", "learning_rate": "0.005..0.01"})
    points = zoo_defaults(narrow, epochs=30)
    # edge_cnn's 64 and edge_cnn_gap's 48 and 64 filters are outside 8..32; dscnn's 32 inside
    assert [p["arch"] for p in points] == ["dscnn"]
    assert points[0]["dscnn.filters"] == 32 and points[0]["dscnn.blocks"] == 4
    # a learning rate outside the range is left to the sampler; augmentation on a long
    # schedule, plain cross-entropy as `edgecnn train`
    assert "learning_rate" not in points[0]
    assert points[0]["batch_size"] == 128 and points[0]["augment"] is True
    assert points[0]["label_smoothing"] == 0.0


def test_a_rerun_continues_the_study(study):
    again = search(SearchConfig(out=study.out, trials=4, **FAST), log=lambda s: None)
    assert [r.number for r in again.records] == [0, 1, 2, 3]
    assert [r.params for r in again.records[:3]] == [r.params for r in study.records]


def _candidate(widths, **training) -> dict:
    """An edge_cnn candidate as the study's parameters, to enqueue."""
    params = {"arch": "edge_cnn", "edge_cnn.filters.layers": len(widths), "edge_cnn.dense": 16,
              "edge_cnn.dropout": 0.0, "learning_rate": 0.003, "batch_size": 64,
              "augment": False, "label_smoothing": 0.0, **training}
    params.update({f"edge_cnn.filters.{i}": w for i, w in enumerate(widths)})
    return params


def test_candidates_over_the_budget_are_rejected_before_training(tmp_path):
    from edgecnn.search import open_study

    lines = []
    config = SearchConfig(out=tmp_path / "s", trials=5, max_arena=3500, **FAST)
    (tmp_path / "s").mkdir()
    # one candidate known to fit (about 3,000 B of arena on digits) and one known not to
    # (about 12,000 B), whatever the sampler draws after them
    study = open_study(config, tmp_path / "s")
    study.enqueue_trial(_candidate((8, 8)))
    study.enqueue_trial(_candidate((64, 64, 64, 64)))
    result = search(config, log=lines.append)
    assert result.records[0].status == "complete" and result.records[1].status == "rejected"
    rejected = [r for r in result.records if r.status == "rejected"]
    trained = [r for r in result.records if r.status == "complete"]
    assert rejected and trained and result.rejected == len(rejected)
    for r in rejected:
        assert r.arena_bytes > 3500 and "--max-arena" in r.reason
        assert r.train_seconds is None
        assert not (tmp_path / "s" / "trials" / f"{r.number:04d}").exists()
    assert all(r.arena_bytes <= 3500 for r in trained)
    assert result.best.arena_bytes <= 3500
    assert any("rejected before training" in line for line in lines)
    # the sampler learns the feasible region: a rejected candidate is a finished trial whose
    # constraint is its relative excess over the budget, a trained one's is 0
    import optuna

    from edgecnn.search import JOURNAL, STUDY_NAME

    study = optuna.load_study(study_name=STUDY_NAME, storage=optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(tmp_path / "s" / JOURNAL))))
    for r in result.records:
        t = study.trials[r.number]
        assert t.state == optuna.trial.TrialState.COMPLETE
        if r.status == "rejected":
            assert t.constraints["violation"] == pytest.approx((r.arena_bytes - 3500) / 3500)
            assert t.values[0] == 0.0
        else:
            assert t.constraints["violation"] == 0.0


def test_a_candidate_whose_weights_alone_are_over_the_model_budget_is_not_converted(tmp_path):
    """edge_cnn (64, 64, 64, 64) has 3*3*64 + 3 * 3*3*64*64 = 111,168 convolution weights
    (counted by hand), one int8 byte each: over --max-model 20,000 B before any conversion."""
    from edgecnn.search import open_study

    config = SearchConfig(out=tmp_path / "s", trials=1, max_model=20_000, **FAST)
    (tmp_path / "s").mkdir()
    open_study(config, tmp_path / "s").enqueue_trial(_candidate((64, 64, 64, 64)))
    result = search(config, log=lambda s: None)
    record = result.records[0]
    assert record.status == "rejected" and "--max-model 20,000 B" in record.reason
    assert "int8 weights" in record.reason
    bound = int(record.reason.split("model over ")[1].split(" B")[0].replace(",", ""))
    assert bound >= 111_168
    assert record.model_bytes is None and record.arena_bytes is None    # never converted
    assert record.violation == pytest.approx((bound - 20_000) / 20_000)


def test_a_candidate_drawn_again_keeps_its_figures_and_is_not_run_again(tmp_path):
    """TPE redraws points of a small space: the second draw of a candidate takes the first's
    figures (a trained one is not trained again, a rejected one keeps why) and counts once in
    the Pareto front and the outputs."""
    from edgecnn.search import open_study

    config = SearchConfig(out=tmp_path / "s", trials=4, max_arena=3500, **FAST)
    (tmp_path / "s").mkdir()
    study = open_study(config, tmp_path / "s")
    for widths in ((8, 8), (8, 8), (64, 64, 64, 64), (64, 64, 64, 64)):
        study.enqueue_trial(_candidate(widths))
    lines = []
    result = search(config, log=lines.append)
    first, again, over, over_again = result.records
    assert first.status == "complete" and first.same_as is None and first.train_seconds > 0
    assert again.status == "complete" and again.same_as == 0 and again.train_seconds is None
    assert again.val_int8_accuracy == first.val_int8_accuracy
    assert again.arena_bytes == first.arena_bytes and again.params == first.params
    assert "the same candidate as trial 0" in again.reason
    assert not (tmp_path / "s" / "trials" / "0001").exists()
    assert over.status == over_again.status == "rejected" and over_again.same_as == 2
    assert "--max-arena" in over_again.reason and "the same candidate as trial 2" in \
        over_again.reason
    assert [r.number for r in pareto(result.records, "arena_bytes")] == [0]
    assert result.best.number == 0
    assert (tmp_path / "s" / "best.tflite").read_bytes() == (
        tmp_path / "s" / "trials" / "0000" / "model.tflite").read_bytes()
    assert any(line.startswith("[2/4] trial 1:") and "not run again" in line for line in lines)
    assert "1 trained, 1 rejected before training" in (tmp_path / "s" / "report.md").read_text()


def test_a_budget_no_candidate_meets_is_one_line_before_training(tmp_path):
    proc = run_cli("search", "--dataset", "digits", "--board", "nano33", "--max-arena", "100",
                   "--out", tmp_path / "s")
    assert_one_line_error(proc, "no candidate can meet the budgets", "at its smallest")
    assert not (tmp_path / "s" / "trials").exists()


@pytest.mark.parametrize("args, fragment", [
    (["--param", "dense=0..9000"], "dense"),
    (["--param", "dense=10"], "LO..HI"),
    (["--param", "nothing=1..2"], "no searched architecture"),
    (["--archs", "lenet"], "--archs lenet"),
    (["--trials", "0"], "--trials"),
    (["--board", "uno"], "uno"),
])
def test_bad_options_are_one_line(tmp_path, args, fragment):
    base = {"--board": "nano33"}
    if "--board" in args:
        base = {}
    proc = run_cli("search", "--dataset", "digits", *[x for kv in base.items() for x in kv],
                   *args, "--out", tmp_path / "s")
    assert_one_line_error(proc, fragment)


def test_a_storage_that_is_not_a_study_is_one_line(tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "study.journal").write_text("this is not an Optuna journal\n")
    proc = run_cli("search", "--dataset", "digits", "--board", "nano33", "--out", tmp_path / "s")
    assert_one_line_error(proc, "cannot open the study")
    assert (tmp_path / "s" / "study.journal").read_text() == "this is not an Optuna journal\n"


def _search_process(out, trials):
    return subprocess.Popen([sys.executable, "-m", "edgecnn.cli", "search", "--dataset", "digits",
                             "--board", "nano33", "--epochs", "1", "--archs", "edge_cnn",
                             "--trials", str(trials), "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_processes_share_one_study(tmp_path):
    out = tmp_path / "s"
    procs = [_search_process(out, 4) for _ in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
    rows = json.loads((out / "trials.json").read_text())
    numbers = [r["number"] for r in rows]
    assert len(numbers) == len(set(numbers)) and 4 <= len(numbers) <= 5


def test_sigterm_keeps_every_finished_trial_and_a_rerun_goes_on(tmp_path):
    out = tmp_path / "s"
    proc = _search_process(out, 50)
    seen = []
    for line in proc.stderr:         # until the first trial has finished
        seen.append(line)
        if "] trial " in line and "int8" in line:
            break
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    err = "".join(seen) + err
    assert proc.returncode == 128 + signal.SIGTERM, err
    rows = json.loads((out / "trials.json").read_text())
    done = [r for r in rows if r["status"] == "complete"]
    assert done
    again = search(SearchConfig(out=out, trials=len(rows) + 1, dataset="digits",
                                board="nano33", epochs=1, archs=("edge_cnn",)),
                   log=lambda s: None)
    assert len(again.records) >= len(rows) + 1


def test_restricting_the_space_is_checked_against_the_zoo():
    space = SearchSpace.restricted(("edge_cnn",), {"dense": "16..32",
                                                   "learning_rate": "0.002..0.004"})
    assert space.params["edge_cnn"]["dense"].lo == 16
    assert space.training["learning_rate"].hi == 0.004
    with pytest.raises(OptionError):
        SearchSpace.restricted(("edge_cnn",), {"dense": "16.5..32"})
    # a parameter of listed values keeps those in the range, integers as integers
    dscnn = SearchSpace.restricted(("dscnn",), {"filters": "20..48", "batch_size": "64..128"})
    assert dscnn.params["dscnn"]["filters"].values == (24, 32, 48)
    assert dscnn.training["batch_size"].values == (64, 128)
    with pytest.raises(OptionError, match="none lies in 70..90"):
        SearchSpace.restricted(("dscnn",), {"filters": "70..90"})


def test_successive_halving_milestones_and_cutoffs():
    from edgecnn.search import Halving

    assert Halving(epochs=27, min_epochs=1).milestones == (1, 3, 9)
    # no milestone where a stop would save less than two thirds of the training (27 of 30)
    assert Halving(epochs=30, min_epochs=3).milestones == (3, 9)
    assert Halving(epochs=8, min_epochs=3).milestones == ()
    assert Halving(epochs=8, min_epochs=2, factor=2).milestones == (2, 4)
    h = Halving(epochs=27, min_epochs=1)
    assert h.cutoff([]) is None                      # the first trial there always goes on
    assert h.cutoff([0.7]) == 0.7                    # 2 trials: the better one goes on
    assert h.cutoff([0.6, 0.9]) == 0.9               # 3 trials: only the best
    # 6 trials: the top 2 go on, so at most one other may be better: the 2nd best other
    assert h.cutoff([0.1, 0.5, 0.4, 0.8, 0.3]) == 0.5
    # 9 trials: the top 3, the 3rd best other
    assert h.cutoff([0.1, 0.5, 0.4, 0.8, 0.3, 0.2, 0.6, 0.7]) == 0.6


def test_successive_halving_stops_a_trial_below_the_others_at_a_milestone(tmp_path):
    """The milestones live in the study's storage: after a trial of another worker that
    reached 1.0 at epoch 1 (added here), every later trial below it stops there; trial 0,
    the first at every milestone, ran all its epochs."""
    import optuna

    from edgecnn.search import JOURNAL, STUDY_NAME

    config = dict(dataset="digits", board="nano33", epochs=3, min_epochs=1,
                  archs=("edge_cnn",))
    first = search(SearchConfig(out=tmp_path / "s", trials=1, **config), log=lambda s: None)
    assert first.records[0].status == "complete" and first.records[0].epochs_run == 3
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(tmp_path / "s" / JOURNAL)))
    study = optuna.load_study(study_name=STUDY_NAME, storage=storage)
    assert 0 <= study.trials[0].user_attrs["val_accuracy@1"] <= 1
    assert "val_accuracy@3" not in study.trials[0].user_attrs     # 3 = --epochs: no milestone
    study.add_trial(optuna.trial.create_trial(values=[1.0, 1, 1],
                                              user_attrs={"val_accuracy@1": 1.0}))
    lines = []
    again = search(SearchConfig(out=tmp_path / "s", trials=4, **config), log=lines.append)
    later = [r for r in again.records if r.number >= 2]
    assert [r.status for r in later] == ["pruned", "pruned"]
    for r in later:
        assert r.epochs_run == 1 and "stopped after 1 epochs" in r.reason and "1.0000" in r.reason
        assert r.val_int8_accuracy is None and 0 <= r.val_float_accuracy < 1
        assert not (tmp_path / "s" / "trials" / f"{r.number:04d}" / "model.tflite").exists()
    study = optuna.load_study(study_name=STUDY_NAME, storage=storage)
    assert [t.state for t in study.trials[2:]] == [optuna.trial.TrialState.PRUNED] * 2
    assert again.best.number == 0
    assert any(line.startswith("[4/4] trial 3: edge_cnn") and "stopped after" in line
               for line in lines)


def test_a_zoo_default_is_trained_to_the_end_though_below_the_others(tmp_path):
    """The zoo's defaults are the bar the search has to beat: one below another trial at a
    milestone still runs all its epochs (and keeps its milestone for the others)."""
    import optuna

    from edgecnn.search import open_study

    config = SearchConfig(out=tmp_path / "s", trials=2, dataset="digits", board="nano33",
                          epochs=3, min_epochs=1, archs=("edge_cnn",))
    (tmp_path / "s").mkdir()
    study = open_study(config, tmp_path / "s")
    study.add_trial(optuna.trial.create_trial(values=[1.0, 1, 1],
                                              user_attrs={"val_accuracy@1": 1.0}))
    # edge_cnn's defaults in the zoo, written out here: (16, 32, 64), dense 48, dropout 0.3,
    # learning rate 0.003, batch 128, no augmentation on a 3-epoch schedule
    study.enqueue_trial(_candidate((16, 32, 64), **{"edge_cnn.dense": 48,
                                                     "edge_cnn.dropout": 0.3,
                                                     "batch_size": 128}))
    result = search(config, log=lambda s: None)
    default = next(r for r in result.records if r.number == 1)
    assert default.params == {"filters": [16, 32, 64], "dense": 48, "dropout": 0.3}
    assert default.status == "complete" and default.epochs_run == 3
    study = open_study(config, tmp_path / "s")
    assert study.trials[1].user_attrs["val_accuracy@1"] < 1.0


@pytest.mark.parametrize("epochs, min_epochs", [(3, 3), (5, 2)])
def test_min_epochs_must_leave_a_milestone(tmp_path, epochs, min_epochs):
    """Successive halving with no milestone (3 x --min-epochs over --epochs) is refused."""
    proc = run_cli("search", "--dataset", "digits", "--board", "nano33", "--epochs",
                   str(epochs), "--min-epochs", str(min_epochs), "--out", tmp_path / "s")
    assert_one_line_error(proc, f"--min-epochs {min_epochs}")
    assert not (tmp_path / "s").exists()


def test_the_pareto_front_keeps_only_undominated_trials():
    from edgecnn.search import TrialRecord

    def rec(n, acc, arena):
        return TrialRecord(n, "complete", "edge_cnn", {}, {}, val_int8_accuracy=acc,
                           arena_bytes=arena)
    records = [rec(0, 0.9, 100), rec(1, 0.8, 200), rec(2, 0.95, 300), rec(3, 0.7, 50)]
    assert [r.number for r in pareto(records, "arena_bytes")] == [3, 0, 2]


def test_a_worker_killed_mid_trial_leaves_it_failed_and_a_rerun_goes_on(tmp_path):
    out = tmp_path / "s"
    proc = _search_process(out, 50)
    for line in proc.stderr:
        if "] trial " in line and "int8" in line:
            break
    time.sleep(2)                   # the next trial is under way (its training takes longer)
    proc.kill()                     # SIGKILL: no cleanup runs; its running trial is abandoned
    proc.communicate(timeout=60)
    again = search(SearchConfig(out=out, trials=3, dataset="digits", board="nano33", epochs=1,
                                archs=("edge_cnn",)), log=lambda s: None)
    statuses = [r.status for r in again.records]
    assert statuses.count("complete") >= 2 and "failed" in statuses


def test_a_model_budget_is_checked_on_the_int8_bytes(tmp_path):
    proc = run_cli("search", "--dataset", "digits", "--board", "nano33", "--max-model", "1000",
                   "--out", tmp_path / "s")
    assert_one_line_error(proc, "--max-model 1,000 B")


def test_an_instruction_budget_is_measured_on_the_emulated_cortex_m4(tmp_path):
    """Each candidate that fits is built with the native runtime and run under QEMU before
    training; the count is the firmware's own, and the budget rejects the heavier ones."""
    from conftest import require_tool

    for tool in ("qemu-system-arm", "arm-none-eabi-gcc", "arm-none-eabi-g++"):
        require_tool(tool)
    result = search(SearchConfig(out=tmp_path / "s", trials=4, max_instructions=400_000,
                                 dataset="digits", board="nano33", epochs=1,
                                 archs=("edge_cnn",)), log=lambda s: None)
    measured = [r for r in result.records if r.instructions is not None]
    assert len(measured) == 4
    for r in measured:
        assert (r.status == "complete") == (r.instructions <= 400_000), r
        if r.status == "rejected":
            assert "--max-instructions" in r.reason and r.train_seconds is None
    assert all(r.instructions > 10_000 for r in measured)
    # the instructions are the study's fourth objective
    import optuna

    from edgecnn.search import JOURNAL, STUDY_NAME

    study = optuna.load_study(study_name=STUDY_NAME, storage=optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(tmp_path / "s" / JOURNAL))))
    assert [d.name for d in study.directions] == ["MAXIMIZE", "MINIMIZE", "MINIMIZE", "MINIMIZE"]
    for t in study.trials:
        if t.state == optuna.trial.TrialState.COMPLETE:
            assert t.values[3] == result.records[t.number].instructions


RAY_CLUSTER = """
import os, sys
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"     # every socket on 127.0.0.1
from ray.cluster_utils import Cluster
cluster = Cluster(initialize_head=True,
                  head_node_args={"num_cpus": 1, "include_dashboard": False})
cluster.add_node(num_cpus=1)                              # a second node: head + worker
cluster.wait_for_nodes()
print(cluster.address, flush=True)
sys.stdin.read()                                          # until the test closes stdin
cluster.shutdown()
"""


@pytest.fixture(scope="module")
def ray_cluster():
    """A Ray cluster of two nodes (head and worker) on 127.0.0.1, started and stopped here
    (once for the module's Ray tests: each uses its own study folder)."""
    pytest.importorskip("ray.tune", reason="Ray Tune is the [ray] extra; .[test] installs it")
    proc = subprocess.Popen([sys.executable, "-c", RAY_CLUSTER], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        address = proc.stdout.readline().strip()
        assert address.startswith("127.0.0.1:"), address
        yield address
    finally:
        proc.stdin.close()
        proc.wait(timeout=60)


def test_trials_run_on_a_ray_cluster_into_the_same_study(ray_cluster, tmp_path):
    out = tmp_path / "s"
    proc = run_cli("search", "--dataset", "digits", "--board", "nano33", "--epochs", "1",
                   "--archs", "edge_cnn,edge_cnn_gap", "--trials", "3", "--max-arena", "3500",
                   "--out", out, "--ray", ray_cluster)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads((out / "trials.json").read_text())
    assert sorted(r["number"] for r in rows) == [0, 1, 2]
    assert all(r["status"] in ("complete", "rejected") for r in rows)
    for r in rows:
        assert (out / "trials" / f"{r['number']:04d}" / "model.tflite").is_file() == (
            r["status"] == "complete")
        if r["status"] == "rejected":
            assert "--max-arena 3,500 B" in r["reason"]
        else:
            assert r["arena_bytes"] <= 3500 and 0 <= r["val_int8_accuracy"] <= 1
    for r in rows:     # one console line per finished trial, from the driver
        assert f"trial {r['number']}: {r['arch']}" in proc.stderr
    assert "next      edgecnn build --model" in proc.stdout or not any(
        r["status"] == "complete" for r in rows)
    # the same study: a run in this process continues it where the cluster left it
    again = search(SearchConfig(out=out, trials=4, max_arena=3500, **FAST), log=lambda s: None)
    assert [r.number for r in again.records] == [0, 1, 2, 3]


def test_compare_runs_its_architectures_on_the_ray_cluster(ray_cluster, tmp_path):
    """`edgecnn compare --ray`: each architecture a trial of the same trial runner, run by
    the cluster's workers; the page as without Ray."""
    out = tmp_path / "cmp"
    proc = run_cli("compare", "--dataset", "digits", "--archs", "edge_cnn,fcnn", "--epochs", "1",
                   "--board", "nano33", "--out", out, "--ray", ray_cluster)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads((out / "numbers.json").read_text())["rows"]
    assert [r["name"] for r in rows] == ["edge_cnn", "fcnn"]
    assert all(0 <= r["int8_accuracy"] <= 1 and r["train_seconds"] > 0 for r in rows)
    for number, arch in enumerate(("edge_cnn", "fcnn")):
        assert (out / "trials" / f"{number:04d}" / "model.tflite").is_file()
        assert f"trial {number}: {arch}" in proc.stderr
    # Ray Tune ran them: its experiment folder (one result per trial) is in the output
    results = list((out / "ray" / "tune").glob("*/result.json"))
    assert len(results) == 2


def test_a_ray_address_nothing_answers_on_is_one_line(tmp_path):
    pytest.importorskip("ray.tune")
    import socket

    with socket.socket() as s:           # a port of this machine's loopback nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.monotonic()
    proc = run_cli("search", "--dataset", "digits", "--board", "nano33", "--out", tmp_path / "s",
                   "--ray", f"127.0.0.1:{port}")
    assert_one_line_error(proc, f"--ray 127.0.0.1:{port}: no Ray cluster answers there")
    assert time.monotonic() - start < 30
    assert not (tmp_path / "s").exists()


def test_ray_not_installed_says_how_to_install_it(tmp_path):
    code = ("import sys; sys.modules['ray'] = None\n"
            "from edgecnn.cli import main\n"
            f"main(['search', '--board', 'nano33', '--out', {str(tmp_path / 's')!r}, '--ray'])")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert_one_line_error(proc, 'pip install "edgecnn[ray]"')

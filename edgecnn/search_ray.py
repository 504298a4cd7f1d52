"""``edgecnn search --ray``: the same study, its trials run by Ray Tune on a Ray cluster.

Ray Tune schedules the trials (``cpus_per_trial`` CPUs each, workers reused from trial to
trial, TensorFlow's thread pools sized to those CPUs); Optuna stays the searcher, through
Ray Tune's ``OptunaSearch`` on the study edgecnn opened (the journal in ``--out`` or the RDB
``--storage``), so the trials land where an in-process search puts them and a rerun, with or
without Ray, continues the same study. Each trial runs :func:`edgecnn.search.evaluate`, the
trial runner the in-process search calls.

``--ray`` alone starts a Ray instance on this machine, bound to 127.0.0.1; ``--ray ADDRESS``
joins a running cluster (``ray start --head``). On a cluster of several machines, ``--out``
must be a folder every node sees (trained models are written there) and ``--storage`` an RDB
every node reaches.
"""
from __future__ import annotations

import json
import os
import socket
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .errors import EdgecnnError, OptionError
from .search import (
    STUDY_NAME,
    SearchConfig,
    SearchSpace,
    TrialLog,
    TrialRecord,
    _Costs,
    _keep,
    _worker,
    evaluate,
    objectives,
    sample,
    study_storage,
)

CONNECT_TIMEOUT_S = 5.0
LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def _on_this_machine(address: str) -> bool:
    """A Ray started here, or a cluster whose head is on this machine's loopback."""
    host = address.removeprefix("ray://").rpartition(":")[0]
    return address == "local" or host in ("127.0.0.1", "localhost", "::1", "[::1]")


def require_ray() -> None:
    """Refuse ``--ray`` before any work when Ray Tune is not installed (found without
    importing it: Ray reads its settings when imported, and connect() sets them first)."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("ray")     # a top-level name: nothing is imported
    except (ImportError, ValueError):
        spec = None
    found = spec is not None and any(
        (Path(folder) / "tune" / "__init__.py").is_file()
        for folder in spec.submodule_search_locations or ()) and \
        importlib.util.find_spec("pandas") is not None     # what ray[tune] adds to ray
    if not found:
        raise OptionError("--ray needs Ray Tune, an optional dependency: pip install "
                          "\"edgecnn[ray]\"")


def connect(address: str) -> None:
    """Start Ray here (``"local"``: every socket on 127.0.0.1) or join the cluster at
    ``address`` (HOST:PORT of its head, as ``ray start --head`` printed it). An address
    nothing answers on is refused in seconds, not after Ray's own minute of retries."""
    import logging

    if _on_this_machine(address):
        # Ray resolves 127.0.0.1 to the machine's interface address (and binds that) unless
        # this is set, as well as the node address (ray-project/ray#26293); Ray reads it
        # when it is imported.
        if "ray" in sys.modules and os.environ.get(LOOPBACK_ENV) != "0":
            raise EdgecnnError("Ray was imported before edgecnn could keep it on 127.0.0.1; "
                               "start edgecnn search --ray in a fresh process")
        os.environ[LOOPBACK_ENV] = "0"
    import ray

    if ray.is_initialized():
        return
    quiet: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.WARNING,
                             "log_to_driver": False, "configure_logging": True}
    if address == "local":
        ray.init(_node_ip_address="127.0.0.1", **quiet)
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise OptionError(f"--ray {address}: give HOST:PORT of the cluster's head (as `ray "
                          "start --head` printed it), or --ray alone for a Ray instance here")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        why = exc.strerror or str(exc) or type(exc).__name__
        raise OptionError(f"--ray {address}: no Ray cluster answers there ({why}); start one "
                          "with `ray start --head`, or give --ray alone for a Ray instance "
                          "here") from None
    try:
        ray.init(address=address, **quiet)
    except Exception as exc:      # Ray's own: ConnectionError, a version mismatch, ...
        raise OptionError(f"--ray {address}: cannot join the cluster: "
                          f"{str(exc).splitlines()[0][:200]}") from None


def _searcher_class():
    from ray.tune.search.optuna import OptunaSearch

    class EdgecnnOptunaSearch(OptunaSearch):
        """Ray Tune's OptunaSearch on edgecnn's study: each trial's record kept on the
        Optuna trial (as the in-process search keeps it: a rejected candidate finished with
        its violation as the constraint, one stopped by successive halving pruned), a line
        on the console per finished trial. The study's storage is the checkpoint: a rerun
        continues from it, not from Tune's searcher state."""

        def __init__(self, *args, trial_log: TrialLog, **kwargs):
            super().__init__(*args, **kwargs)
            self._trial_log = trial_log

        def suggest(self, trial_id: str):
            config = super().suggest(trial_id) or {}
            ot_trial = self._ot_trials[trial_id]
            # The driver owns the trial: a driver killed outright leaves it running, and the
            # next run on this machine marks it failed (search._fail_abandoned).
            ot_trial.set_user_attr("worker", _worker())
            return {**config, "number": ot_trial.number}

        def on_trial_complete(self, trial_id: str, result=None, error: bool = False):
            ot_trial = self._ot_trials.get(trial_id)
            raw = (result or {}).get("record")
            if ot_trial is None or trial_id in self._completed_trials or not raw:
                super().on_trial_complete(trial_id, result, error)
                if ot_trial is not None and error:
                    self._trial_log(TrialRecord(
                        ot_trial.number, "failed", str(ot_trial.params.get("arch", "?")), {}, {},
                        "the trial raised in its Ray worker (Ray's error.txt in --out/ray "
                        "says why)"))
                return
            record = TrialRecord(**json.loads(raw))
            _keep(ot_trial, record)
            if record.status == "pruned":
                import optuna

                study: Any = self._ot_study
                study.tell(ot_trial, state=optuna.trial.TrialState.PRUNED)
                self._completed_trials.add(trial_id)
            else:
                super().on_trial_complete(trial_id, result, error)
            self._trial_log(record)

        def save(self, checkpoint_path: str) -> None:
            pass

        def restore(self, checkpoint_path: str) -> None:
            pass

    return EdgecnnOptunaSearch


def _candidate(space: SearchSpace, config: dict) -> tuple[str, dict, dict]:
    """(architecture, parameters, training settings) from the values Optuna drew, decoded
    by drawing them again from a trial that answers with those values."""
    class Replay:
        def suggest_categorical(self, key, choices):
            return config[key]

        def suggest_int(self, key, lo, hi):
            return int(config[key])

        def suggest_float(self, key, lo, hi, log=False):
            return float(config[key])

    return sample(space, Replay())


def _trainable(config: dict, *, space: SearchSpace, search: SearchConfig, dataset,
               out: str, threads: int) -> None:
    """One trial in a Ray worker process: TensorFlow's threads set to the trial's CPUs, then
    the trial runner; the record and the objectives reported to Tune."""
    from ray import tune

    from .console import import_tensorflow

    import_tensorflow()
    import tensorflow as tf

    # A reused worker has run TensorFlow already: its pools are set (to the same count)
    if tf.config.threading.get_intra_op_parallelism_threads() != threads:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        except RuntimeError:        # TensorFlow initialised: the pools cannot change now
            pass
    arch, params, training = _candidate(space, config)
    number = int(config["number"])
    record = evaluate(number, arch, params, training, search, dataset,
                      _Costs(search, dataset), Path(out))
    values = (objectives(record, search) if record.status != "pruned"
              else (0.0,) * len(search.objectives))
    tune.report({**{o.field: v for o, v in zip(search.objectives, values, strict=True)},
                 "record": json.dumps(asdict(record), default=list)})


class RayEngine:
    """Runs a study's trials as Ray Tune trials on the cluster at ``address`` ("local": a Ray
    instance started here), ``cpus_per_trial`` CPUs each: the ``engine`` of
    :func:`edgecnn.search.search`."""

    def __init__(self, address: str = "local", cpus_per_trial: int = 1):
        require_ray()
        if cpus_per_trial < 1:
            raise OptionError("--cpus-per-trial must be at least 1")
        self.address, self.cpus_per_trial = address, cpus_per_trial

    def connect(self) -> None:
        """Start or join Ray now (before the data set is loaded, so that a cluster that is
        not there is said at once)."""
        connect(self.address)

    def __call__(self, study, space: SearchSpace, config: SearchConfig, dataset, out: Path,
                 trials: int, trial_log: TrialLog) -> None:
        # Tune's console (its configuration table, trial tables) would interleave with
        # edgecnn's lines: the legacy reporter at verbosity 0 prints only errors.
        os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
        from ray import tune

        self.connect()

        def draw(trial) -> None:
            sample(space, trial)      # Optuna draws; Tune hands the values to the trainable

        searcher = _searcher_class()(
            space=draw, metric=[o.field for o in config.objectives],
            mode=["max" if o.direction == "maximize" else "min" for o in config.objectives],
            sampler=study.sampler, study_name=STUDY_NAME, storage=study_storage(config, out),
            trial_log=trial_log)
        trainable = tune.with_resources(
            tune.with_parameters(_trainable, space=space, search=config, dataset=dataset,
                                 out=str(out.resolve()), threads=self.cpus_per_trial),
            {"cpu": self.cpus_per_trial})
        tuner = tune.Tuner(
            trainable,
            # workers are reused from trial to trial: TensorFlow is imported once per
            # worker, not once per trial (evaluate() clears Keras' session each time)
            tune_config=tune.TuneConfig(search_alg=searcher, num_samples=trials,
                                        reuse_actors=True),
            run_config=tune.RunConfig(name="tune", storage_path=str((out / "ray").resolve()),
                                      verbose=0, log_to_file=True))
        tuner.fit()

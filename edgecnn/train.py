"""Training with augmentation suited to the data and early stopping on validation accuracy.

Example:
    >>> from edgecnn import load_dataset, train
    >>> r = train("edge_cnn", load_dataset("digits"), epochs=3, out="m.keras")  # doctest: +SKIP
    >>> r.history["val_accuracy"][-1] > 0.5                                  # doctest: +SKIP
    True
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .console import import_tensorflow
from .data import Dataset
from .errors import ArchitectureError, OptionError, ShapeMismatchError
from .fsutil import atomic_output, atomic_write_text, check_writable_outputs
from .metadata import ModelMeta

# Augmentation pays on small data sets; on Fashion-MNIST's 54,000 images a 12-epoch schedule
# underfits with it (measured: edge_cnn 89.9 % int8 with flips and shifts at 20 s an epoch,
# 91.7 % without at 11 s), so it is on by default only below this many training images.
AUGMENT_BELOW = 20_000


@dataclass
class TrainConfig:
    epochs: int = 12
    batch_size: int = 128
    learning_rate: float = 3e-3
    patience: int = 4
    augment: bool | None = None     # None: augment when the training split is small
    weight_decay: float = 1e-3      # decoupled (AdamW) weight decay
    # Targets of 1 - s on the class and s / classes elsewhere; 0 is plain cross-entropy.
    # A regularizer that costs nothing a step; searched by edgecnn search (search.TRAINING
    # has what it was measured to be worth).
    label_smoothing: float = 0.0
    seed: int = 0
    verbose: int = 1
    arch_params: dict = field(default_factory=dict)
    # Transfer learning: after training the head on a frozen pretrained base, unfreeze the
    # base's last ``fine_tune`` layers and train on at a tenth of the learning rate.
    fine_tune: int = 0
    fine_tune_epochs: int | None = None   # default: half of ``epochs``, at least 1
    # Called after each epoch with (epochs done, validation accuracy); True stops training
    # there (edgecnn search's successive halving).
    stop_after: Callable[[int, float], bool] | None = None


@dataclass
class TrainResult:
    model: Any                 # keras.Model
    history: dict
    meta: ModelMeta
    seconds: float
    path: Path | None = None


def augmentation(dataset: Dataset, seed: int):
    """The data set's own augmentations: shifts, small rotations and zoom, and horizontal flips
    only where a mirror image keeps the class."""
    import_tensorflow()
    import keras
    from keras import layers

    available = {
        "flip": lambda: layers.RandomFlip("horizontal", seed=seed + 3),
        "shift": lambda: layers.RandomTranslation(0.06, 0.06, fill_mode="constant", seed=seed),
        "rotate": lambda: layers.RandomRotation(0.03, fill_mode="constant", seed=seed + 1),
        "zoom": lambda: layers.RandomZoom(0.08, fill_mode="constant", seed=seed + 2),
    }
    steps = [available[name]() for name in dataset.augmentations if name in available]
    return keras.Sequential(steps, name="augmentation")


def train(arch_or_model, dataset: Dataset, config: TrainConfig | None = None, *,
          out: str | Path | None = None, force: bool = False, **overrides) -> TrainResult:
    """Train ``arch_or_model`` (an architecture name or a Keras model) on ``dataset``.

    The best weights by validation accuracy are restored. With ``out``, the model is saved as
    ``.keras`` with ``<stem>.json`` (metadata) and ``<stem>.history.json`` beside it; existing
    files there are replaced only with ``force``, and this is checked before training starts.
    """
    config = config or TrainConfig()
    for k, v in overrides.items():
        setattr(config, k, v)
    if not 0.0 <= config.label_smoothing < 1.0:    # before TensorFlow is imported
        raise OptionError(f"label smoothing {config.label_smoothing}: give a number in [0, 1)")
    if out is not None:
        check_writable_outputs(trained_paths(out), force)
    import_tensorflow()
    import keras
    import tensorflow as tf

    from .zoo import build_model

    keras.utils.set_random_seed(config.seed)
    if isinstance(arch_or_model, str):
        arch = arch_or_model
        model = build_model(arch, dataset.input_shape, dataset.num_classes, **config.arch_params)
    else:
        model, arch = arch_or_model, getattr(arch_or_model, "name", "custom")
    expected = tuple(model.input_shape[1:])
    if expected != dataset.input_shape:
        raise ShapeMismatchError(f"model input {expected} does not match the data's "
                                 f"{dataset.input_shape}; rebuild the model for this data set")
    if config.fine_tune:
        _pretrained_base(model)   # before any training time is spent
    augment = (len(dataset.x_train) < AUGMENT_BELOW if config.augment is None
               else config.augment) and bool(dataset.augmentations)
    steps = -(-len(dataset.x_train) // config.batch_size) * config.epochs
    schedule = keras.optimizers.schedules.CosineDecay(config.learning_rate, steps, alpha=0.05)
    y_train = _targets(dataset.y_train, dataset, config)
    if augment:
        train_ds = tf.data.Dataset.from_tensor_slices((dataset.x_train, y_train))
        train_ds = train_ds.shuffle(min(len(dataset.x_train), 20000), seed=config.seed)
        train_ds = train_ds.batch(config.batch_size)
        aug = augmentation(dataset, config.seed)
        train_ds = train_ds.map(lambda x, y: (aug(x, training=True), y),
                                num_parallel_calls=tf.data.AUTOTUNE)
        train_ds = train_ds.prefetch(tf.data.AUTOTUNE)
    else:
        # Arrays straight into fit: Keras shuffles them every epoch, with none of tf.data's
        # per-element cost (measured: 25 % faster an epoch on 2 cores).
        train_ds = (dataset.x_train, y_train)
    start = time.perf_counter()
    history = _fit(model, schedule, train_ds, dataset, config, 0, config.epochs)
    if config.fine_tune:
        history = _fine_tune(model, config, train_ds, dataset, history)
    seconds = time.perf_counter() - start
    _, test_acc = model.evaluate(dataset.x_test, _targets(dataset.y_test, dataset, config),
                                 verbose=0, batch_size=256)
    meta = ModelMeta(
        dataset=None if dataset.name.startswith("folder:") else dataset.name,
        data_dir=dataset.source if dataset.name.startswith("folder:") else None,
        image_size=list(dataset.input_shape[:2]),
        grayscale=dataset.input_shape[-1] == 1,
        arch=arch, arch_params={k: list(v) if isinstance(v, tuple) else v
                                for k, v in config.arch_params.items()},
        class_names=list(dataset.class_names), input_shape=list(dataset.input_shape),
        input_scale=dataset.input_scale, flip_ok=dataset.flip_ok,
        float_accuracy=float(test_acc), test_samples=int(len(dataset.x_test)),
        training={"epochs_run": len(history.get("loss", [])), "epochs_max": config.epochs,
                  "best_val_accuracy": max(history.get("val_accuracy", [0.0])),
                  "seconds": round(seconds, 1), "batch_size": config.batch_size,
                  "augment": augment, "seed": config.seed,
                  "label_smoothing": config.label_smoothing,
                  "train_samples": int(len(dataset.x_train)),
                  "fine_tune": config.fine_tune})
    result = TrainResult(model, history, meta, seconds)
    if out is not None:
        result.path = save_trained(result, out)
    return result


def _targets(labels, dataset: Dataset, config: TrainConfig):
    """The labels as the loss takes them: class indices, or one-hot rows for label
    smoothing (Keras's sparse cross-entropy has no smoothing; the categorical one, built in,
    keeps the saved model loadable without custom objects)."""
    if not config.label_smoothing:
        return labels
    import numpy as np

    return np.eye(dataset.num_classes, dtype="float32")[np.asarray(labels, dtype="int64")]


def _fit(model, learning_rate, train_ds, dataset: Dataset, config: TrainConfig,
         first_epoch: int, last_epoch: int) -> dict:
    """Compile with Adam (AdamW with weight decay) at ``learning_rate`` (a number or a
    schedule) and fit with early stopping on validation accuracy, the best weights restored;
    return the history."""
    import_tensorflow()
    import keras

    # No XLA: on a CPU it costs 6-10 s of compilation in the first epoch and gains nothing
    # per step for models this small (measured on 2 cores).
    optimizer = (keras.optimizers.AdamW(learning_rate, weight_decay=config.weight_decay)
                 if config.weight_decay else keras.optimizers.Adam(learning_rate))
    loss: Any = "sparse_categorical_crossentropy"
    if config.label_smoothing:
        loss = keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing)
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"], jit_compile=False)
    stop = keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=config.patience,
                                         restore_best_weights=True, mode="max")
    callbacks: list = [stop]
    if config.stop_after is not None:
        asked = config.stop_after

        class StopAfter(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                if asked(epoch + 1, float((logs or {}).get("val_accuracy", 0.0))):
                    self.model.stop_training = True

        callbacks.append(StopAfter())
    if isinstance(train_ds, tuple):      # arrays: Keras batches and shuffles them
        data = {"x": train_ds[0], "y": train_ds[1], "batch_size": config.batch_size,
                "shuffle": True}
    else:                                # the tf.data pipeline batches and shuffles itself
        data = {"x": train_ds, "shuffle": False}
    fit = model.fit(**data, validation_data=(dataset.x_val,
                                             _targets(dataset.y_val, dataset, config)),
                    initial_epoch=first_epoch, epochs=last_epoch, callbacks=callbacks,
                    verbose=config.verbose)
    return {k: [float(v) for v in vals] for k, vals in fit.history.items()}


def _pretrained_base(model):
    """The frozen pretrained base that fine-tuning unfreezes; refuse models without one."""
    from .zoo import BACKBONE

    base = next((layer for layer in model.layers if layer.name == BACKBONE), None)
    if base is None:
        raise ArchitectureError("--fine-tune needs a model with a pretrained base "
                                "(--arch mobilenet_v2 --pretrained imagenet|PATH)")
    if base.trainable:
        raise ArchitectureError("--fine-tune needs --pretrained imagenet or PATH: without "
                                "pretrained weights the whole base is trained already")
    return base


def _fine_tune(model, config: TrainConfig, train_ds, dataset: Dataset, history: dict) -> dict:
    import_tensorflow()
    import keras

    base = _pretrained_base(model)
    base.trainable = True
    trainable = [layer for layer in base.layers if layer.weights]
    for layer in trainable[:-config.fine_tune]:
        layer.trainable = False
    for layer in base.layers:   # batch statistics stay those of the pretraining data
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
    done = len(history.get("loss", []))
    extra = config.fine_tune_epochs or max(1, config.epochs // 2)
    more = _fit(model, config.learning_rate * 0.1, train_ds, dataset, config, done, done + extra)
    merged = {k: list(v) + more.get(k, []) for k, v in history.items()}
    merged["fine_tune_from_epoch"] = [done]
    return merged


def trained_paths(out: str | Path) -> tuple[Path, Path, Path]:
    """The model, metadata and history files that training to ``out`` writes."""
    out = Path(out)
    if out.suffix != ".keras":
        out = out.with_suffix(".keras")
    return out, out.with_suffix(".json"), out.with_suffix(".history.json")


def save_trained(result: TrainResult, out: str | Path) -> Path:
    out = trained_paths(out)[0]
    with atomic_output(out) as tmp:
        result.model.save(tmp)
    result.meta.save(out.with_suffix(".json"))
    atomic_write_text(out.with_suffix(".history.json"), json.dumps(result.history, indent=2))
    return out

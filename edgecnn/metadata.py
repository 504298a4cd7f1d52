"""The metadata that travels with a model: ``model.json`` beside ``model.keras`` and
``model.tflite``."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from .errors import ModelFileError
from .fsutil import atomic_write_text


@dataclass
class ModelMeta:
    dataset: str | None = None
    data_dir: str | None = None
    image_size: list[int] | None = None
    grayscale: bool = False
    arch: str | None = None
    arch_params: dict = field(default_factory=dict)
    class_names: list[str] = field(default_factory=list)
    input_shape: list[int] = field(default_factory=list)
    input_scale: float = 1.0 / 255.0   # float input = raw pixel * input_scale
    flip_ok: bool = False
    float_accuracy: float | None = None
    int8_accuracy: float | None = None
    int8_agreement: float | None = None  # share of test samples where float and int8 agree
    test_samples: int | None = None
    quantization: dict = field(default_factory=dict)  # input/output scale and zero point
    # a few real test inputs, already int8, with their labels, for the firmware's self-check
    samples: list[dict] = field(default_factory=list)
    training: dict = field(default_factory=dict)

    def save(self, path: str | Path) -> Path:
        return atomic_write_text(path, json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> ModelMeta:
        try:
            raw = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise ModelFileError(f"cannot read model metadata {path}: {exc}") from None
        if not isinstance(raw, dict):
            raise ModelFileError(f"model metadata {path} is not a JSON object "
                                 f"(found a {type(raw).__name__}); delete or fix it")
        values = {}
        for f in fields(cls):
            if f.name not in raw:
                continue
            value = raw[f.name]
            if not _FIELD_CHECKS[f.name](value):
                raise ModelFileError(f"model metadata {path}: field {f.name!r} has the wrong "
                                     f"type ({type(value).__name__}: {str(value)[:40]}); "
                                     "delete or fix the file")
            values[f.name] = value
        for i, sample in enumerate(values.get("samples", [])):
            if not (isinstance(sample, dict) and _is_int(sample.get("label"))
                    and isinstance(sample.get("input"), list)
                    and all(_is_int(v) and -128 <= v <= 255 for v in sample["input"])):
                raise ModelFileError(f"model metadata {path}: samples[{i}] is not a label with "
                                     "a list of 8-bit input values; delete or fix the file")
        return cls(**values)

    @classmethod
    def beside(cls, model_path: str | Path) -> ModelMeta | None:
        """The metadata file next to a model (same stem, .json), if there is one."""
        p = Path(model_path).with_suffix(".json")
        return cls.load(p) if p.is_file() else None


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _optional(check):
    return lambda v: v is None or check(v)


def _list_of(check):
    return lambda v: isinstance(v, list) and all(check(x) for x in v)


_FIELD_CHECKS = {
    "dataset": _optional(lambda v: isinstance(v, str)),
    "data_dir": _optional(lambda v: isinstance(v, str)),
    "image_size": _optional(_list_of(_is_int)),
    "grayscale": lambda v: isinstance(v, bool),
    "arch": _optional(lambda v: isinstance(v, str)),
    "arch_params": lambda v: isinstance(v, dict),
    "class_names": _list_of(lambda v: isinstance(v, str)),
    "input_shape": _list_of(_is_int),
    "input_scale": lambda v: _is_number(v) and v > 0,
    "flip_ok": lambda v: isinstance(v, bool),
    "float_accuracy": _optional(_is_number),
    "int8_accuracy": _optional(_is_number),
    "int8_agreement": _optional(_is_number),
    "test_samples": _optional(_is_int),
    "quantization": lambda v: isinstance(v, dict),
    "samples": lambda v: isinstance(v, list),
    "training": lambda v: isinstance(v, dict),
}

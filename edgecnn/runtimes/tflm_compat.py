"""Will the board's TFLM library run this model, and compute exactly what the host verified?

The host reference is the PyPI ``tflite-micro`` (current TFLM). The libraries pinned for the
boards are TFLM snapshots from 2022-2023; where their kernels compute differently, the board
file says so (``[tflm.behaviours]``) and a model that depends on the difference is refused,
naming the layer, the reason and the fix. ``force`` turns those refusals into warnings (the
build records them); ops the library lacks, custom ops, hybrid models and kernels that abort
are refused always, because no firmware could run them.

Example:
    >>> from edgecnn.boards import load_board
    >>> from edgecnn.tflite_model import read_tflite
    >>> report = check_model(read_tflite("model.tflite"), load_board("nano33"))  # doctest: +SKIP
    >>> report.differences                                                       # doctest: +SKIP
    []
"""
from __future__ import annotations

from ..errors import UnsupportedModelError
from ..tflite_model import Operator, TfliteModel
from ..tflm_host import prepare_failures
from .base import Compatibility, Difference


def _layer(m: TfliteModel, op: Operator) -> str:
    name = m.tensors[op.outputs[0]].name if op.outputs else ""
    return name.split(";")[0] or f"operator {op.index}"


RESOURCE_VARIABLE_OPS = frozenset({"VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE"})


def check_model(m: TfliteModel, board, *, force: bool = False) -> Compatibility:
    """Refuse what ``board``'s TFLM library cannot run; refuse (or, with ``force``, warn about)
    what it would compute differently from the host reference."""
    from .tflm_library import library

    lib = library(board)
    result = Compatibility(board.name, lib.library)
    if m.kind == "hybrid":
        raise UnsupportedModelError("this is a hybrid model (int8 weights, float activations), "
                                    "which TensorFlow Lite Micro cannot run; convert it with "
                                    "full-integer quantization (`edgecnn quantize`)")
    if m.kind == "float":
        result.warnings.append("this is a float32 model: it runs many times slower and needs "
                               "about 4x the memory of an int8 model on a microcontroller; "
                               "consider `edgecnn quantize`")
    custom = sorted({oc.custom for oc in m.used_op_codes if oc.custom})
    if custom:
        raise UnsupportedModelError(f"the model uses custom ops ({', '.join(custom)}) that "
                                    f"{lib.library} does not provide")
    missing = [f"{oc.name} (version {oc.version})" for oc in m.used_op_codes
               if oc.name not in lib.ops]
    if missing:
        raise UnsupportedModelError(
            f"{lib.library} ({board.name}) has no resolver method for {', '.join(missing)}: "
            "the firmware could not register it (\"Didn't find op for builtin opcode\"); change "
            "the model so that the converter does not emit it, or choose another board")
    problems = prepare_failures(m)
    if problems:
        raise UnsupportedModelError(f"{lib.library} cannot run this model: {problems[0]}")
    stateful = sorted({oc.name for oc in m.used_op_codes if oc.name in RESOURCE_VARIABLE_OPS})
    if stateful:
        # TFLM's VAR_HANDLE Prepare fails unless the application creates MicroResourceVariables
        # and hands them to the interpreter; edgecnn's firmware runs stateless models only.
        raise UnsupportedModelError(
            f"the model keeps state in resource variables ({', '.join(stateful)}): TFLite "
            "Micro runs them only with MicroResourceVariables created by the application, which "
            "edgecnn's firmware does not do; export the model without tf.Variable state (pass "
            "the state as an input and an output instead)")
    result.differences = _differences(m, lib.behaviours)
    if result.differences and not force:
        first = result.differences[0]
        more = (f" ({len(result.differences) - 1} more operator"
                f"{'s' if len(result.differences) > 2 else ''} likewise)"
                if len(result.differences) > 1 else "")
        raise UnsupportedModelError(first.sentence(lib.library, board.name) + more +
                                    "; or pass --force to build it anyway")
    for d in result.differences:
        result.warnings.append("--force: " + d.sentence(lib.library, board.name))
    return result


def _differences(m: TfliteModel, behaviours) -> list[Difference]:
    found = []
    for op in m.operators:
        name = op.opcode.name
        if name == "FULLY_CONNECTED" and not behaviours.per_channel_fully_connected:
            weights = m.tensors[op.inputs[1]] if len(op.inputs) > 1 and op.inputs[1] >= 0 else None
            if weights is not None and len(weights.scales) > 1:
                found.append(Difference(
                    op.index, name, _layer(m, op),
                    f"its weights are quantized per output channel ({len(weights.scales)} "
                    "scales) and this library applies one scale to the whole weight tensor",
                    "re-quantize with per-tensor dense weights: `edgecnn quantize` does so for a "
                    ".keras model, `edgecnn requantize MODEL.tflite` for a .tflite"))
        elif name == "MEAN" and not behaviours.int8_mean_as_current:
            data = m.tensors[op.inputs[0]] if op.inputs else None
            if data is not None and data.dtype in ("int8", "int16"):
                found.append(Difference(
                    op.index, name, _layer(m, op),
                    f"its {data.dtype} MEAN kernel predates TFLM's April 2023 fix and differs "
                    "by up to one quantization step",
                    "replace GlobalAveragePooling2D by AveragePooling2D over the whole feature "
                    "map (it converts to AVERAGE_POOL_2D, which matches bit for bit)"))
    return found

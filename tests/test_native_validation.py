"""The native lowering refuses structurally invalid models with the operator and the reason,
before any firmware is written: depth multiplier 0, another operator's options, a self-loop,
scales that are not finite positive numbers, no operators. Each model here is written with
the TFLite schema's object API, starting from one valid graph that TFLM itself runs."""
import math

import flatbuffers
import numpy as np
import pytest
from conftest import assert_one_line_error, run_cli, schema_tensor

from edgecnn.errors import UnsupportedModelError
from edgecnn.runtimes.native import lower
from edgecnn.tflite_model import _schema, read_tflite


def depthwise_model(mutate=None) -> bytes:
    """input int8 1x4x4x2 -> DEPTHWISE_CONV_2D 3x3 (multiplier 1, SAME) -> output int8."""
    s = _schema()
    rng = np.random.default_rng(0)
    buffers = [s.BufferT() for _ in range(4)]
    buffers[1].data = list(rng.integers(-127, 128, 18).astype(np.int8).view(np.uint8))
    buffers[2].data = list(np.array([100, -50], dtype=np.int32).view(np.uint8))
    INT8, INT32 = s.TensorType.INT8, s.TensorType.INT32
    tensors = [schema_tensor(s, "input", (1, 4, 4, 2), INT8, 0, [0.05], -3),
               schema_tensor(s, "weights", (1, 3, 3, 2), INT8, 1, [0.02, 0.03], axis=3),
               schema_tensor(s, "bias", (2,), INT32, 2, [0.001, 0.0015]),
               schema_tensor(s, "output", (1, 4, 4, 2), INT8, 3, [0.1], 5)]
    options = s.DepthwiseConv2DOptionsT()
    options.padding, options.strideW, options.strideH = s.Padding.SAME, 1, 1
    options.depthMultiplier, options.dilationWFactor, options.dilationHFactor = 1, 1, 1
    op = s.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, [0, 1, 2], [3]
    op.builtinOptionsType, op.builtinOptions = s.BuiltinOptions.DepthwiseConv2DOptions, options
    code = s.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = s.BuiltinOperator.DEPTHWISE_CONV_2D
    code.version = 1
    graph = s.SubGraphT()
    graph.tensors, graph.inputs, graph.outputs, graph.operators = tensors, [0], [3], [op]
    model = s.ModelT()
    model.version, model.operatorCodes, model.subgraphs, model.buffers = 3, [code], [graph], \
        buffers
    if mutate is not None:
        mutate(s, model)
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def test_the_valid_graph_runs_on_tflm_and_lowers():
    from edgecnn.tflm_host import HostInterpreter

    data = depthwise_model()
    plan = lower(read_tflite(data))
    assert [layer.kernel for layer in plan.layers] == ["depthwise_conv"]
    out = HostInterpreter(data).run(np.zeros((1, 4, 4, 2), dtype=np.int8))
    assert np.asarray(out).shape == (1, 4, 4, 2)


def _options(s, model):
    return model.subgraphs[0].operators[0].builtinOptions


def _set(attribute, value):
    return lambda s, model: setattr(_options(s, model), attribute, value)


def _scale(index, value):
    def mutate(s, model):
        model.subgraphs[0].tensors[index].quantization.scale[0] = value
    return mutate


def _other_options(s, model):
    op = model.subgraphs[0].operators[0]
    op.builtinOptionsType, op.builtinOptions = s.BuiltinOptions.Pool2DOptions, s.Pool2DOptionsT()


def _self_loop(s, model):
    model.subgraphs[0].operators[0].outputs = [0]
    model.subgraphs[0].outputs = [0]


def _no_operators(s, model):
    model.subgraphs[0].operators = []
    model.subgraphs[0].outputs = [0]


@pytest.mark.parametrize("mutate, reason", [
    (_set("depthMultiplier", 0), "depth multiplier 0"),
    (_set("depthMultiplier", 2), "depth multiplier 2"),
    (_set("strideW", 0), "strideW is 0"),
    (_set("dilationHFactor", -1), "dilationHFactor is -1"),
    (_other_options, "carries Pool2DOptions, not DepthwiseConv2DOptions"),
    (_scale(0, math.nan), "not a finite positive number"),
    (_scale(3, math.inf), "not a finite positive number"),
    (_scale(1, 0.0), "not a finite positive number"),
    (_scale(3, -0.5), "not a finite positive number"),
    (_self_loop, "its output is also its input"),
    (_no_operators, "no operators"),
], ids=["multiplier0", "multiplier2", "stride0", "dilation-1", "options", "nan", "inf", "zero",
        "negative", "self-loop", "empty"])
def test_an_invalid_graph_is_refused_with_the_operator_and_the_reason(mutate, reason):
    with pytest.raises(UnsupportedModelError) as caught:
        lower(read_tflite(depthwise_model(mutate)))
    assert reason in str(caught.value)
    if reason != "no operators":
        assert "layer 0 (DEPTHWISE_CONV_2D)" in str(caught.value)


def test_build_refuses_it_in_one_line_and_writes_nothing(tmp_path):
    model = tmp_path / "m.tflite"
    model.write_bytes(depthwise_model(_set("depthMultiplier", 0)))
    proc = run_cli("build", "--model", model, "--board", "mps2-an386", "--runtime", "native",
                   "--out", tmp_path / "P")
    assert_one_line_error(proc, "layer 0 (DEPTHWISE_CONV_2D)", "depth multiplier 0")
    assert not (tmp_path / "P").exists()


def _float_edges(s, model):
    """float32 input -> QUANTIZE -> the graph -> DEQUANTIZE -> float32 output."""
    graph = model.subgraphs[0]
    model.buffers += [s.BufferT(), s.BufferT()]
    graph.tensors += [schema_tensor(s, "float_in", (1, 4, 4, 2), s.TensorType.FLOAT32, 4),
                      schema_tensor(s, "float_out", (1, 4, 4, 2), s.TensorType.FLOAT32, 5)]
    codes = []
    for builtin in (s.BuiltinOperator.QUANTIZE, s.BuiltinOperator.DEQUANTIZE):
        code = s.OperatorCodeT()
        code.builtinCode = code.deprecatedBuiltinCode = builtin
        code.version = 1
        codes.append(code)
    model.operatorCodes += codes
    quantize, dequantize = s.OperatorT(), s.OperatorT()
    quantize.opcodeIndex, quantize.inputs, quantize.outputs = 1, [4], [0]
    dequantize.opcodeIndex, dequantize.inputs, dequantize.outputs = 2, [3], [5]
    graph.operators = [quantize, *graph.operators, dequantize]
    graph.inputs, graph.outputs = [4], [5]


def test_a_full_integer_model_with_float_edges_is_not_called_hybrid():
    from edgecnn.boards import load_board
    from edgecnn.runtimes.tflm_compat import check_model
    from edgecnn.tflm_host import HostInterpreter

    data = depthwise_model(_float_edges)
    m = read_tflite(data)
    assert m.kind == "int8-float-io"
    check_model(m, load_board("nano33"))          # TFLM runs QUANTIZE and DEQUANTIZE
    out = HostInterpreter(data).run(np.full((1, 4, 4, 2), 0.25, dtype=np.float32))
    assert np.asarray(out).dtype == np.float32

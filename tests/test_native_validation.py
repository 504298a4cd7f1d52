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


@pytest.mark.parametrize("runtime", ["native", "tflm"])
def test_a_model_with_float_edges_runs_and_is_verified_bit_for_bit(runtime, tmp_path):
    """QUANTIZE from the float32 input, DEQUANTIZE to the float32 output: built for either
    runtime, verified on the virtual board against the host reference on seeded random float
    inputs (over the input QUANTIZE's range), float outputs compared bit for bit."""
    from edgecnn.build import build
    from edgecnn.harness.bench import bench

    (tmp_path / "m.tflite").write_bytes(depthwise_model(_float_edges))
    result = build("mps2-an386", tmp_path / "m.tflite", tmp_path / "p", runtime=runtime)
    report = bench(result.project, port="virtual", runs=3, warmup=1, verify=True, samples=60,
                   out=tmp_path / "r" / "report.json")
    v = report.verify
    assert v.checked == v.bitexact == 60 and v.max_diff == 0, v
    assert "float32" in v.source and "QUANTIZE's int8 range" in v.source


def _dynamic_flatten(s, model) -> None:
    """Append what a Keras export writes for Flatten with a dynamic batch: SHAPE of the output,
    STRIDED_SLICE of its first element, PACK of that and -1, RESHAPE by the result."""
    graph = model.subgraphs[0]
    INT32 = s.TensorType.INT32
    first = len(graph.tensors)
    names = [("shape", (4,)), ("batch", ()), ("new_shape", (2,)),
             ("begin", (1,)), ("end", (1,)), ("strides", (1,)), ("minus_one", ())]
    for name, shape in names:
        buffer = len(model.buffers)
        model.buffers.append(s.BufferT())
        if name in ("begin", "end", "strides", "minus_one"):
            value = {"begin": [0], "end": [1], "strides": [1], "minus_one": [-1]}[name]
            model.buffers[-1].data = list(np.array(value, np.int32).view(np.uint8))
        graph.tensors.append(schema_tensor(s, name, shape, INT32, buffer))
    shape_t, batch, new_shape, begin, end, strides, minus_one = range(first, first + 7)
    flat = len(graph.tensors)
    graph.tensors.append(schema_tensor(s, "flat", (1, 32), s.TensorType.INT8, 0, [0.1], 5))
    codes = {}
    for builtin in ("SHAPE", "STRIDED_SLICE", "PACK", "RESHAPE"):
        code = s.OperatorCodeT()
        code.builtinCode = code.deprecatedBuiltinCode = getattr(s.BuiltinOperator, builtin)
        code.version = 1
        codes[builtin] = len(model.operatorCodes)
        model.operatorCodes.append(code)
    out = graph.outputs[0]

    def op(builtin, inputs, outputs, options=None, kind=None):
        o = s.OperatorT()
        o.opcodeIndex, o.inputs, o.outputs = codes[builtin], inputs, outputs
        if options is not None:
            o.builtinOptionsType, o.builtinOptions = kind, options
        graph.operators.append(o)

    shape_options = s.ShapeOptionsT()
    shape_options.outType = INT32
    op("SHAPE", [out], [shape_t], shape_options, s.BuiltinOptions.ShapeOptions)
    slice_options = s.StridedSliceOptionsT()
    slice_options.shrinkAxisMask = 1
    op("STRIDED_SLICE", [shape_t, begin, end, strides], [batch], slice_options,
       s.BuiltinOptions.StridedSliceOptions)
    pack = s.PackOptionsT()
    pack.valuesCount, pack.axis = 2, 0
    op("PACK", [batch, minus_one], [new_shape], pack, s.BuiltinOptions.PackOptions)
    op("RESHAPE", [out, new_shape], [flat])
    graph.outputs = [flat]


def test_a_keras_dynamic_flatten_runs_natively(tmp_path):
    """The shape computation runs nowhere (RESHAPE has the static shape); the rest is
    verified bit for bit against TFLM on the virtual board."""
    from edgecnn.build import build
    from edgecnn.harness.bench import bench
    from edgecnn.runtimes.native import format_plan

    data = depthwise_model(_dynamic_flatten)
    plan = lower(read_tflite(data))
    assert [layer.op for layer in plan.layers] == ["DEPTHWISE_CONV_2D", "RESHAPE"]
    assert "1 SHAPE, 2 STRIDED_SLICE, 3 PACK only compute a RESHAPE's new shape" in \
        format_plan(plan)
    (tmp_path / "m.tflite").write_bytes(data)
    result = build("mps2-an386", tmp_path / "m.tflite", tmp_path / "p", runtime="native")
    report = bench(result.project, port="virtual", runs=3, warmup=1, verify=True, samples=40,
                   out=tmp_path / "r" / "report.json")
    assert report.verify.checked == report.verify.bitexact == 40, report.verify


def _expand_then_squeeze(s, model) -> None:
    """EXPAND_DIMS the output to 5-D (axis 0), then SQUEEZE that axis back: shape-only layers."""
    graph = model.subgraphs[0]
    out = graph.outputs[0]
    model.buffers.append(s.BufferT())
    model.buffers[-1].data = list(np.array([0], np.int32).view(np.uint8))
    axis = len(graph.tensors)
    graph.tensors.append(schema_tensor(s, "axis", (1,), s.TensorType.INT32,
                                       len(model.buffers) - 1))
    graph.tensors.append(schema_tensor(s, "wide", (1, 1, 4, 4, 2), s.TensorType.INT8, 0, [0.1], 5))
    graph.tensors.append(schema_tensor(s, "narrow", (1, 4, 4, 2), s.TensorType.INT8, 0, [0.1], 5))
    wide, narrow = axis + 1, axis + 2
    for builtin in ("EXPAND_DIMS", "SQUEEZE"):
        code = s.OperatorCodeT()
        code.builtinCode = code.deprecatedBuiltinCode = getattr(s.BuiltinOperator, builtin)
        code.version = 1
        model.operatorCodes.append(code)
    expand, squeeze = s.OperatorT(), s.OperatorT()
    expand.opcodeIndex, expand.inputs, expand.outputs = len(model.operatorCodes) - 2, \
        [out, axis], [wide]
    squeeze.opcodeIndex, squeeze.inputs, squeeze.outputs = len(model.operatorCodes) - 1, \
        [wide], [narrow]
    options = s.SqueezeOptionsT()
    options.squeezeDims = [0]
    squeeze.builtinOptionsType, squeeze.builtinOptions = s.BuiltinOptions.SqueezeOptions, options
    graph.operators += [expand, squeeze]
    graph.outputs = [narrow]


def test_expand_dims_and_squeeze_share_their_input_bytes(tmp_path):
    from edgecnn.build import build
    from edgecnn.harness.bench import bench

    data = depthwise_model(_expand_then_squeeze)
    plan = lower(read_tflite(data))
    assert [layer.op for layer in plan.layers] == ["DEPTHWISE_CONV_2D", "EXPAND_DIMS", "SQUEEZE"]
    assert len({layer.output for layer in plan.layers}) == 1       # one buffer, nothing copied
    assert [layer.invoke for layer in plan.layers[1:]] == ["NULL", "NULL"]
    (tmp_path / "m.tflite").write_bytes(data)
    result = build("mps2-an386", tmp_path / "m.tflite", tmp_path / "p", runtime="native")
    report = bench(result.project, port="virtual", runs=3, warmup=1, verify=True, samples=20,
                   out=tmp_path / "r" / "report.json")
    assert report.verify.checked == report.verify.bitexact == 20, report.verify

"""edgecnn's native C runtime: every supported model is lowered to C data, compiled with the
project's own firmware for the host (the native project's virtual board), and its outputs are
compared byte for byte with the TFLM host interpreter on hundreds of inputs (random and real)."""
import json

import numpy as np
import pytest
from conftest import MLPERF_MODELS, shared_model

from edgecnn.build import build
from edgecnn.errors import UnsupportedModelError
from edgecnn.harness.bench import bench
from edgecnn.runtimes.native import format_plan, lower, quantize_multiplier
from edgecnn.tflite_model import read_tflite


def _bench_verify(project, tmp_path, samples):
    report = bench(project, port="virtual", runs=5, warmup=1, verify=True, samples=samples,
                   out=tmp_path / "r" / "report.json")
    assert report.source == "virtual"       # the firmware says it: a host build
    return report


@pytest.mark.parametrize("name", sorted(MLPERF_MODELS))
def test_mlperf_models_bit_exact_on_random_inputs(name, tmp_path):
    result = build("nano33", shared_model(name), tmp_path / "p", runtime="native")
    assert result.manifest.firmware.runtime == "native"
    platformio = (result.project / "platformio.ini").read_text()
    assert "lib_deps" not in platformio and "TensorFlowLite" not in platformio
    assert not (result.project / "include" / "edgecnn_tflm_config.h").exists()
    report = _bench_verify(result.project, tmp_path, samples=200)
    v = report.verify
    assert v.checked == 200 and v.bitexact == 200, v
    assert report.selfcheck.passed == report.selfcheck.total == 8
    # the runtime reports every layer as an operator event
    assert len(report.profile.ops) == len(read_tflite(shared_model(name)).operators)
    assert report.arena.used_bytes == result.arena.device_need_bytes


def test_virtual_board_of_an_emulator_project(tmp_path):
    """An mps2-an386 project's virtual board is its firmware compiled for the host: without the
    target's start-up code and UART driver (Cortex-M assembly the host compiler refuses)."""
    result = build("mps2-an386", shared_model("ad01_int8.tflite"), tmp_path / "p")
    assert (result.project / "src" / "startup.c").is_file()
    report = _bench_verify(result.project, tmp_path, samples=10)
    assert report.verify.bitexact == 10 and report.selfcheck.passed == 8


@pytest.fixture(scope="module")
def zoo_models(tmp_path_factory, digits):
    """Every architecture the native runtime runs, untrained (fixed seed), quantized."""
    import keras

    from edgecnn.quantize import quantize
    from edgecnn.zoo import ARCHITECTURES, build_model

    root = tmp_path_factory.mktemp("zoo_native")
    small = digits.subset(train=200, test=40)
    out = {}
    for arch in sorted(set(ARCHITECTURES) - {"mobilenet_v2"}):
        keras.utils.set_random_seed(0)
        model = build_model(arch, small.input_shape, small.num_classes)
        path = root / f"{arch}.tflite"
        quantize(model, small, out=path, representative_samples=50)
        out[arch] = path
    return out


def test_zoo_models_bit_exact_on_real_and_random_inputs(zoo_models, tmp_path):
    for arch, path in zoo_models.items():
        result = build("nano33", path, tmp_path / arch, runtime="native")
        report = _bench_verify(result.project, tmp_path / arch, samples=100)
        assert report.verify.bitexact == report.verify.checked == 100, (arch, report.verify)


def test_an_operator_without_a_kernel_is_refused_by_name(tmp_path, digits):
    import keras

    from edgecnn.quantize import quantize

    keras.utils.set_random_seed(0)
    inputs = keras.Input(digits.input_shape)
    x = keras.layers.Conv2D(4, 3)(inputs)
    x = keras.layers.PReLU()(x)                            # PRELU: no native kernel yet
    x = keras.layers.Flatten()(x)
    model = keras.Model(inputs, keras.layers.Dense(digits.num_classes,
                                                   activation="softmax")(x))
    q = quantize(model, digits.subset(train=100, test=20), out=tmp_path / "m.tflite",
                 representative_samples=20)
    with pytest.raises(UnsupportedModelError, match="PRELU.*--runtime tflm"):
        lower(read_tflite(q.tflite))
    with pytest.raises(UnsupportedModelError, match="PRELU"):
        build("nano33", tmp_path / "m.tflite", tmp_path / "p", runtime="native")
    assert not (tmp_path / "p").exists()


def test_global_average_pooling_and_activations_run_bit_exact(tmp_path, digits):
    """Keras' GlobalAveragePooling2D converts to MEAN, hard_swish, sigmoid and tanh
    activations to HARD_SWISH, LOGISTIC and TANH; the native firmware computes them as TFLM
    does, on real and random inputs."""
    import keras

    from edgecnn.quantize import quantize

    keras.utils.set_random_seed(0)
    inputs = keras.Input(digits.input_shape)
    x = keras.layers.Conv2D(12, 3, padding="same")(inputs)
    x = keras.layers.Activation("hard_swish")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(24, activation="tanh")(x)
    x = keras.layers.Dense(16, activation="sigmoid")(x)
    model = keras.Model(inputs, keras.layers.Dense(digits.num_classes,
                                                   activation="softmax")(x))
    q = quantize(model, digits.subset(train=100, test=20), out=tmp_path / "m.tflite",
                 representative_samples=20)
    ops = [op.opcode.name for op in read_tflite(q.tflite).operators]
    assert {"HARD_SWISH", "MEAN", "LOGISTIC", "TANH"} <= set(ops)
    result = build("nano33", tmp_path / "m.tflite", tmp_path / "p", runtime="native")
    report = _bench_verify(result.project, tmp_path, samples=100)
    assert report.verify.bitexact == report.verify.checked == 100, report.verify


def test_conv1d_and_global_max_pooling_run_bit_exact(tmp_path, digits):
    """Keras' Conv1D converts to RESHAPE and CONV_2D, GlobalMaxPooling1D to REDUCE_MAX."""
    import keras

    from edgecnn.quantize import quantize

    keras.utils.set_random_seed(0)
    inputs = keras.Input(digits.input_shape)
    x = keras.layers.Reshape((8, 8))(inputs)
    x = keras.layers.Conv1D(8, 3, activation="relu")(x)
    x = keras.layers.Conv1D(8, 3, activation="relu")(x)
    x = keras.layers.GlobalMaxPooling1D()(x)
    model = keras.Model(inputs, keras.layers.Dense(digits.num_classes,
                                                   activation="softmax")(x))
    q = quantize(model, digits.subset(train=100, test=20), out=tmp_path / "m.tflite",
                 representative_samples=20)
    assert "REDUCE_MAX" in [op.opcode.name for op in read_tflite(q.tflite).operators]
    result = build("nano33", tmp_path / "m.tflite", tmp_path / "p", runtime="native")
    report = _bench_verify(result.project, tmp_path, samples=100)
    assert report.verify.bitexact == report.verify.checked == 100, report.verify


def test_quantize_multiplier_matches_tflm_by_hand():
    # 0.5 = 0.5 * 2^0 -> 2^30, shift 0; 0.75 -> 0.75 * 2^31, shift 0; 3.0 = 0.75 * 2^2
    assert quantize_multiplier(0.5) == (1 << 30, 0)
    assert quantize_multiplier(0.75) == (3 << 29, 0)
    assert quantize_multiplier(3.0) == (3 << 29, 2)
    assert quantize_multiplier(0.0) == (0, 0)
    # a significand that rounds up to 2^31 is halved and the exponent raised
    assert quantize_multiplier(1.0 - 2.0 ** -40) == (1 << 30, 1)


# the operators whose kernels go index by index (or, the 3x3 depthwise kernel, keep the rows
# they overwrite): an output over an input that dies there is allowed for them only
WRITES_OVER_ITS_INPUT = {"ADD", "SUB", "MUL", "RELU", "RELU6", "QUANTIZE", "LOGISTIC", "TANH",
                         "HARD_SWISH", "LEAKY_RELU", "SOFTMAX", "DEPTHWISE_CONV_2D"}


@pytest.mark.parametrize("name", ["pretrainedResnet_quant.tflite", "kws_ref_model.tflite"])
def test_the_memory_plan_never_overlaps_live_tensors(name):
    """Checked independently of the planner: replay the graph and test every pair of tensors
    that are alive at once. The one overlap allowed is an output written at exactly the offset
    of an input of its own layer that no later layer reads, by a kernel that allows it."""
    m = read_tflite(shared_model(name))
    plan = lower(m)
    live_from, live_to = {}, {}
    for t in m.inputs:
        live_from[t] = -1
    for op in m.operators:
        for t in (*op.inputs, *op.outputs):
            if t >= 0 and t in plan.offsets:
                live_from.setdefault(t, op.index)
                live_to[t] = op.index
    for t in m.outputs:
        live_to[t] = len(m.operators)
    reshaped = {op.outputs[0] for op in m.operators if op.opcode.name == "RESHAPE"}
    tensors = [t for t in plan.offsets if t not in reshaped]
    writer = {op.outputs[0]: op for op in m.operators}
    in_place = 0
    for i, a in enumerate(tensors):
        for b in tensors[i + 1:]:
            if live_to[a] < live_from[b] or live_to[b] < live_from[a]:
                continue
            a0, b0 = plan.offsets[a], plan.offsets[b]
            a1, b1 = a0 + m.tensors[a].nbytes, b0 + m.tensors[b].nbytes
            if a1 <= b0 or b1 <= a0:
                continue
            first, second = (a, b) if live_from[a] < live_from[b] else (b, a)
            op = writer.get(second)
            assert op is not None and op.opcode.name in WRITES_OVER_ITS_INPUT \
                and first in op.inputs and live_to[first] == op.index and a0 == b0, \
                (m.tensors[a].name, m.tensors[b].name)
            in_place += 1
    assert in_place >= 1          # ResNet's ADDs, KWS's depthwise layers
    assert max(plan.offsets[t] + m.tensors[t].nbytes for t in tensors) <= plan.arena_bytes
    # each layer's kernel scratch (the sizes edgecnn_kernels.h states) lies in the arena and
    # clear of every tensor alive during that layer
    placed = 0
    for op, layer in zip(m.operators, plan.layers, strict=True):
        kind, fields = op.opcode.name, dict(layer.fields)
        if kind == "CONV_2D":
            _, k_h, k_w, in_c = m.tensors[op.inputs[1]].shape
            size = (2 if fields["narrow_window"] == "1" else 4) * ((k_h * k_w * in_c + 3) // 4 * 4)
        elif kind == "DEPTHWISE_CONV_2D" and layer.input1 == layer.output:
            _, _, in_w, in_c = m.tensors[op.inputs[0]].shape
            size = (in_c + 3) // 4 * 4 + 2 * in_w * in_c
        elif kind == "DEPTHWISE_CONV_2D":
            size = 4 * m.tensors[op.outputs[0]].shape[-1]
        else:
            assert layer.scratch == -1
            continue
        placed += 1
        assert layer.scratch % 4 == 0 and layer.scratch + size <= plan.arena_bytes
        for t in tensors:
            if live_from[t] <= op.index <= live_to[t]:
                t0, t1 = plan.offsets[t], plan.offsets[t] + m.tensors[t].nbytes
                assert t1 <= layer.scratch or layer.scratch + size <= t0, (op.index, t)
    assert placed >= 5
    json.dumps(plan.offsets)   # plain ints
    assert np.all(np.asarray(list(plan.offsets.values())) % 16 == 0)
    # the savings never cost memory
    assert plan.arena_bytes <= lower(m, in_place=False, narrow_windows=False).arena_bytes


def test_analyze_prints_the_native_plan():
    from conftest import run_cli

    proc = run_cli("analyze", str(shared_model("kws_ref_model.tflite")), "--runtime", "native",
                   "--json")
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)["native_plan"]
    assert plan["total_bytes"] == plan["arena_bytes"] >= plan["scratch_bytes"] > 0
    assert [row["op"] for row in plan["layers"]][:2] == ["CONV_2D", "DEPTHWISE_CONV_2D"]
    text = run_cli("analyze", str(shared_model("kws_ref_model.tflite")), "--runtime", "native")
    assert f"native arena: {plan['total_bytes']:,} B" in text.stdout


def _branching_model() -> bytes:
    """x -> RELU -> a -> DEPTHWISE_CONV_2D 3x3 -> b -> ADD(a, b) -> out, written by hand:
    a is read again after the depthwise layer, so that layer may not write over it."""
    import flatbuffers
    from conftest import schema_tensor

    from edgecnn.tflite_model import _schema

    s = _schema()
    INT8, INT32 = s.TensorType.INT8, s.TensorType.INT32
    shape = (1, 6, 5, 8)
    buffers = [s.BufferT() for _ in range(3)]
    rng = np.random.default_rng(7)
    buffers[1].data = list(rng.integers(-127, 128, 72).astype(np.int8).view(np.uint8))
    buffers[2].data = list(np.zeros(8, np.int32).view(np.uint8))
    tensors = [schema_tensor(s, "x", shape, INT8, 0, [0.05], 3),
               schema_tensor(s, "a", shape, INT8, 0, [0.05], -128),
               schema_tensor(s, "w", (1, 3, 3, 8), INT8, 1, [0.01] * 8, 0, 3),
               schema_tensor(s, "bias", (8,), INT32, 2, [0.0005] * 8),
               schema_tensor(s, "b", shape, INT8, 0, [0.08], 1),
               schema_tensor(s, "out", shape, INT8, 0, [0.1], -5)]
    codes = []
    for name in ("RELU", "DEPTHWISE_CONV_2D", "ADD"):
        code = s.OperatorCodeT()
        code.builtinCode = code.deprecatedBuiltinCode = getattr(s.BuiltinOperator, name)
        code.version = 1
        codes.append(code)
    ops = []
    for index, (inputs, output) in enumerate((([0], 1), ([1, 2, 3], 4), ([1, 4], 5))):
        op = s.OperatorT()
        op.opcodeIndex, op.inputs, op.outputs = index, inputs, [output]
        ops.append(op)
    dw = s.DepthwiseConv2DOptionsT()
    dw.padding, dw.strideH, dw.strideW, dw.depthMultiplier = s.Padding.SAME, 1, 1, 1
    dw.dilationHFactor = dw.dilationWFactor = 1
    ops[1].builtinOptionsType, ops[1].builtinOptions = s.BuiltinOptions.DepthwiseConv2DOptions, dw
    ops[2].builtinOptionsType, ops[2].builtinOptions = s.BuiltinOptions.AddOptions, \
        s.AddOptionsT()
    graph = s.SubGraphT()
    graph.tensors, graph.inputs, graph.outputs, graph.operators = tensors, [0], [5], ops
    model = s.ModelT()
    model.version, model.operatorCodes, model.subgraphs, model.buffers = 3, codes, [graph], \
        buffers
    builder = flatbuffers.Builder(4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def test_an_output_goes_over_an_input_only_where_the_input_dies(tmp_path):
    m = read_tflite(_branching_model())
    plan = lower(m)
    at = {m.tensors[t].name: o for t, o in plan.offsets.items()}
    # RELU writes over the graph's input (read nowhere else); the depthwise layer may not
    # write over `a` (ADD reads it after); ADD writes over one of its two inputs, both dead
    assert at["a"] == at["x"] and at["b"] != at["a"]
    assert at["out"] in (at["a"], at["b"])
    assert plan.in_place == [0, 2]
    assert "in place" in format_plan(plan)
    # without the saving every tensor alive at once has bytes of its own: a larger arena
    apart = lower(m, in_place=False)
    assert len({apart.offsets[t] for t in (1, 4, 5)}) == 3
    assert plan.arena_bytes < apart.arena_bytes
    # and the firmware computes what TFLM does with the shared bytes
    (tmp_path / "m.tflite").write_bytes(_branching_model())
    result = build("nano33", tmp_path / "m.tflite", tmp_path / "p", runtime="native")
    report = _bench_verify(result.project, tmp_path, samples=50)
    assert report.verify.bitexact == report.verify.checked == 50, report.verify

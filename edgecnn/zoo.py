"""The model zoo: compact CNNs for microcontrollers, built with Keras 3.

Every architecture takes the data's input shape and class count, so parameter counts are
computed by Keras, never written down. Global average pooling is an ``AveragePooling2D`` over
the whole feature map: it converts to TFLite's AVERAGE_POOL_2D, which the Arduino TFLM library
computes bit-exactly, where ``GlobalAveragePooling2D`` would become MEAN.

Example:
    >>> from edgecnn.zoo import build_model
    >>> model = build_model("edge_cnn", (28, 28, 1), 10)
    >>> model.count_params() > 0
    True
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .console import import_tensorflow
from .errors import ArchitectureError


@dataclass(frozen=True)
class Param:
    """The values an architecture parameter takes: checked before TensorFlow is imported, and
    the domain a search (``edgecnn search``) draws from."""

    kind: str                       # "int", "float", "ints" (a list of ints) or "text"
    lo: float = 0
    hi: float = 0
    max_len: int = 1                # "ints": how many entries at most
    choices: tuple = ()             # "float"/"text": the only values allowed, when given

    def check(self, arch: str, name: str, value):
        """``value`` as the builder takes it; ``ArchitectureError`` saying what is allowed."""
        import math

        def fail(why: str):
            return ArchitectureError(f"{arch} --param {name}={str(value)[:40]}: {why}")

        if self.kind == "text":
            if not isinstance(value, str) or (self.choices and value not in self.choices
                                              and not Path(value).suffix):
                raise fail(f"give one of {', '.join(self.choices)} or a file")
            return value
        if self.kind == "ints":
            items = list(value) if isinstance(value, (list, tuple)) else [value]
            if not 1 <= len(items) <= self.max_len:
                raise fail(f"give 1 to {self.max_len} integers, e.g. [16,32]")
            return tuple(Param("int", self.lo, self.hi).check(arch, name, v) for v in items)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise fail("not a number")
        if self.kind == "int":
            if isinstance(value, float) and not value.is_integer():
                raise fail("not an integer")
            if not self.lo <= value <= self.hi:
                raise fail(f"give an integer from {self.lo:g} to {self.hi:g}")
            return int(value)
        if not math.isfinite(value) or not self.lo <= value <= self.hi:
            raise fail(f"give a number from {self.lo:g} to {self.hi:g}")
        if self.choices and float(value) not in self.choices:
            raise fail(f"give one of {', '.join(f'{c:g}' for c in self.choices)}")
        return float(value)

    def describe(self) -> str:
        if self.kind == "ints":
            return f"1-{self.max_len} integers {self.lo:g}..{self.hi:g}"
        if self.choices:
            return "|".join(f"{c:g}" if isinstance(c, float) else str(c) for c in self.choices)
        return f"{self.kind} {self.lo:g}..{self.hi:g}"


CHANNELS = Param("ints", 1, 1024, max_len=6)
DROPOUT = Param("float", 0.0, 0.9)


@dataclass(frozen=True)
class Architecture:
    name: str
    summary: str
    builder: Callable
    defaults: dict
    domain: dict                    # parameter name -> Param

    def check_params(self, params: dict) -> dict:
        """``params`` checked against the declared domain (no TensorFlow import)."""
        unknown = set(params) - set(self.defaults)
        if unknown:
            raise ArchitectureError(f"{self.name} takes {', '.join(self.defaults)}, not "
                                    f"{', '.join(sorted(unknown))}")
        return {k: self.domain[k].check(self.name, k, v) for k, v in params.items()}


def _layers():
    import_tensorflow()
    from keras import layers
    return layers


def _maybe_pool(x):
    layers = _layers()
    return layers.MaxPooling2D(2)(x) if min(x.shape[1:3]) >= 2 else x


def _global_average(x):
    """Whole-map average pooling that converts to AVERAGE_POOL_2D, then a flat vector."""
    layers = _layers()
    x = layers.AveragePooling2D(pool_size=tuple(x.shape[1:3]), name="global_avg_pool")(x)
    return layers.Flatten(name="flatten")(x)


def edge_cnn(inputs, num_classes, filters=(16, 32, 64), dense=48, dropout=0.3):
    """Strided convolutions, one full convolution, max pooling, a small dense layer.

    On maps of 14 pixels and more, every convolution but the last halves the map with a
    stride of 2 instead of a convolution at full size followed by pooling: the same receptive
    field for a quarter of the activations, which is what training time and the arena pay for
    on a CPU and a microcontroller. Parameters sit in the convolutions, not in one big dense
    layer (Fashion-MNIST: 52 k parameters, 1.2 M MACs, 91.5-92 % int8 in 12 epochs)."""
    layers = _layers()
    x = inputs
    for i, f in enumerate(filters):
        last = i == len(filters) - 1
        stride = 2 if not last and min(x.shape[1:3]) >= 14 else 1
        # batch normalization speeds training and folds into the convolution on conversion
        x = layers.Conv2D(f, 3, strides=stride, padding="same", use_bias=False,
                          name=f"conv{i + 1}")(x)
        x = layers.BatchNormalization(momentum=0.9, name=f"conv{i + 1}_bn")(x)
        x = layers.ReLU(name=f"conv{i + 1}_relu")(x)
        if stride == 1:
            x = _maybe_pool(x)
    x = layers.Flatten(name="flatten")(x)
    if dropout:
        x = layers.Dropout(dropout)(x)
    x = layers.Dense(dense, activation="relu", name="dense")(x)
    return layers.Dense(num_classes, activation="softmax", name="logits")(x)


def edge_cnn_gap(inputs, num_classes, filters=(16, 32, 48, 64)):
    """Convolutions at full size, each but the last followed by max pooling, and a
    global-average-pooling head instead of a large dense layer: every parameter sits in a
    convolution, so 64 KB of flash buys four of them (Fashion-MNIST: 47.5 k parameters, 1.9 M
    MACs, 56 KB int8; 92.52 % and 92.19 % int8 test accuracy with training seeds 0 and 1, 30
    epochs with augmentation, measured 2026-12-06, against the default edge_cnn's 91.6 % in
    12). Batch normalization folds into each convolution on conversion: the int8 graph is the
    same as without it."""
    layers = _layers()
    x = inputs
    for i, f in enumerate(filters):
        x = layers.Conv2D(f, 3, padding="same", use_bias=False, name=f"conv{i + 1}")(x)
        x = layers.BatchNormalization(momentum=0.9, name=f"conv{i + 1}_bn")(x)
        x = layers.ReLU(name=f"conv{i + 1}_relu")(x)
        if i < len(filters) - 1:
            x = _maybe_pool(x)
    x = _global_average(x)
    return layers.Dense(num_classes, activation="softmax", name="logits")(x)


def _ds_block(x, filters, stride, name):
    layers = _layers()
    x = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False,
                               name=f"{name}_dw")(x)
    x = layers.BatchNormalization(name=f"{name}_dw_bn")(x)
    x = layers.ReLU(name=f"{name}_dw_relu")(x)
    x = layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_pw")(x)
    x = layers.BatchNormalization(name=f"{name}_pw_bn")(x)
    return layers.ReLU(name=f"{name}_pw_relu")(x)


def dscnn(inputs, num_classes, filters=32, blocks=4):
    """DS-CNN: one strided convolution, then depthwise-separable blocks (MLPerf Tiny KWS style)."""
    layers = _layers()
    stride = 2 if min(inputs.shape[1:3]) >= 16 else 1
    x = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False,
                      name="conv1")(inputs)
    x = layers.BatchNormalization(name="conv1_bn")(x)
    x = layers.ReLU(name="conv1_relu")(x)
    for i in range(blocks):
        x = _ds_block(x, filters, 1, f"ds{i + 1}")
    x = _global_average(x)
    return layers.Dense(num_classes, activation="softmax", name="logits")(x)


def mobilenet_v1(inputs, num_classes, alpha=0.25, depth=5):
    """MobileNet v1 with width multiplier ``alpha``, cut to ``depth`` separable blocks."""
    layers = _layers()
    if not 0 < alpha <= 1:
        raise ArchitectureError(f"mobilenet_v1 needs 0 < alpha <= 1, got {alpha}")
    plan = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1)][:depth]
    width = lambda c: max(8, int(c * alpha))  # noqa: E731
    x = layers.Conv2D(width(32), 3, strides=2 if min(inputs.shape[1:3]) >= 16 else 1,
                      padding="same", use_bias=False, name="conv1")(inputs)
    x = layers.BatchNormalization(name="conv1_bn")(x)
    x = layers.ReLU(6.0, name="conv1_relu")(x)
    for i, (c, s) in enumerate(plan):
        s = s if min(x.shape[1:3]) >= 2 * s else 1
        x = _ds_block(x, width(c), s, f"block{i + 1}")
    x = _global_average(x)
    return layers.Dense(num_classes, activation="softmax", name="logits")(x)


def resnet8(inputs, num_classes, filters=(16, 32, 64), weight_decay=1e-4):
    """ResNet-8, the MLPerf Tiny image-classification topology (three residual stacks)."""
    import_tensorflow()
    import keras
    layers = _layers()
    reg = keras.regularizers.l2(weight_decay)

    def conv(x, f, k, s, name):
        return layers.Conv2D(f, k, strides=s, padding="same", kernel_regularizer=reg,
                             name=name)(x)

    x = conv(inputs, filters[0], 3, 1, "conv1")
    x = layers.BatchNormalization(name="conv1_bn")(x)
    x = layers.ReLU(name="conv1_relu")(x)
    for i, f in enumerate(filters):
        stride = 1 if i == 0 or min(x.shape[1:3]) < 2 else 2
        y = conv(x, f, 3, stride, f"stack{i + 1}_conv1")
        y = layers.BatchNormalization(name=f"stack{i + 1}_bn1")(y)
        y = layers.ReLU(name=f"stack{i + 1}_relu1")(y)
        y = conv(y, f, 3, 1, f"stack{i + 1}_conv2")
        y = layers.BatchNormalization(name=f"stack{i + 1}_bn2")(y)
        shortcut = x if (stride == 1 and x.shape[-1] == f) else conv(x, f, 1, stride,
                                                                      f"stack{i + 1}_shortcut")
        x = layers.Add(name=f"stack{i + 1}_add")([shortcut, y])
        x = layers.ReLU(name=f"stack{i + 1}_relu")(x)
    x = _global_average(x)
    return layers.Dense(num_classes, activation="softmax", name="logits")(x)


BACKBONE = "backbone"   # the name of the pretrained base inside a transfer-learning model


def mobilenet_v2(inputs, num_classes, alpha=0.35, image_size=96, pretrained="none",
                 dropout=0.2):
    """Keras' MobileNetV2 as a frozen base (``pretrained``: none, imagenet or a weights file)
    under a small head. Inputs are resized to ``image_size`` inside the model (RESIZE_BILINEAR
    on the device), grayscale is repeated to three channels, and [0, 1] becomes [-1, 1]."""
    import_tensorflow()
    import keras

    from .errors import WeightsError

    layers = _layers()
    size = tuple(image_size) if isinstance(image_size, (list, tuple)) else (image_size,)
    size = size * 2 if len(size) == 1 else size
    if min(size) < 32:
        raise ArchitectureError(f"mobilenet_v2 needs an image size of at least 32, not {size}")
    x = inputs
    if tuple(inputs.shape[1:3]) != size:
        x = layers.Resizing(*size, interpolation="bilinear", name="resize")(x)
    if inputs.shape[-1] == 1:
        x = layers.Concatenate(name="gray_to_rgb")([x, x, x])
    elif inputs.shape[-1] != 3:
        raise ArchitectureError(f"mobilenet_v2 takes 1 or 3 input channels, not "
                                f"{inputs.shape[-1]}")
    x = layers.Rescaling(2.0, offset=-1.0, name="to_minus1_1")(x)
    weights = None if pretrained in (None, "none") else pretrained
    if weights not in (None, "imagenet") and not Path(str(weights)).is_file():
        raise WeightsError(f"--pretrained {weights}: no such weights file (use imagenet, none "
                           "or the path of a MobileNetV2 no-top weights file)")
    try:
        base = keras.applications.MobileNetV2(input_shape=(*size, 3), alpha=alpha,
                                              include_top=False, weights=weights,
                                              name=BACKBONE)
    except ValueError as exc:
        raise WeightsError(f"MobileNetV2 (alpha {alpha}, {size[0]}x{size[1]}) cannot take "
                           f"--pretrained {weights}: {str(exc).splitlines()[0]}") from None
    except Exception as exc:  # keras.utils.get_file: URL errors, HTTP errors, timeouts
        raise WeightsError(
            f"the ImageNet weights for MobileNetV2 alpha {alpha} are not in Keras' cache "
            f"(~/.keras/models) and could not be downloaded ({_first_line(exc)}); connect to "
            "the network once, or pass --pretrained PATH (a weights file) or --pretrained none "
            "(train from scratch)") from None
    base.trainable = weights is None
    x = base(x, training=False if weights is not None else None)
    x = _global_average(x)
    x = layers.Dropout(dropout, name="head_dropout")(x)
    return layers.Dense(num_classes, activation="softmax", name="logits")(x)


def _first_line(exc: BaseException, limit: int = 160) -> str:
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else type(exc).__name__
    if " -- " in text:   # Keras' "URL fetch failure on URL: errno -- reason": keep the reason
        text = text.rsplit(" -- ", 1)[1]
    return text[:limit]


def fcnn(inputs, num_classes, units=(128, 64)):
    """A dense-only baseline for the CNN-vs-dense comparison."""
    layers = _layers()
    x = layers.Flatten(name="flatten")(inputs)
    for i, u in enumerate(units):
        x = layers.Dense(u, activation="relu", name=f"dense{i + 1}")(x)
    return layers.Dense(num_classes, activation="softmax", name="logits")(x)


ARCHITECTURES = {a.name: a for a in (
    Architecture("edge_cnn", "strided convs, conv, pool, dense: the fast default", edge_cnn,
                 {"filters": (16, 32, 64), "dense": 48, "dropout": 0.3},
                 {"filters": CHANNELS, "dense": Param("int", 1, 4096), "dropout": DROPOUT}),
    Architecture("edge_cnn_gap", "four convolutions, global average pooling head",
                 edge_cnn_gap, {"filters": (16, 32, 48, 64)}, {"filters": CHANNELS}),
    Architecture("dscnn", "depthwise-separable CNN (MLPerf Tiny KWS style)", dscnn,
                 {"filters": 32, "blocks": 4},
                 {"filters": Param("int", 1, 1024), "blocks": Param("int", 0, 12)}),
    Architecture("mobilenet_v1", "MobileNet v1 with width multiplier alpha", mobilenet_v1,
                 {"alpha": 0.25, "depth": 5},
                 {"alpha": Param("float", 0.05, 1.0), "depth": Param("int", 0, 7)}),
    Architecture("resnet8", "ResNet-8, MLPerf Tiny image classification", resnet8,
                 {"filters": (16, 32, 64)}, {"filters": CHANNELS}),
    Architecture("fcnn", "dense-only baseline", fcnn, {"units": (128, 64)},
                 {"units": Param("ints", 1, 8192, max_len=6)}),
    Architecture("mobilenet_v2", "MobileNetV2 base (optionally ImageNet-pretrained) + small "
                 "head, for transfer learning", mobilenet_v2,
                 {"alpha": 0.35, "image_size": 96, "pretrained": "none", "dropout": 0.2},
                 {"alpha": Param("float", 0.05, 2.0), "image_size": Param("ints", 32, 1024,
                                                                          max_len=2),
                  "pretrained": Param("text", choices=("none", "imagenet")),
                  "dropout": DROPOUT}),
)}
DEFAULT_ARCH = "edge_cnn"


def arch_params(arch: str, params: dict, *, alpha: float | None = None,
                pretrained: str | None = None, image_size: tuple[int, int] | None = None,
                resizes_images: bool = False) -> dict:
    """The architecture parameters the training options ask for. ``image_size`` is the
    architecture's input size when it takes one (mobilenet_v2 resizes inside the model);
    otherwise it must be the size folder images are resized to (``resizes_images``)."""
    if arch not in ARCHITECTURES:
        raise ArchitectureError(f"unknown architecture {arch!r}; choose one of "
                                f"{', '.join(ARCHITECTURES)} (see `edgecnn models`)")
    params = dict(params)
    if alpha is not None:
        params["alpha"] = alpha
    if pretrained is not None:
        params["pretrained"] = pretrained
    takes_size = "image_size" in ARCHITECTURES[arch].defaults
    if image_size and takes_size:
        params["image_size"] = tuple(image_size)
    elif image_size and not resizes_images:
        sized = [a for a, spec in ARCHITECTURES.items() if "image_size" in spec.defaults]
        raise ArchitectureError(f"--image-size resizes folder images (--data DIR), or sets the "
                                f"input size of {', '.join(sized)}; {arch} takes the data "
                                "set's own size")
    return ARCHITECTURES[arch].check_params(params)


def build_model(arch: str, input_shape, num_classes: int, **params):
    """Build an uncompiled Keras model for ``arch``; ``params`` override the defaults."""
    import_tensorflow()
    import keras

    if arch not in ARCHITECTURES:
        raise ArchitectureError(f"unknown architecture {arch!r}; choose one of "
                                f"{', '.join(ARCHITECTURES)} (see `edgecnn models`)")
    spec = ARCHITECTURES[arch]
    params = spec.check_params(params)
    inputs = keras.Input(tuple(input_shape), name="input")
    outputs = spec.builder(inputs, num_classes, **{**spec.defaults, **params})
    return keras.Model(inputs, outputs, name=arch)

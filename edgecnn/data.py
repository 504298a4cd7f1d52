"""Data sets: one ``Dataset`` for every source, float32 NHWC images in [0, 1].

Fashion-MNIST and the scikit-learn digits load without TensorFlow; MNIST, CIFAR-10 and image
folders go through Keras.

Example:
    >>> from edgecnn.data import load_dataset
    >>> ds = load_dataset("digits")
    >>> ds.input_shape, len(ds.class_names)
    ((8, 8, 1), 10)
"""
from __future__ import annotations

import gzip
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .console import import_tensorflow
from .errors import DatasetError

FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
FASHION_MNIST_FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")
DIGIT_CLASSES = tuple(str(d) for d in range(10))
DATASETS = ("fashion_mnist", "mnist", "cifar10", "digits")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif"}
# Class-preserving for digits and most image folders; mirror images are not.
DEFAULT_AUGMENTATIONS = ("shift", "rotate", "zoom")


@dataclass
class Dataset:
    """Train/validation/test splits with the facts that travel with a model.

    ``input_scale`` maps a raw pixel to the model's float input: ``x = raw * input_scale``.
    ``augmentations`` lists the transforms that preserve the class: a horizontal flip does for
    clothing and CIFAR-10 objects, not for digits.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]
    input_scale: float = 1.0 / 255.0
    source: str = ""
    notes: list[str] = field(default_factory=list)
    # Augmentations that keep the class: a subset of flip, shift, rotate, zoom.
    augmentations: tuple[str, ...] = DEFAULT_AUGMENTATIONS

    @property
    def flip_ok(self) -> bool:
        return "flip" in self.augmentations

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.x_train.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def subset(self, train: int | None = None, test: int | None = None) -> Dataset:
        """A smaller copy (first ``train`` training and ``test`` test samples), for quick runs."""
        def cut(a, n):
            return a if n is None else a[:n]
        val_n = None if train is None else max(1, train // 10)
        return Dataset(self.name, cut(self.x_train, train), cut(self.y_train, train),
                       cut(self.x_val, val_n), cut(self.y_val, val_n),
                       cut(self.x_test, test), cut(self.y_test, test), self.class_names,
                       self.input_scale, self.source, list(self.notes), self.augmentations)


def load_dataset(name: str = "fashion_mnist", *, data_dir: str | os.PathLike | None = None,
                 image_size: tuple[int, int] | None = None, grayscale: bool = False,
                 validation_split: float = 0.1, seed: int = 0) -> Dataset:
    """Load a named data set, or a folder of class sub-folders when ``data_dir`` is given."""
    if data_dir is not None:
        x_tr, y_tr, x_te, y_te, classes = _load_folder(Path(data_dir), image_size, grayscale, seed)
        return _finish(f"folder:{Path(data_dir).name}", x_tr, y_tr, x_te, y_te, classes,
                       validation_split, seed, source=str(Path(data_dir).resolve()))
    if name == "fashion_mnist":
        (x_tr, y_tr, x_te, y_te), source = _load_fashion_mnist()
        # Centred, upright garments: mirror images and small shifts are realistic, rotations
        # and zooms mostly cost accuracy.
        return _finish(name, x_tr, y_tr, x_te, y_te, FASHION_MNIST_CLASSES, validation_split,
                       seed, source=source, augmentations=("flip", "shift"))
    if name == "digits":
        return _load_digits(validation_split, seed)
    if name in ("mnist", "cifar10"):
        (x_tr, y_tr), (x_te, y_te) = _keras_dataset(name)
        classes = DIGIT_CLASSES if name == "mnist" else CIFAR10_CLASSES
        return _finish(name, x_tr, y_tr, x_te, y_te, classes, validation_split, seed,
                       source=f"keras.datasets.{name}",
                       augmentations=("flip", "shift", "zoom") if name == "cifar10"
                       else DEFAULT_AUGMENTATIONS)
    raise DatasetError(f"unknown data set {name!r}; choose one of {', '.join(DATASETS)}, "
                       "or pass --data DIR for a folder of class sub-folders")


def fashion_mnist_search_path() -> list[Path]:
    """Where Fashion-MNIST's IDX files are looked for, in order."""
    paths = []
    if os.environ.get("EDGECNN_DATA_DIR"):
        paths.append(Path(os.environ["EDGECNN_DATA_DIR"]))
    paths += [Path("/usr/share/datasets/fashion-mnist"),
              Path.home() / ".keras" / "datasets" / "fashion-mnist"]
    return paths


def read_idx(path: Path) -> np.ndarray:
    """Read one (optionally gzipped) IDX file: magic, dims, then unsigned bytes."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as exc:
        raise DatasetError(f"cannot read IDX file {path}: {exc}") from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DatasetError(f"{path} is not an unsigned-byte IDX file")
    ndim = raw[3]
    if ndim == 0 or len(raw) < 4 + 4 * ndim:
        raise DatasetError(f"{path} is not a valid IDX file: its header declares {ndim} "
                           f"dimensions but the file holds {len(raw)} bytes")
    dims = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    expected = 1
    for d in dims:
        expected *= int(d)     # Python ints: a hostile header cannot overflow
    if data.size != expected:
        raise DatasetError(f"{path} is truncated or does not match its header: expected "
                           f"{expected} values "
                           f"({' x '.join(map(str, dims))}), found {data.size}")
    return data.reshape(dims)


def _load_fashion_mnist():
    tried = []
    for directory in fashion_mnist_search_path():
        files = {k: directory / v for k, v in FASHION_MNIST_FILES.items()}
        if all(p.is_file() for p in files.values()):
            arrays = {k: read_idx(p) for k, p in files.items()}
            return (arrays["x_train"][..., None], arrays["y_train"],
                    arrays["x_test"][..., None], arrays["y_test"]), str(directory)
        tried.append(str(directory))
    try:
        (x_tr, y_tr), (x_te, y_te) = _keras_dataset("fashion_mnist")
    except DatasetError as exc:
        raise DatasetError(
            "Fashion-MNIST not found in " + ", ".join(tried) + " and Keras could not download "
            "it; install it with `apt-get install dataset-fashion-mnist` or set "
            f"EDGECNN_DATA_DIR to a folder holding the four IDX .gz files ({exc})") from None
    return (x_tr, y_tr, x_te, y_te), "keras.datasets.fashion_mnist"


def _keras_dataset(name: str):
    import_tensorflow()
    import keras  # heavy: only for the sources that need it

    try:
        (x_tr, y_tr), (x_te, y_te) = getattr(keras.datasets, name).load_data()
    except Exception as exc:  # network or cache failures come in many types
        raise DatasetError(f"could not load {name} through keras.datasets (it needs the "
                           f"network the first time): {type(exc).__name__}: {exc}") from None
    if x_tr.ndim == 3:
        x_tr, x_te = x_tr[..., None], x_te[..., None]
    return (x_tr, y_tr.reshape(-1)), (x_te, y_te.reshape(-1))


def _load_digits(validation_split: float, seed: int) -> Dataset:
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = digits.images.astype(np.float32)[..., None]  # values 0..16
    labels = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(images))
    images, labels = images[order], labels[order]
    n_test = len(images) // 5
    ds = _finish("digits", images[n_test:], labels[n_test:], images[:n_test], labels[:n_test],
                 DIGIT_CLASSES, validation_split, seed,
                 source="sklearn.datasets.load_digits", raw_max=16.0)
    return ds


def _finish(name, x_tr, y_tr, x_te, y_te, classes, validation_split, seed, *,
            source, raw_max=255.0, augmentations=DEFAULT_AUGMENTATIONS) -> Dataset:
    x_tr = np.asarray(x_tr)
    x_te = np.asarray(x_te)
    y_tr = np.asarray(y_tr).astype(np.int64).reshape(-1)
    y_te = np.asarray(y_te).astype(np.int64).reshape(-1)
    for split, x, y in (("training", x_tr, y_tr), ("test", x_te, y_te)):
        if len(x) != len(y):
            raise DatasetError(f"{name} ({source}): the {split} split has {len(x)} images but "
                               f"{len(y)} labels; the files do not belong together")
        if len(x) == 0:
            raise DatasetError(f"{name} ({source}): the {split} split is empty")
        if y.min() < 0 or y.max() >= len(classes):
            bad = int(y[(y < 0) | (y >= len(classes))][0])
            raise DatasetError(f"{name} ({source}): the {split} labels include {bad}, outside "
                               f"the {len(classes)} classes (0..{len(classes) - 1})")
    order = np.random.default_rng(seed).permutation(len(x_tr))
    x_tr, y_tr = x_tr[order], y_tr[order]
    n_val = max(1, int(round(len(x_tr) * validation_split)))
    scale = 1.0 / raw_max
    to_float = lambda a: (a.astype(np.float32) * np.float32(scale))  # noqa: E731
    return Dataset(name, to_float(x_tr[n_val:]), y_tr[n_val:], to_float(x_tr[:n_val]),
                   y_tr[:n_val], to_float(x_te), y_te, tuple(classes), input_scale=scale,
                   source=source, augmentations=tuple(augmentations))


def _load_folder(root: Path, image_size, grayscale, seed):
    if root.is_symlink() and not root.exists():
        raise DatasetError(f"data folder {root} is a broken symbolic link (or a link loop)")
    if not root.exists():
        raise DatasetError(f"data folder {root} does not exist")
    if not root.is_dir():
        raise DatasetError(f"data folder {root} is a file, not a folder of class sub-folders")
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    images_per_class = {d.name: [f for f in sorted(d.rglob("*"))
                                 if f.suffix.lower() in IMAGE_SUFFIXES] for d in class_dirs}
    nonempty = {k: v for k, v in images_per_class.items() if v}
    if not nonempty:
        raise DatasetError(f"{root} holds no images: expected one sub-folder per class with "
                           f"{'/'.join(sorted(IMAGE_SUFFIXES))} files inside")
    if len(nonempty) < 2:
        raise DatasetError(f"{root} holds images for one class only ({next(iter(nonempty))!r}); "
                           "a classifier needs at least two class sub-folders")
    # Every image is decoded once here, so that a corrupt, truncated or mislabelled file is
    # named in one line instead of failing inside TensorFlow's input pipeline.
    from PIL import Image

    sizes: dict[tuple[int, int], Path] = {}
    for files in nonempty.values():
        for f in files:
            try:
                with Image.open(f) as im:
                    im.load()
                    sizes.setdefault(im.size[::-1], f)
            except Exception as exc:   # PIL raises OSError, SyntaxError, ValueError, ...
                raise DatasetError(f"cannot read image {f}: {exc}; remove or replace the "
                                   "file") from None
    if image_size is None:
        if len(sizes) > 1:
            (a, fa), (b, fb) = list(sizes.items())[:2]
            raise DatasetError(f"images have mixed sizes ({a[0]}x{a[1]} in {fa}, "
                               f"{b[0]}x{b[1]} in {fb}); pass --image-size HxW (e.g. "
                               f"--image-size {a[0]}x{a[1]}) to resize them all")
        image_size = next(iter(sizes))
    import_tensorflow()
    import keras

    try:
        ds = keras.utils.image_dataset_from_directory(
            root, labels="inferred", label_mode="int", class_names=sorted(nonempty),
            color_mode="grayscale" if grayscale else "rgb", batch_size=None,
            image_size=tuple(image_size), shuffle=True, seed=seed, verbose=False)
        xs, ys = [], []
        for x, y in ds:
            xs.append(x.numpy())
            ys.append(int(y.numpy()))
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DatasetError(f"cannot load images from {root}: {first[:300]}") from None
    x = np.stack(xs).astype(np.uint8)
    y = np.asarray(ys)
    n_test = max(1, len(x) // 5)
    return x[n_test:], y[n_test:], x[:n_test], y[:n_test], tuple(sorted(nonempty))

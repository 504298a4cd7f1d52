"""What the harness needs from a project written by ``edgecnn build``."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from ..artifacts import TestVectorSet
from ..errors import ProjectError
from ..manifest import MANIFEST, Manifest, read_manifest


@dataclass
class Project:
    """A generated project: its folder, manifest, model bytes and self-check vectors."""

    path: Path
    manifest: Manifest
    model_bytes: bytes
    vectors: TestVectorSet

    @property
    def sha256(self) -> str:
        return self.manifest.model.sha256

    def model_meta(self):
        """The model's metadata (data set, labels, scales) when the build had it, else None."""
        from ..metadata import ModelMeta

        path = self.path / "model" / "model.json"
        return ModelMeta.load(path) if path.is_file() else None


def load_project(path: str | Path) -> Project:
    """Read a project folder; raise ``ProjectError`` naming what is missing."""
    path = Path(path)
    if not path.is_dir():
        raise ProjectError(f"{path} is not a folder; pass the folder `edgecnn build` wrote")
    manifest = read_manifest(path)
    model = path / "model" / "model.tflite"
    if not model.is_file():
        raise ProjectError(f"{model} is missing; rebuild the project with this edgecnn version")
    data = model.read_bytes()
    if hashlib.sha256(data).hexdigest() != manifest.model.sha256:
        raise ProjectError(f"{model} does not match the SHA-256 in {MANIFEST}: the project was "
                           "edited after `edgecnn build`; rebuild it")
    vectors_file = path / "model" / "test_vectors.json"
    vectors = (TestVectorSet.read(vectors_file) if vectors_file.is_file()
               else TestVectorSet.empty())
    return Project(path, manifest, data, vectors)

"""One page of sections (text, tables, figures) written as self-contained HTML and Markdown.

Sections are plain data; the Jinja templates (``templates/report_page.*.j2``) only loop over
them. Figures are PNG files beside the page and, in the HTML, also embedded as data URIs so
that the HTML file alone is the whole report.
"""
from __future__ import annotations

import base64
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import OutputExistsError
from ..fsutil import (
    Updated,
    check_folder_destination,
    file_digests,
    same_file,
    staging_dir,
    update_folder,
)
from .figures import png_bytes

MARKER = "edgecnn-report.json"   # says "edgecnn wrote this folder" (overwritable with --force)


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]
    align: list[str] = field(default_factory=list)   # "l" or "r" per column

    def __post_init__(self):
        self.align = self.align or ["l"] + ["r"] * (len(self.headers) - 1)


@dataclass
class Figure:
    file: str
    caption: str
    data_uri: str = ""


@dataclass
class Section:
    title: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)


class Page:
    """Collects sections and figures in a staging folder; ``publish`` moves it into place."""

    def __init__(self, title: str, out: str | Path, *, force: bool = False,
                 subtitle: str = "", inputs=()):
        self.title, self.subtitle = title, subtitle
        self.out = Path(out)
        self.force = force
        self.inputs = [Path(i) for i in inputs if i]
        check_folder_destination(self.out, force, is_ours=_is_report, kind="report")
        self.staged = staging_dir(self.out)
        self.sections: list[Section] = []
        self.updated: Updated | None = None

    def figure(self, fig, name: str, caption: str) -> Figure:
        return figure_file(fig, self.staged / name, caption)

    def write_json(self, name: str, data) -> None:
        (self.staged / name).write_text(json.dumps(data, indent=2, default=_jsonable) + "\n")

    def publish(self, data: dict) -> Path:
        """Write the pages and the marker (with the hash of every file written), then put the
        folder in place: an earlier report of edgecnn's is updated file by file (``--force``),
        files the user added to it are kept, edited ones backed up."""
        for kind in ("html", "md"):
            (self.staged / f"report.{kind}").write_text(
                render(kind, self.title, self.subtitle, self.sections))
        files = file_digests(self.staged, leave_out=MARKER)
        for rel in [*files, MARKER]:
            for source in self.inputs:
                if same_file(self.out / rel, source):
                    raise OutputExistsError(f"{source} is an input of this report and the "
                                            f"report would write {self.out / rel}; choose "
                                            "another --out")
        self.write_json(MARKER, {"generator": "edgecnn", **data, "files": files})
        self.updated = update_folder(self.staged, self.out, self.force, is_ours=_is_report,
                                     kind="report", marker=MARKER, recorded=_recorded(self.out))
        return self.out

    def discard(self) -> None:
        shutil.rmtree(self.staged, ignore_errors=True)


def figure_file(fig, path: Path, caption: str) -> Figure:
    """Write a matplotlib figure as PNG at ``path``; the page's Figure, its image embedded."""
    data = png_bytes(fig)
    path.write_bytes(data)
    return Figure(path.name, caption, "data:image/png;base64," + base64.b64encode(data).decode())


def render(kind: str, title: str, subtitle: str, sections: list[Section]) -> str:
    """A page as ``"html"`` or ``"md"``: every edgecnn report (model, comparison, bench) is
    rendered by these two templates."""
    import jinja2

    from ..resources import resource_dir

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resource_dir("templates"))),
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",),
                                            default_for_string=False))
    return env.get_template(f"report_page.{kind}.j2").render(
        title=title, subtitle=subtitle, sections=sections)


def _is_report(path: Path) -> bool:
    return (path / MARKER).is_file()


def _recorded(folder: Path) -> dict[str, str]:
    """The files an earlier report in ``folder`` wrote (path -> SHA-256); none when there is no
    report or its marker predates the list (then nothing of the folder's is removed)."""
    try:
        files = json.loads((folder / MARKER).read_text()).get("files")
    except (OSError, ValueError, AttributeError):
        return {}
    return files if isinstance(files, dict) else {}


def _jsonable(value):
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in a report")

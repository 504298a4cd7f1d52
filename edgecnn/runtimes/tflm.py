"""TensorFlow Lite Micro as an edgecnn runtime: the pinned board libraries' interpreter, its
arena (measured on the host with TFLM's recording allocator, scaled to 32-bit structs, plus the
board's optimized-kernel scratch), the exact op registrations of the board's library, and the
host ``tflite-micro`` interpreter as the reference.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .base import ArenaPlan, HostBuild, PlanPart
from .tflm_library import library

if TYPE_CHECKING:
    from ..boards import Board

# On top of the derived device need, which is itself an upper bound (see plan_arena); the
# harness reports the real figure from the board.
ARENA_MARGIN = 0.02


@dataclass(frozen=True)
class OpRegistration:
    name: str      # the builtin, e.g. CONV_2D
    method: str    # the board library's MicroMutableOpResolver method, e.g. AddConv2D


@dataclass(frozen=True)
class TflmContext:
    """The ``runtime`` part of the template context for a TFLM build."""

    title: str
    kernels: str
    library: str
    library_version: str
    lib_deps: tuple[str, ...]
    header: str                 # the Arduino library's umbrella header
    api_2022: bool              # MicroInterpreter takes an ErrorReporter* (2022 API)
    op_events: bool             # MicroInterpreter takes a MicroProfilerInterface* (2023 API)
    ops: tuple[OpRegistration, ...]
    embeds_flatbuffer: bool = True   # the interpreter reads the .tflite from flash


class TflmRuntime:
    name = "tflm"
    title = "TensorFlow Lite Micro"
    arena_figure = "device: interpreter->arena_used_bytes()"

    def check(self, model, board: Board, force: bool = False):
        from .tflm_compat import check_model

        return check_model(model, board, force=force)

    def plan_memory(self, analysis, board: Board) -> ArenaPlan:
        return plan_arena(analysis, board)

    def firmware_sources(self, board: Board) -> tuple[str, ...]:
        return ("edgecnn_runtime_tflm.cpp",)

    def generated_files(self) -> tuple[tuple[str, str], ...]:
        return (("edgecnn_tflm_config.h.j2", "include/edgecnn_tflm_config.h"),)

    def template_context(self, board: Board, analysis) -> TflmContext:
        lib = library(board)
        return TflmContext(
            title=f"{self.title} ({lib.library}, {lib.kernels} kernels)", kernels=lib.kernels,
            library=lib.library, library_version=lib.version, lib_deps=tuple(lib.lib_deps),
            header=lib.header,
            api_2022=lib.api == "error-reporter-2022", op_events=lib.op_profiler,
            ops=tuple(OpRegistration(name, lib.ops[name]) for name, _ in analysis.ops))

    def reference(self, model_bytes: bytes):
        from ..tflm_host import HostInterpreter

        return HostInterpreter(model_bytes)

    def cross_build(self, project, cpu: list[str], build, library=None
                    ) -> tuple[list[str], list[str]]:
        """(libraries, compiler flags) the firmware links with on a bare-metal target: the
        board's TFLM library, compiled from the user's checkout (``library``)."""
        from .tflm_library import find_tflm_library, tflm_archive, tflm_includes

        src = find_tflm_library(project, library)
        return [str(tflm_archive(src, cpu, build))], tflm_includes(src)

    def library_entry(self, board: Board) -> tuple[str, str, tuple[str, ...]]:
        """(name, version, PlatformIO lib_deps) of the library the firmware is built with."""
        lib = library(board)
        return lib.library, lib.version, tuple(lib.lib_deps)

    def describe_plan(self, model) -> None:
        """TFLM plans at run time (its allocator); `analyze` measures that arena itself."""
        return None

    def host_build(self, project) -> HostBuild:
        """The board's TFLM library cannot be compiled here: the firmware's Invoke() goes
        through a pipe to TFLM's host interpreter (``runtimes/tflm_bridge.py``)."""
        import sys

        return HostBuild(
            kernels="tflm-host-reference",
            clock="host CLOCK_MONOTONIC around the firmware's Invoke(), which a pipe forwards "
                  "to TFLM's host interpreter (tflite-micro): host timings, not the board's",
            arena="virtual: host TFLM recording allocator, corrected to 32-bit, from the build",
            sources=("edgecnn_runtime_tflm_bridge.cpp",),
            helper=(sys.executable, "-m", "edgecnn.runtimes.tflm_bridge",
                    str(project.path / "model" / "model.tflite")))


def kernel_scratch_bytes(layer, kernels: str) -> int:
    """Scratch buffer an optimized kernel requests for one int8 layer (0 for reference kernels).

    CMSIS-NN as bundled with the Nano's library (7948b85; Cortex-M4 with DSP, no MVE), from its
    ``*_get_buffer_size`` functions as TFLM's cmsis_nn kernels call them:
    CONV_2D: a 1x1 kernel with stride 1 none (arm_convolve_1x1_s8_fast), otherwise
    2 * in_ch * kh * kw int16 values (arm_convolve_s8 / 1_x_n); DEPTHWISE_CONV_2D with depth
    multiplier 1: in_ch * kh * kw int16 values, 3x3 included (arm_depthwise_conv_s8_opt);
    AVERAGE_POOL_2D: in_ch int32 values. FULLY_CONNECTED and the rest: none.
    """
    if kernels != "cmsis-nn" or not layer.input_shape or not layer.kernel:
        return 0
    in_ch = layer.input_shape[-1]
    kh, kw = layer.kernel
    if layer.op == "CONV_2D":
        return 0 if (kh, kw) == (1, 1) and tuple(layer.stride or (1, 1)) == (1, 1) \
            else 2 * in_ch * kh * kw * 2
    if layer.op == "DEPTHWISE_CONV_2D":
        return in_ch * kh * kw * 2 if layer.output_shape[-1] == in_ch else 0
    if layer.op == "AVERAGE_POOL_2D":
        return in_ch * 4
    return 0


def plan_arena(analysis, board: Board, margin: float = ARENA_MARGIN) -> ArenaPlan:
    """The tensor arena ``board``'s TFLM library needs for ``analysis``'s model."""
    if analysis.arena is None:
        raise ValueError("analysis was made without the arena measurement")
    scratch = [(kernel_scratch_bytes(r, library(board).kernels), r.name) for r in analysis.layers]
    biggest, where = max(scratch, default=(0, ""))
    need = analysis.arena.device_32bit + biggest
    allocated = int(math.ceil(need * (1 + margin) / 16.0)) * 16
    kernels = library(board).kernels
    return ArenaPlan(
        device_need_bytes=need, allocated_bytes=allocated,
        parts=(PlanPart(f"TFLM recording allocator with 32-bit structs (this host: "
                        f"{analysis.arena.host.total:,} B)", analysis.arena.device_32bit),
               PlanPart(f"{kernels} scratch", biggest)),
        scratch_bytes=biggest, scratch_layer=where.split(";")[0] if biggest else "",
        margin=margin, kernels=kernels,
        method="device need = TFLM's recording allocator run on this host with 32-bit struct "
               "sizes + the largest scratch buffer the board's optimized kernels request; "
               "allocated = need + margin, rounded up to 16 bytes")

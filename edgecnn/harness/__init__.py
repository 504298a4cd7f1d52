"""The measuring half of edgecnn: the serial harness, its reports and the virtual board.

Kept apart as PlatformIO keeps its test runner apart: ``protocol`` (line format), ``link``
(pyserial, ports, resets), ``bench`` (what is measured), ``report`` (files), ``virtual_board``.
"""
from .bench import BenchReport, bench
from .link import SerialLink, find_port
from .project import Project, load_project
from .targets import SerialBoard, Target, VirtualTarget, open_target
from .virtual_board import Faults, VirtualBoard

__all__ = ["BenchReport", "bench", "SerialLink", "find_port", "Project", "load_project",
           "Faults", "VirtualBoard", "Target", "SerialBoard", "VirtualTarget", "open_target"]

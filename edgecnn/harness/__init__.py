"""The measuring half of edgecnn: the serial harness, its targets and its reports.

Kept apart as PlatformIO keeps its test runner apart: ``protocol`` (line format), ``link``
(pyserial, ports, resets), ``targets`` (what runs the firmware: a board, the virtual board,
the emulator), ``faults`` (a faulty line in front of any of them), ``bench`` (what is
measured), ``report`` (files).
"""
from .bench import BenchReport, bench
from .faults import FaultProxy, Faults
from .hostfirmware import HostFirmware
from .link import SerialLink, find_port
from .project import Project, load_project
from .targets import SerialBoard, Target, open_target

__all__ = ["BenchReport", "bench", "SerialLink", "find_port", "Project", "load_project",
           "Faults", "FaultProxy", "HostFirmware", "Target", "SerialBoard", "open_target"]

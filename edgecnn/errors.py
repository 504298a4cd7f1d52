"""Typed errors. Each carries the one line the user sees; the CLI prints it and exits 2."""


class EdgecnnError(Exception):
    """Base class: ``str(error)`` is a complete, actionable sentence."""

    exit_code = 2


class OptionError(EdgecnnError):
    """An option value edgecnn cannot use."""


class DatasetError(EdgecnnError):
    """A data set is unknown, unreadable, empty or inconsistent."""


class ModelFileError(EdgecnnError):
    """A .tflite or .keras file is missing, empty, truncated or not a model."""


class ArchitectureError(EdgecnnError):
    """An unknown architecture, or parameters it cannot take."""


class WeightsError(EdgecnnError):
    """Pretrained weights are unavailable (offline, no cache) or do not fit the model."""


class ShapeMismatchError(EdgecnnError):
    """A model's input shape does not match the data it is given."""


class BoardError(EdgecnnError):
    """An unknown board name, or a board file that does not validate."""


class FitError(EdgecnnError):
    """The model does not fit the board (flash or RAM), with numbers and options."""


class UnsupportedModelError(EdgecnnError):
    """The model uses ops or types the board's TFLite Micro library cannot run."""


class OutputExistsError(EdgecnnError):
    """An output path exists and edgecnn will not overwrite it."""


class ToolMissingError(EdgecnnError):
    """An external tool (PlatformIO, a compiler) is not installed."""


class ProjectError(EdgecnnError):
    """A folder is not a project written by ``edgecnn build``, or lacks a file the step needs."""


class FlashError(EdgecnnError):
    """PlatformIO could not build or upload the project."""


class DeviceError(EdgecnnError):
    """The board misbehaved on the serial link. A partial report may have been saved."""

    # set by the harness when it saved what was measured before the failure
    report_path: str | None = None


class OutputMismatchError(EdgecnnError):
    """The board's outputs differ from the host reference: what runs there is not what edgecnn
    verified. Its own exit status, so that scripts and CI can tell it from bad input."""

    exit_code = 3


class IncompleteRunError(DeviceError):
    """The board answered, but less than the run asked for arrived: the report holds only
    what was seen and says ``"status": "incomplete"``."""


class PortError(DeviceError):
    """The serial port is missing, busy, not permitted, or disappeared."""


class DeviceTimeoutError(DeviceError):
    """The board stopped answering."""


class ModelMismatchError(DeviceError):
    """The board runs a different model from the project's."""


class ProtocolError(DeviceError):
    """The board answered something the harness cannot use (wrong firmware or protocol)."""


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP during a long command: handled like Ctrl-C (partial results are
    saved), then the process exits with 128 + the signal number."""

    def __init__(self, signum: int, name: str):
        super().__init__(name)
        self.signum, self.name = signum, name

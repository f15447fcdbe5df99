"""Evidence of a run, written while it runs and checked afterwards: the
recorder, telemetry, the environment snapshot and the validator."""

from nairrcore.evidence import track
from nairrcore.evidence.recorder import RunRecorder, outputs_root
from nairrcore.evidence.validate import validate_run

__all__ = ["RunRecorder", "outputs_root", "track", "validate_run"]

"""Evidence of a run: what ran, where, how fast, and what it scored."""

from nairrcore.evidence.platforms import check_platform, load_platforms, run_cost
from nairrcore.evidence.recorder import RunRecorder
from nairrcore.evidence.validate import validate_run

__all__ = ["RunRecorder", "check_platform", "load_platforms", "run_cost", "validate_run"]

"""Evidence of a run: what ran, where, how fast, and what it scored."""

from nairrcore.evidence.platforms import PLATFORMS, check_platform
from nairrcore.evidence.recorder import RunRecorder

__all__ = ["PLATFORMS", "RunRecorder", "check_platform"]

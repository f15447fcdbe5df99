"""Around the training loops: checkpoints and preemption, the shared fit
body (resume, progress, recorder phases, divergence), profiling, and a
Python-step trainer for models of your own."""

from nairrcore.training.checkpoint import CheckpointManager, Preempted, PreemptionGuard
from nairrcore.training.fit import TrainingDiverged, run_fit
from nairrcore.settings import RunOptions
from nairrcore.training.model_trainer import ModelSettings, ModelTrainer, TensorData, TensorSplit
from nairrcore.training.profiler import StepProfiler

__all__ = ["CheckpointManager", "ModelSettings", "ModelTrainer", "Preempted", "PreemptionGuard", "StepProfiler",
           "RunOptions", "TensorData", "TensorSplit", "TrainingDiverged", "run_fit"]

"""Your own model on nairrcore: any ``torch.nn.Module`` trained on (x, y)
tensors with nairrcore's loader (C++ threads, seeded shuffle, rows resident
on the GPU when they fit), AMP, a fused optimiser, and the same ``fit`` as
the built-in workloads (recorder phases, checkpoints that resume bit for
bit, preemption, a stop on divergence). The step itself runs in Python.

Settings come from a ``ModelSettings`` subclass of your own (add your model's
fields to it), so ``nairrcore run``/``--param`` and the recorded run
configuration work for your workload as for the built-in ones.
"""

from __future__ import annotations

import io
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from nairrcore.data.fingerprint import fingerprint_blobs
from nairrcore.errors import ConfigError
from nairrcore.files import save_torch
from nairrcore.loaders import TabularLoader
from nairrcore.settings import RunOptions, Settings, check, enable_tf32, setting
from nairrcore.training.fit import run_fit
from nairrcore.training.metrics import with_empty_note


@dataclass(frozen=True)
class ModelSettings(Settings):
    """The training settings ModelTrainer reads; subclass it to add your own."""

    epochs: int = setting(10, "epochs", "passes over the training rows")
    batch_size: int = setting(1024, "rows", "rows per batch")
    lr: float = setting(1e-3, "per step", "learning rate")
    weight_decay: float = setting(0.0, "", "decoupled weight decay (AdamW) or L2 (SGD)")
    optimizer: str = setting("adamw", "", "adamw or sgd")
    momentum: float = setting(0.9, "", "SGD momentum")
    loss: str = setting("mse", "", "mse, smooth_l1 or cross_entropy")
    seed: int = setting(42, "", "seed of initialisation and shuffling")
    device: str = setting("auto", "", "auto, cpu, cuda or cuda:N")
    precision: str = setting("auto", "", "auto, fp32, bf16 or fp16")
    data_on_device: bool | None = setting(None, "", "GPU: keep the rows on the device (None: when they fit)")
    workers: int = setting(1, "threads", "loader threads when the rows are streamed")
    eval_batch_size: int = setting(65536, "rows", "rows per batch when evaluating")

    def validated(self):
        check([
            ("epochs", self.epochs >= 0, "expected >= 0", self.epochs),
            ("batch_size", self.batch_size >= 1, "expected >= 1", self.batch_size),
            ("lr", 0 < self.lr < float("inf"), "expected a finite value > 0", self.lr),
            ("optimizer", self.optimizer in ("adamw", "sgd"), "expected adamw or sgd", self.optimizer),
            ("loss", self.loss in LOSSES, f"expected one of {sorted(LOSSES)}", self.loss),
            ("precision", self.precision in ("auto", "fp32", "bf16", "fp16"), "expected auto, fp32, bf16 or fp16",
             self.precision),
        ])
        return self


LOSSES = {"mse": torch.nn.functional.mse_loss, "smooth_l1": torch.nn.functional.smooth_l1_loss,
          "cross_entropy": torch.nn.functional.cross_entropy}


@dataclass(frozen=True)
class TensorSplit:
    x: torch.Tensor  # [n, features] float32
    y: torch.Tensor  # [n, outputs] float32, or [n] int64 class labels

    def __len__(self) -> int:
        return self.x.shape[0]


@dataclass
class TensorData:
    """Train, validation and test tensors, with a fingerprint of their contents."""

    train: TensorSplit
    val: TensorSplit
    test: TensorSplit
    prep_seconds: float = 0.0
    source: str = "tensors"

    @property
    def fingerprint(self) -> dict:
        blobs = [(f"{name}.{part}", getattr(getattr(self, name), part).contiguous().numpy().tobytes())
                 for name in ("train", "val", "test") for part in ("x", "y")]
        fp = fingerprint_blobs(blobs)
        fp.update(rows={name: len(getattr(self, name)) for name in ("train", "val", "test")})
        return fp

    def summary(self) -> dict:
        return {"source": self.source, "rows": {n: len(getattr(self, n)) for n in ("train", "val", "test")},
                "features": int(self.train.x.shape[1]), "prep_seconds": round(self.prep_seconds, 3)}


def _fresh_partial() -> dict:
    return {"loss_total": 0.0, "samples": 0, "train_sec": 0.0, "nonfinite": 0, "nonfinite_samples": 0}


class _PythonLoop:
    """The loop's position and state, as run_fit drives it (LoopHandle)."""

    cuda_graphs = "off: a Python step"

    def __init__(self, trainer: "ModelTrainer") -> None:
        self.t = trainer
        self.epochs_done = 0
        self.next_batch = 0
        self.partial = _fresh_partial()

    def save_state(self) -> bytes:
        buf = io.BytesIO()
        torch.save({"model": self.t.model.state_dict(), "optimizer": self.t.optimizer.state_dict(),
                    "scaler": self.t.scaler.state_dict(), "epochs_done": self.epochs_done,
                    "next_batch": self.next_batch, "partial": dict(self.partial)}, buf)
        return buf.getvalue()

    def load_state(self, blob: bytes) -> None:
        state = torch.load(io.BytesIO(blob), map_location=self.t.device, weights_only=False)
        self.t.model.load_state_dict(state["model"])
        self.t.optimizer.load_state_dict(state["optimizer"])
        self.t.scaler.load_state_dict(state["scaler"])
        self.epochs_done, self.next_batch = state["epochs_done"], state["next_batch"]
        self.partial = state["partial"]


class ModelTrainer:
    """``model`` trained as ``settings`` (a ModelSettings) say."""

    def __init__(self, model: torch.nn.Module, settings: ModelSettings, workload: str = "model",
                 options: RunOptions | None = None) -> None:
        self.config = settings.validated()
        self.workload = workload
        self.options = options or RunOptions.from_env()
        self.device = settings.resolve_device()
        self.precision = settings.resolve_precision(self.device)
        self.tf32 = enable_tf32(self.device)
        torch.manual_seed(settings.seed)
        self.model = model.to(self.device)
        if settings.optimizer == "adamw":
            self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=settings.lr,
                                               weight_decay=settings.weight_decay, fused=True)
        else:
            self.optimizer = torch.optim.SGD(self.model.parameters(), lr=settings.lr, momentum=settings.momentum,
                                             weight_decay=settings.weight_decay, fused=True)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.precision == "fp16")
        self.loss_fn = LOSSES[settings.loss]
        self.history: list[dict] = []
        self._loop = _PythonLoop(self)

    @property
    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    @property
    def cuda_graphs(self) -> str:
        return _PythonLoop.cuda_graphs

    def core_settings(self) -> dict:
        """Settings the C++ core received: none, the step runs in Python."""
        return {}

    def _autocast(self):
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.precision)
        return torch.autocast(self.device.type, dtype=dtype or torch.float32, enabled=dtype is not None)

    def _loader(self, split: TensorSplit) -> TabularLoader:
        c = self.config
        y = split.y if split.y.dim() == 2 else split.y.unsqueeze(1)
        resident = self.device.type == "cuda" and (c.data_on_device if c.data_on_device is not None else
                                                  split.x.nbytes < 0.5 * torch.cuda.mem_get_info(self.device)[0])
        x, y = split.x.float().contiguous(), y.float().contiguous()
        if resident:
            x, y = x.to(self.device), y.to(self.device)
        return TabularLoader(x, y, batch_size=c.batch_size, device=self.device, seed=c.seed,
                             workers=0 if resident else max(c.workers, 1))

    def _target(self, y: torch.Tensor) -> torch.Tensor:
        return y.squeeze(1).long() if self.config.loss == "cross_entropy" else y

    def fit(self, data: TensorData, on_epoch=None, progress: bool = False, recorder=None) -> list[dict]:
        if len(data.train) < self.config.batch_size:
            raise ConfigError(f"batch_size: {self.config.batch_size} is larger than the {len(data.train)} "
                              "training rows")
        loader = self._loader(data.train)

        def fit_call(epoch_hook, step_hook, every):
            self._epochs(loader, data.val, epoch_hook, step_hook, every)

        return run_fit(self, self.workload, self._loop, fit_call, total_epochs=self.config.epochs,
                       dataset=data.fingerprint, on_epoch=on_epoch, progress=progress, recorder=recorder,
                       postfix=lambda d: dict(train=f"{d['train_loss']:.4g}",
                                                                 val=f"{d['val_loss']:.4g}"))

    def _epochs(self, loader: TabularLoader, val: TensorSplit, epoch_hook, step_hook, every: int) -> None:
        loop, batches = self._loop, len(loader)
        for epoch in range(loop.epochs_done, self.config.epochs):
            if loop.next_batch == 0:
                loop.partial = _fresh_partial()
            loader.load_state_dict({"seed": self.config.seed, "epoch": epoch, "next_batch": loop.next_batch})
            self.model.train()
            # [loss x rows of finite batches, batches and rows with an inf/NaN loss]: on the device
            sums = torch.zeros(3, dtype=torch.float64, device=self.device)
            samples, t0 = 0, time.perf_counter()
            for batch, (x, y) in enumerate(loader, start=loop.next_batch):
                with self._autocast():
                    loss = self.loss_fn(self.model(x).float(), self._target(y))
                self.optimizer.zero_grad(set_to_none=True)
                self.scaler.scale(loss).backward()
                self.scaler.step(self.optimizer)
                self.scaler.update()
                value = loss.detach().double()
                bad = (~torch.isfinite(value)).double()
                sums += torch.stack([torch.nan_to_num(value * len(x)) * (1 - bad), bad, bad * len(x)])
                samples += len(x)
                loop.next_batch = batch + 1
                if step_hook is not None and (batch + 1 in (1, batches) or (batch + 1) % every == 0):
                    step_hook(epoch, batch + 1, batches)
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            p = loop.partial
            loss_total, bad_batches, bad_rows = sums.tolist()
            p["train_sec"] += time.perf_counter() - t0
            p["loss_total"] += loss_total
            p["samples"] += samples
            p["nonfinite"] += int(bad_batches)
            p["nonfinite_samples"] += int(bad_rows)
            t1 = time.perf_counter()
            val_loss = self.loss(val) if len(val) else math.nan
            counted = p["samples"] - p["nonfinite_samples"]
            d = {"epoch": epoch, "train_loss": p["loss_total"] / counted if counted else math.nan,
                 "val_loss": val_loss, "train_sec": p["train_sec"], "val_sec": time.perf_counter() - t1,
                 "train_samples": p["samples"], "samples_per_sec": p["samples"] / max(p["train_sec"], 1e-12),
                 "data_wait_sec": 0.0, "loss_scale": float(self.scaler.get_scale()) if self.scaler.is_enabled()
                 else 1.0, "skipped_steps": 0, "nonfinite_losses": p["nonfinite"], "val_samples": len(val)}
            d["epoch_sec"] = d["train_sec"] + d["val_sec"]
            loop.epochs_done, loop.next_batch = epoch + 1, 0
            epoch_hook(d)

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        self.model.eval()
        out = []
        for i in range(0, len(x), self.config.eval_batch_size):
            with self._autocast():
                out.append(self.model(x[i:i + self.config.eval_batch_size].float().to(self.device)).float().cpu())
        return torch.cat(out) if out else torch.empty(0)

    def loss(self, split: TensorSplit) -> float:
        pred = self.predict(split.x)
        return float(self.loss_fn(pred, self._target(split.y if split.y.dim() == 2 else split.y.unsqueeze(1))))

    def evaluate(self, split: TensorSplit) -> dict:
        """Regression: MAE, RMSE and MSE per output and overall; classification
        (cross_entropy): top-1 accuracy and loss."""
        if len(split) == 0:
            return with_empty_note(self._undefined(split), 0, "rows")
        pred = self.predict(split.x)
        if self.config.loss == "cross_entropy":
            y = split.y.long().view(-1)
            return {"rows": len(split), "accuracy": float((pred.argmax(1) == y).double().mean()),
                    "loss": float(torch.nn.functional.cross_entropy(pred, y))}
        y = split.y.float().view(len(split), -1)
        err = (pred.view_as(y) - y).double()
        return {"rows": len(split), "mae": err.abs().mean(0).tolist(), "rmse": err.pow(2).mean(0).sqrt().tolist(),
                "mae_all": float(err.abs().mean()), "rmse_all": float(err.pow(2).mean().sqrt()),
                "mse_all": float(err.pow(2).mean())}

    def _undefined(self, split: TensorSplit) -> dict:
        """Every metric of ``evaluate`` as NaN, for a split with no rows."""
        nan = float("nan")
        if self.config.loss == "cross_entropy":
            return {"rows": 0, "accuracy": nan, "loss": nan}
        outputs = split.y.shape[1] if split.y.dim() > 1 else 1
        return {"rows": 0, "mae": [nan] * outputs, "rmse": [nan] * outputs, "mae_all": nan, "rmse_all": nan,
                "mse_all": nan}

    def state_dict(self) -> dict:
        return {k: v.detach().cpu() for k, v in self.model.state_dict().items()}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state)

    def save(self, path) -> Path:
        return save_torch({"state_dict": self.state_dict(), "config": self.config.as_dict(),
                           "workload": self.workload}, path)

"""The current public time-to-94% CIFAR-10 recipe (hiverge's cifar10-speedrun,
94.01% mean in about 2 s on an A100) rebuilt in plain PyTorch, so that
nairrcore's fast net is timed against it on the same GPU in the same session.
What it changes from airbench94 (bench/fast_recipe.py, whose loader, whitening
and crops it shares):

- the filters are trained by Muon: momentum in fp16, every filter's update
  orthogonalised by a quintic Newton-Schulz iteration run on all filters at
  once (each reshaped to [out, in*k*k] and zero-padded to one shape), each
  filter's weights rescaled to norm sqrt(out) every ``norm_every`` steps,
  decoupled weight decay; the whitening bias, BatchNorm biases and the head
  by SGD with Nesterov momentum;
- SiLU in the conv groups, batch 1536, 7.8 epochs, linear decay to zero (the
  whitening bias over its first 0.3 epochs), label smoothing 0.1 summed;
- per-epoch brightness and contrast jitter on top of flips and translations;
- test-time augmentation only for the 15% least confident test images (six
  views: the image and two one-pixel translations, each mirrored);
- the step and the augmentation compiled (``torch.compile``) on a GPU.

The recipe times whitening, training and its test-time evaluation together
(``recipe_seconds``); ``train_seconds`` leaves the evaluation out, as the
other side of the comparison does. On the CPU it runs in fp32, uncompiled.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from fast_recipe import ConvGroup, Loader, _sync, init_whitening_conv


@dataclass
class Hyper:
    train_epochs: float = 7.8
    batch_size: int = 1536
    whiten_bias_epochs: float = 0.3
    bias_lr: float = 0.05          # whitening and BatchNorm biases
    head_lr: float = 0.7
    sgd_momentum: float = 0.85
    filter_lr: float = 0.2         # Muon
    filter_momentum: float = 0.65
    norm_every: int = 4            # filters rescaled to norm sqrt(out) this often
    weight_decay: float = 1.2e-6   # per example: times the batch size
    label_smoothing: float = 0.1
    batchnorm_momentum: float = 0.58
    widths: tuple[int, int, int] = (64, 256, 256)
    translate: int = 2
    brightness: float = 0.15
    contrast: float = 0.15
    uncertain_fraction: float = 0.15  # test images that get test-time augmentation
    whiten_images: int = 1024


class Net(nn.Module):
    def __init__(self, h: Hyper):
        super().__init__()
        w1, w2, w3 = h.widths
        whiten_width = 2 * 3 * 2 ** 2
        self.whiten = nn.Conv2d(3, whiten_width, 2, padding=0, bias=True)
        self.whiten.weight.requires_grad = False
        m = h.batchnorm_momentum
        self.layers = nn.Sequential(nn.GELU(), ConvGroup(whiten_width, w1, m, nn.SiLU), ConvGroup(w1, w2, m, nn.SiLU),
                                    ConvGroup(w2, w3, m, nn.SiLU), nn.MaxPool2d(3))
        self.head = nn.Linear(w3, 10, bias=False)
        self.whiten_bias_trains = True

    def reset(self) -> None:
        for m in self.modules():
            if m is not self and hasattr(m, "reset_parameters"):
                m.reset_parameters()
        self.head.weight.data /= self.head.weight.data.std()

    def forward(self, x):
        bias = self.whiten.bias if self.whiten_bias_trains else self.whiten.bias.detach()
        x = self.layers(F.conv2d(x, self.whiten.weight, bias)).flatten(1)
        return self.head(x) / x.size(-1)


def newton_schulz(grads: list[torch.Tensor], rows: int, cols: int) -> list[torch.Tensor]:
    """Each gradient as [out, rest], zero-padded to [rows, cols], normalised
    and orthogonalised together by three quintic Newton-Schulz steps."""
    a, b, c = 3.4445, -4.775, 2.0315
    x = torch.stack([F.pad(g.reshape(len(g), -1), (0, cols - g[0].numel(), 0, rows - len(g))) for g in grads])
    x = x / (x.norm(dim=(1, 2), keepdim=True) + 1e-5)
    wide = x.size(1) <= x.size(2)
    x = x if wide else x.transpose(1, 2)
    for _ in range(3):
        gram = x @ x.transpose(1, 2)
        x = a * x + (b * gram + c * gram @ gram) @ x
    x = x if wide else x.transpose(1, 2)
    return [x[i, :len(g), :g[0].numel()].reshape(g.shape) for i, g in enumerate(grads)]


class Muon:
    """Nesterov momentum (buffers in fp16) on the filters, orthogonalised
    updates, a periodic rescale of each filter to norm sqrt(out), and
    decoupled weight decay."""

    def __init__(self, filters: list[torch.Tensor], lr: float, momentum: float, weight_decay: float,
                 norm_every: int):
        self.filters, self.lr, self.initial_lr = filters, lr, lr
        self.momentum, self.weight_decay, self.norm_every = momentum, weight_decay, norm_every
        self.buffers = [torch.zeros_like(p, dtype=torch.half) for p in filters]
        self.rows = max(len(p) for p in filters)
        self.cols = (max(p[0].numel() for p in filters) + 15) // 16 * 16
        self.steps = 0

    @torch.no_grad()
    def step(self) -> None:
        self.steps += 1
        grads = [p.grad for p in self.filters]
        torch._foreach_mul_(self.buffers, self.momentum)
        torch._foreach_add_(self.buffers, [g.half() for g in grads])
        nesterov = torch._foreach_add(grads, self.buffers, alpha=self.momentum)
        if self.norm_every and self.steps % self.norm_every == 0:
            norms = torch._foreach_norm(self.filters)
            torch._foreach_mul_(self.filters, [(len(p) ** 0.5 / (n + 1e-7)).to(p.dtype)
                                               for p, n in zip(self.filters, norms)])
        updates = newton_schulz([g.to(p.dtype) for g, p in zip(nesterov, self.filters)], self.rows, self.cols)
        torch._foreach_add_(self.filters, updates, alpha=-self.lr)
        torch._foreach_mul_(self.filters, 1 - self.lr * self.weight_decay)

    def zero_grad(self) -> None:
        for p in self.filters:
            p.grad = None


def color_jitter(x: torch.Tensor, brightness: float, contrast: float) -> torch.Tensor:
    shift = (torch.rand(len(x), 1, 1, 1, device=x.device, dtype=x.dtype) * 2 - 1) * brightness
    scale = (torch.rand(len(x), 1, 1, 1, device=x.device, dtype=x.dtype) * 2 - 1) * contrast + 1
    return (x + shift) * scale


class JitterLoader(Loader):
    """airbench94's loader, each epoch's images jittered in brightness and contrast."""

    def __init__(self, *args, brightness: float, contrast: float, **kwargs):
        super().__init__(*args, **kwargs)
        self.brightness, self.contrast = brightness, contrast

    def __iter__(self):
        for images, labels in super().__iter__():
            yield color_jitter(images, self.brightness, self.contrast), labels


def infer(net: nn.Module, images: torch.Tensor, uncertain_fraction: float) -> torch.Tensor:
    """Logits of every image; the least confident ``uncertain_fraction`` get
    the mean over six views instead (the image and its one-pixel translations
    to the top left and bottom right, each also mirrored)."""
    net.eval()
    with torch.no_grad():
        logits = torch.cat([net(x) for x in images.split(4000)])
        confidence = logits.float().softmax(1).amax(1)
        k = int(len(images) * uncertain_fraction)
        uncertain = confidence.topk(k, largest=False, sorted=False).indices
        for idx in uncertain.split(2500):
            x = images[idx]
            padded = F.pad(x, (1,) * 4, "reflect")
            views = torch.cat([x, padded[:, :, 0:32, 0:32], padded[:, :, 2:34, 2:34]])
            views = torch.cat([views, views.flip(-1)])
            logits[idx] = net(views).view(6, len(x), -1).mean(0).to(logits.dtype)
    return logits


def train(train_images: torch.Tensor, train_labels: torch.Tensor, test_images: torch.Tensor,
          test_labels: torch.Tensor, *, seed: int, device: torch.device, h: Hyper | None = None) -> dict:
    """One run of the recipe: TTA test accuracy, training seconds (whitening
    and steps) and the recipe's own seconds (evaluation included)."""
    h = h or Hyper()
    torch.manual_seed(seed)
    gpu = device.type == "cuda"
    dtype = torch.half if gpu else torch.float32
    loader = JitterLoader(train_images, train_labels, h.batch_size, dtype, device, train=True,
                          translate=h.translate, brightness=h.brightness, contrast=h.contrast)
    total_steps = math.ceil(h.train_epochs * len(loader))
    whiten_steps = math.ceil(h.whiten_bias_epochs * len(loader))
    net = Net(h).to(device=device, dtype=dtype).to(memory_format=torch.channels_last)
    net.reset()
    wd = h.weight_decay * h.batch_size
    norm_biases = [p for n, p in net.named_parameters() if "norm" in n and p.requires_grad]
    sgd = torch.optim.SGD([dict(params=[net.whiten.bias], lr=h.bias_lr, weight_decay=wd / h.bias_lr),
                           dict(params=norm_biases, lr=h.bias_lr, weight_decay=wd / h.bias_lr),
                           dict(params=[net.head.weight], lr=h.head_lr, weight_decay=wd / h.head_lr)],
                          momentum=h.sgd_momentum, nesterov=True)
    initial = [g["lr"] for g in sgd.param_groups]
    filters = [p for p in net.parameters() if p.ndim == 4 and p.requires_grad]
    muon = Muon(filters, h.filter_lr, h.filter_momentum, wd, h.norm_every)

    def step_fn(inputs, labels):
        loss = F.cross_entropy(net(inputs), labels, label_smoothing=h.label_smoothing, reduction="sum")
        loss.backward()

    step_fn = torch.compile(step_fn) if gpu else step_fn
    _sync(device)
    t0 = time.perf_counter()
    with torch.no_grad():
        init_whitening_conv(net.whiten, loader.normalize(loader.images[:h.whiten_images]))
    steps, epoch_seconds = 0, []
    for _ in range(math.ceil(total_steps / len(loader))):
        t_epoch = time.perf_counter()
        net.train()
        for inputs, labels in loader:
            net.whiten_bias_trains = steps < whiten_steps
            step_fn(inputs, labels)
            sgd.param_groups[0]["lr"] = initial[0] * (1 - steps / max(1, whiten_steps))
            for group, lr in zip(sgd.param_groups[1:], initial[1:]):
                group["lr"] = lr * (1 - steps / total_steps)
            muon.lr = muon.initial_lr * (1 - steps / total_steps)
            sgd.step()
            muon.step()
            sgd.zero_grad(set_to_none=True)
            muon.zero_grad()
            steps += 1
            if steps >= total_steps:
                break
        _sync(device)
        epoch_seconds.append(time.perf_counter() - t_epoch)
    _sync(device)
    train_seconds = time.perf_counter() - t0
    test = Loader(test_images, test_labels, 2000, dtype, device, train=False)
    logits = infer(net, test.normalize(test.images), h.uncertain_fraction)
    accuracy = (logits.argmax(1) == test.labels).float().mean().item()
    _sync(device)
    return {"seed": seed, "accuracy": accuracy, "train_seconds": train_seconds,
            "recipe_seconds": time.perf_counter() - t0, "epoch_seconds": epoch_seconds, "steps": steps,
            "precision": "fp16" if gpu else "fp32", "compiled": gpu}

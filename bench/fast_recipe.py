"""The public time-to-94% CIFAR-10 recipe (Keller Jordan's airbench94) in
plain PyTorch, kept faithful to it so nairrcore's fast net can be timed
against it on the same GPU in the same session: the network, whitening
initialisation, optimiser groups and learning-rate arithmetic, lookahead
schedule, alternating flips, translation by reflect-padded crops, and
test-time augmentation level 2 (mirror + one-pixel translations).

As published it runs the net in fp16 (BatchNorm in fp32) on a GPU; on the
CPU it runs in fp32. Images come in as uint8 [N, 3, 32, 32] tensors.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

CIFAR_MEAN = torch.tensor((0.4914, 0.4822, 0.4465))
CIFAR_STD = torch.tensor((0.2470, 0.2435, 0.2616))


@dataclass
class Hyper:
    train_epochs: float = 9.9
    batch_size: int = 1024
    lr: float = 11.5               # per 1024 examples
    momentum: float = 0.85
    weight_decay: float = 0.0153   # per 1024 examples, decoupled from the learning rate
    bias_scaler: float = 64.0      # learning-rate factor for BatchNorm biases
    label_smoothing: float = 0.2
    whiten_bias_epochs: int = 3
    translate: int = 2
    widths: tuple[int, int, int] = (64, 256, 256)
    batchnorm_momentum: float = 0.6
    scaling_factor: float = 1 / 9
    tta_level: int = 2
    extra: dict = field(default_factory=dict)


class BatchNorm(nn.BatchNorm2d):
    def __init__(self, num_features: int, momentum: float, eps: float = 1e-12):
        super().__init__(num_features, eps=eps, momentum=1 - momentum)
        self.weight.requires_grad = False


class Conv(nn.Conv2d):
    def __init__(self, cin: int, cout: int, kernel_size: int = 3, padding="same", bias: bool = False):
        super().__init__(cin, cout, kernel_size=kernel_size, padding=padding, bias=bias)

    def reset_parameters(self):
        super().reset_parameters()
        if self.bias is not None:
            self.bias.data.zero_()
        w = self.weight.data
        torch.nn.init.dirac_(w[: w.size(1)])


class ConvGroup(nn.Module):
    def __init__(self, cin: int, cout: int, momentum: float, activation: type[nn.Module] = nn.GELU):
        super().__init__()
        self.conv1, self.pool, self.norm1 = Conv(cin, cout), nn.MaxPool2d(2), BatchNorm(cout, momentum)
        self.conv2, self.norm2, self.activ = Conv(cout, cout), BatchNorm(cout, momentum), activation()

    def forward(self, x):
        x = self.activ(self.norm1(self.pool(self.conv1(x))))
        return self.activ(self.norm2(self.conv2(x)))


class Mul(nn.Module):
    def __init__(self, scale: float):
        super().__init__()
        self.scale = scale

    def forward(self, x):
        return x * self.scale


def make_net(h: Hyper, device: torch.device, dtype: torch.dtype) -> nn.Sequential:
    w1, w2, w3 = h.widths
    whiten_width = 2 * 3 * 2 ** 2
    net = nn.Sequential(
        Conv(3, whiten_width, 2, padding=0, bias=True), nn.GELU(),
        ConvGroup(whiten_width, w1, h.batchnorm_momentum), ConvGroup(w1, w2, h.batchnorm_momentum),
        ConvGroup(w2, w3, h.batchnorm_momentum),
        nn.MaxPool2d(3), nn.Flatten(), nn.Linear(w3, 10, bias=False), Mul(h.scaling_factor))
    net[0].weight.requires_grad = False
    net = net.to(device=device, dtype=dtype).to(memory_format=torch.channels_last)
    for m in net.modules():
        if isinstance(m, BatchNorm):
            m.float()
    return net


def init_whitening_conv(layer: nn.Conv2d, images: torch.Tensor, eps: float = 5e-4) -> None:
    c, (kh, kw) = images.shape[1], layer.weight.shape[2:]
    patches = images.unfold(2, kh, 1).unfold(3, kw, 1).transpose(1, 3).reshape(-1, c, kh, kw).float()
    flat = patches.view(len(patches), -1)
    cov = flat.T @ flat / len(flat)
    eigenvalues, eigenvectors = torch.linalg.eigh(cov, UPLO="U")
    eigenvalues = eigenvalues.flip(0).view(-1, 1, 1, 1)
    eigenvectors = eigenvectors.T.reshape(c * kh * kw, c, kh, kw).flip(0)
    scaled = eigenvectors / torch.sqrt(eigenvalues + eps)
    layer.weight.data[:] = torch.cat((scaled, -scaled)).to(layer.weight.dtype)


class Lookahead:
    def __init__(self, net: nn.Module):
        self.ema = {k: v.clone() for k, v in net.state_dict().items()}

    def update(self, net: nn.Module, decay: float) -> None:
        for ema, p in zip(self.ema.values(), net.state_dict().values()):
            if p.dtype in (torch.half, torch.float):
                ema.lerp_(p, 1 - decay)
                p.copy_(ema)


def batch_flip_lr(x: torch.Tensor) -> torch.Tensor:
    mask = (torch.rand(len(x), device=x.device) < 0.5).view(-1, 1, 1, 1)
    return torch.where(mask, x.flip(-1), x)


def batch_crop(padded: torch.Tensor, size: int) -> torch.Tensor:
    r = (padded.size(-1) - size) // 2
    shifts = torch.randint(-r, r + 1, size=(len(padded), 2), device=padded.device)
    out = torch.empty((len(padded), padded.size(1), size, size), device=padded.device, dtype=padded.dtype)
    for sy in range(-r, r + 1):
        for sx in range(-r, r + 1):
            m = (shifts[:, 0] == sy) & (shifts[:, 1] == sx)
            out[m] = padded[m, :, r + sy:r + sy + size, r + sx:r + sx + size]
    return out


class Loader:
    """The recipe's GPU-resident loader: normalise once, flip every image at
    random on the first epoch and all of them together every other epoch,
    random translation from reflect-padded copies, reshuffle per epoch."""

    def __init__(self, images_u8: torch.Tensor, labels: torch.Tensor, batch_size: int, dtype: torch.dtype,
                 device: torch.device, train: bool, translate: int = 0):
        self.images = (images_u8.to(device).to(dtype) / 255).contiguous(memory_format=torch.channels_last)
        self.labels = labels.to(device)
        self.batch_size, self.train, self.translate = batch_size, train, translate
        self.epoch, self.proc = 0, {}

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        mean = CIFAR_MEAN.to(x.device, x.dtype).view(1, 3, 1, 1)
        std = CIFAR_STD.to(x.device, x.dtype).view(1, 3, 1, 1)
        return (x - mean) / std

    def __len__(self) -> int:
        n = len(self.images)
        return n // self.batch_size if self.train else math.ceil(n / self.batch_size)

    def __iter__(self):
        if self.epoch == 0:
            images = self.proc["norm"] = self.normalize(self.images)
            if self.train:
                images = self.proc["flip"] = batch_flip_lr(images)
                if self.translate > 0:
                    self.proc["pad"] = F.pad(images, (self.translate,) * 4, "reflect")
        if self.train and self.translate > 0:
            images = batch_crop(self.proc["pad"], self.images.shape[-2])
        elif self.train:
            images = self.proc["flip"]
        else:
            images = self.proc["norm"]
        if self.train and self.epoch % 2 == 1:
            images = images.flip(-1)
        self.epoch += 1
        order = torch.randperm(len(images), device=images.device) if self.train else \
            torch.arange(len(images), device=images.device)
        for i in range(len(self)):
            idx = order[i * self.batch_size:(i + 1) * self.batch_size]
            yield images[idx], self.labels[idx]


def infer(net: nn.Module, images: torch.Tensor, tta_level: int) -> torch.Tensor:
    def mirror(x):
        return 0.5 * net(x) + 0.5 * net(x.flip(-1))

    def mirror_translate(x):
        logits = mirror(x)
        padded = F.pad(x, (1,) * 4, "reflect")
        shifted = [mirror(padded[:, :, 0:32, 0:32]), mirror(padded[:, :, 2:34, 2:34])]
        return 0.5 * logits + 0.5 * torch.stack(shifted).mean(0)

    fn = [lambda x: net(x), mirror, mirror_translate][tta_level]
    net.eval()
    with torch.no_grad():
        return torch.cat([fn(x) for x in images.split(2000)])


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train(train_images: torch.Tensor, train_labels: torch.Tensor, test_images: torch.Tensor,
          test_labels: torch.Tensor, *, seed: int, device: torch.device, h: Hyper | None = None) -> dict:
    """One run of the recipe; returns the TTA test accuracy and the training
    seconds (whitening initialisation and training steps, as the recipe times
    them: evaluation excluded)."""
    h = h or Hyper()
    torch.manual_seed(seed)
    dtype = torch.half if device.type == "cuda" else torch.float32
    kilostep_scale = 1024 * (1 + 1 / (1 - h.momentum))
    lr = h.lr / kilostep_scale
    wd = h.weight_decay * h.batch_size / kilostep_scale
    lr_biases = lr * h.bias_scaler
    loss_fn = nn.CrossEntropyLoss(label_smoothing=h.label_smoothing, reduction="none")
    loader = Loader(train_images, train_labels, h.batch_size, dtype, device, train=True, translate=h.translate)
    total_steps = math.ceil(len(loader) * h.train_epochs)
    net = make_net(h, device, dtype)
    norm_biases = [p for k, p in net.named_parameters() if "norm" in k and p.requires_grad]
    others = [p for k, p in net.named_parameters() if "norm" not in k and p.requires_grad]
    optimizer = torch.optim.SGD([dict(params=norm_biases, lr=lr_biases, weight_decay=wd / lr_biases),
                                 dict(params=others, lr=lr, weight_decay=wd / lr)],
                                momentum=h.momentum, nesterov=True)

    def lr_factor(step: int) -> float:
        warmup = int(total_steps * 0.23)
        if step < warmup:
            frac = step / warmup
            return 0.2 * (1 - frac) + 1.0 * frac
        frac = (step - warmup) / (total_steps - warmup)
        return 1.0 * (1 - frac) + 0.07 * frac

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
    alpha = 0.95 ** 5 * (torch.arange(total_steps + 1) / total_steps) ** 3
    lookahead = Lookahead(net)

    _sync(device)
    t0 = time.perf_counter()
    init_whitening_conv(net[0], loader.normalize(loader.images[:5000]))
    _sync(device)
    seconds, steps, epoch_seconds = time.perf_counter() - t0, 0, []
    for epoch in range(math.ceil(h.train_epochs)):
        net[0].bias.requires_grad = epoch < h.whiten_bias_epochs
        t0 = time.perf_counter()
        net.train()
        for inputs, labels in loader:
            loss = loss_fn(net(inputs), labels).sum()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            steps += 1
            if steps % 5 == 0:
                lookahead.update(net, decay=alpha[steps].item())
            if steps >= total_steps:
                lookahead.update(net, decay=1.0)
                break
        _sync(device)
        epoch_seconds.append(time.perf_counter() - t0)
        seconds += epoch_seconds[-1]
    test = Loader(test_images, test_labels, 2000, dtype, device, train=False)
    logits = infer(net, test.normalize(test.images), h.tta_level)
    accuracy = (logits.argmax(1) == test.labels).float().mean().item()
    return {"seed": seed, "accuracy": accuracy, "train_seconds": seconds, "epoch_seconds": epoch_seconds,
            "steps": steps, "precision": "fp16" if dtype == torch.half else "fp32"}

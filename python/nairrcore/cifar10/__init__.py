"""Workload 2: CIFAR-10 classification with ResNet-18 or a fast small net."""

from nairrcore.cifar10.config import CLASSES, RECIPES, Cifar10Config
from nairrcore.cifar10.dataset import Cifar10Data, ImageSet, load
from nairrcore.cifar10.trainer import Trainer, load_model

__all__ = ["CLASSES", "Cifar10Config", "Cifar10Data", "ImageSet", "RECIPES", "Trainer", "load", "load_model"]

"""Workload 2: CIFAR-10 classification with ResNet-18 or a fast small net."""

from nairrcore.cifar10.config import RECIPES, Cifar10Config
from nairrcore.cifar10.trainer import Trainer, load_model
from nairrcore.cifar10.workload import WORKLOAD
from nairrcore.data.cifar10 import CLASSES, Cifar10Data, ImageSet, load

__all__ = ["CLASSES", "Cifar10Config", "Cifar10Data", "ImageSet", "RECIPES", "Trainer", "WORKLOAD", "load",
           "load_model"]

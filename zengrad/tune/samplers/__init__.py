"""Samplers: how the next trial's parameters are chosen."""

from .base import BaseSampler
from .genetic import GeneticSampler
from .gp import GPSampler
from .grid import GridSampler
from .random import RandomSampler

__all__ = ["BaseSampler", "GPSampler", "GeneticSampler", "GridSampler", "RandomSampler"]

"""Reusable modules: MLPs, normalisers (and, as methods arrive, CNNs, GPTs, MPNNs, routers)."""

from anthology.nets.mlp import Standardizer, make_mlp

__all__ = ["Standardizer", "make_mlp"]

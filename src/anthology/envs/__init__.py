"""Environments and data generators: dynamical systems (and, as methods arrive, control, grids, NetHack)."""

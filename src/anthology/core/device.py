"""Device choice: CPU by default, CUDA when asked for and present."""

from __future__ import annotations

import torch

from anthology.core.errors import AnthologyError


def resolve_device(name: str = "cpu") -> torch.device:
    """'cpu', 'cuda', 'cuda:N' or 'auto' (CUDA when present, else CPU)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise AnthologyError(f"device '{name}' was asked for but no CUDA GPU is visible; use --device cpu")
    try:
        return torch.device(name)
    except RuntimeError as err:
        raise AnthologyError(f"unknown device '{name}'; use cpu, cuda, cuda:N or auto") from err


def require_cpu(name: str, what: str, why: str) -> torch.device:
    """For code that runs on the CPU only: the CPU for 'cpu' and 'auto', a one-line refusal for any other
    device (never a silent fallback), after the usual check that the device exists."""
    device = resolve_device(name)
    if name != "auto" and device.type != "cpu":
        raise AnthologyError(f"{what} runs on the CPU only ({why}); use --device cpu")
    return torch.device("cpu")

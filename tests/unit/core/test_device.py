import pytest
import torch

from anthology.core.device import resolve_device
from anthology.core.errors import AnthologyError


def test_cpu_is_the_default_and_auto_falls_back_to_it():
    assert resolve_device() == torch.device("cpu")
    assert resolve_device("auto") == torch.device("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown when no GPU is visible")
def test_asking_for_cuda_without_a_gpu_says_what_to_do():
    with pytest.raises(AnthologyError, match="use --device cpu"):
        resolve_device("cuda")


def test_unknown_device_is_a_user_error():
    with pytest.raises(AnthologyError, match="unknown device"):
        resolve_device("tpu9")

"""anthology: ten research methods in RL, generative design and robust/efficient deep learning."""

__version__ = "0.1.0"

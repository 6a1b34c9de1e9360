"""Text classification: locally generated tasks, tokenizers and a GPT-NeoX (Pythia) classifier."""

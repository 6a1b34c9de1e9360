"""The GPT-NeoX classifier matches Hugging Face's GPTNeoXForSequenceClassification on a random checkpoint
saved here, and loads it through the same path as a real Pythia folder."""

import json

import pytest
import torch

from anthology.core.errors import AnthologyError
from anthology.text.neox import NeoXClassifier, NeoXConfig, count_parameters, load_pretrained


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    cfg = transformers.GPTNeoXConfig(vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                     intermediate_size=96, rotary_pct=0.25, pad_token_id=0, num_labels=2,
                                     max_position_embeddings=64)
    model = transformers.GPTNeoXForSequenceClassification(cfg).eval()
    with torch.no_grad():  # non-trivial LayerNorm and bias values, so a mapping mistake shows
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    folder = tmp_path_factory.mktemp("pythia-tiny")
    model.save_pretrained(folder, safe_serialization=True)
    return folder, model


def test_logits_match_hugging_face_with_right_padding(checkpoint):
    folder, hf = checkpoint
    ours = load_pretrained(folder).eval()
    ids = torch.randint(1, 50, (3, 12))
    ids[1, 7:] = 0  # right padding: the head reads each row's last real token
    lengths = torch.tensor([12, 7, 12])
    with torch.no_grad():
        expected = hf(input_ids=ids).logits
        got = ours(ids, lengths)
        by_embeds = ours(lengths=lengths, embeds=ours.embedding(ids))
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(by_embeds, got)
    assert count_parameters(ours) == sum(p.numel() for p in hf.parameters())


def test_a_causal_lm_checkpoint_gets_a_fresh_head_and_other_models_are_refused(checkpoint, tmp_path):
    folder, _ = checkpoint
    config = json.loads((folder / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "model_type": "llama"}))
    (tmp_path / "model.safetensors").write_bytes((folder / "model.safetensors").read_bytes())
    with pytest.raises(AnthologyError, match="only GPT-NeoX"):
        load_pretrained(tmp_path)
    with pytest.raises(AnthologyError, match=r"config\.json and model\.safetensors"):
        load_pretrained(tmp_path / "nothing")


def test_rows_do_not_see_their_padding():
    torch.manual_seed(0)
    model = NeoXClassifier(NeoXConfig(vocab_size=20, hidden=16, layers=1, heads=2)).eval()
    ids = torch.randint(1, 20, (1, 6))
    padded = torch.cat([ids, torch.randint(1, 20, (1, 4))], dim=1)
    with torch.no_grad():
        torch.testing.assert_close(model(padded, torch.tensor([6])), model(ids))


def test_a_cached_prefix_gives_the_logits_of_the_whole_sequence():
    torch.manual_seed(0)
    model = NeoXClassifier(NeoXConfig(vocab_size=20, hidden=16, layers=2, heads=2, rotary_pct=0.5)).eval()
    prefix = torch.randint(1, 20, (1, 7))
    rest = torch.randint(1, 20, (5, 4))
    with torch.no_grad():
        whole = model(torch.cat([prefix.expand(5, -1), rest], dim=1))
        cached = model(rest, past=model.prefix(prefix))
    torch.testing.assert_close(cached, whole, atol=1e-5, rtol=1e-5)

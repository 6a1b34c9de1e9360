"""SMILES tokenizer: round trip on MOSES, preference tokens, clear errors, Hugging Face save/load."""

import importlib.util

import pytest

pytest.importorskip("tokenizers", reason="the llm extra is installed by make test")
if importlib.util.find_spec("moses") is None:
    pytest.skip("MOSES comes from the molsets wheel, installed by make test", allow_module_level=True)

from anthology.chem.data import moses_smiles
from anthology.chem.smiles_tokenizer import (
    UnknownSmilesTokenError,
    decode_smiles,
    encode_smiles,
    make_smiles_tokenizer,
    names_of,
    objectives_of,
    parse_weights,
    preference_prompt,
    prompt_ids,
    smiles_pieces,
)
from anthology.core.errors import AnthologyError

OBJECTIVES = ("qed", "sa", "tpsa", "seh")


@pytest.fixture(scope="module")
def corpus():
    return moses_smiles("train", limit=2000)


@pytest.fixture(scope="module")
def tokenizer(corpus):
    return make_smiles_tokenizer(OBJECTIVES, corpus)


def test_round_trip_on_moses_smiles(tokenizer, corpus):
    held_out = moses_smiles("test", limit=500)
    for smiles in corpus[:500] + held_out:
        ids = encode_smiles(tokenizer, smiles)
        assert ids[0] == tokenizer.bos_token_id and ids[-1] == tokenizer.eos_token_id
        assert decode_smiles(tokenizer, ids) == smiles
        assert "".join(smiles_pieces(smiles)) == smiles


def test_atoms_and_bonds_are_single_tokens(tokenizer):
    ids = encode_smiles(tokenizer, "ClC(=O)[nH]Br", eos=False)
    assert tokenizer.convert_ids_to_tokens(ids) == ["<s>", "Cl", "C", "(", "=", "O", ")", "[nH]", "Br"]


def test_unknown_character_is_a_clear_error(tokenizer):
    with pytest.raises(UnknownSmilesTokenError, match="unknown character 'X' at position 2"):
        encode_smiles(tokenizer, "CCX")
    with pytest.raises(UnknownSmilesTokenError, match=r"token '\[Xe\]'"):
        encode_smiles(tokenizer, "C[Xe]C")


def test_preference_prompt_is_one_token_per_objective(tokenizer):
    prompt = preference_prompt(OBJECTIVES, [0.7, 0.3, 0.0, 0.0])
    assert prompt == "<qed=0.70><sa=0.30><tpsa=0.00><seh=0.00><s>"
    ids = prompt_ids(tokenizer, prompt)
    assert tokenizer.convert_ids_to_tokens(ids) == ["<qed=0.70>", "<sa=0.30>", "<tpsa=0.00>", "<seh=0.00>", "<s>"]
    assert decode_smiles(tokenizer, [*ids, *encode_smiles(tokenizer, "CCO")[1:]]) == "CCO"
    assert objectives_of(tokenizer) == list(OBJECTIVES)
    with pytest.raises(AnthologyError, match="does not know"):
        prompt_ids(tokenizer, "<logp=0.50><s>")


def test_hugging_face_save_and_load_keep_the_vocabulary(tokenizer, tmp_path):
    from transformers import AutoTokenizer

    tokenizer.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    assert loaded.get_vocab() == tokenizer.get_vocab()
    assert loaded("<qed=0.50>CC(=O)O")["input_ids"] == tokenizer("<qed=0.50>CC(=O)O")["input_ids"]
    assert loaded.init_kwargs["objectives"] == list(OBJECTIVES)


def test_weights_from_the_command_line():
    assert parse_weights("qed=0.7,sa=0.3", OBJECTIVES) == {"qed": 0.7, "sa": 0.3, "tpsa": 0.0, "seh": 0.0}
    assert parse_weights("qed=2,seh=2", OBJECTIVES)["qed"] == 0.5
    assert parse_weights("qed=1e308,sa=1e308", OBJECTIVES)["qed"] == 0.5  # each finite, the sum overflows
    for bad, message in (("qed", "name=value"), ("logp=1", "unknown objective"), ("qed=x", "not a number"),
                         ("qed=-1", "negative"), ("qed=0", "positive"), ("qed=inf", "finite"),
                         ("qed=nan", "finite"), ("qed=1,qed=2", "named twice")):
        with pytest.raises(AnthologyError, match=message):
            parse_weights(bad, OBJECTIVES)


def test_other_names_get_tokens_but_are_not_objectives(tokenizer):
    other = make_smiles_tokenizer(OBJECTIVES, ["CCO"], other_names=("logp", "mw"))
    ids = prompt_ids(other, "<logp=0.62><mw=0.10><s>")
    assert other.convert_ids_to_tokens(ids) == ["<logp=0.62>", "<mw=0.10>", "<s>"]
    assert objectives_of(other) == list(OBJECTIVES) and names_of(other) == [*OBJECTIVES, "logp", "mw"]
    with pytest.raises(AnthologyError, match="does not know"):
        prompt_ids(tokenizer, "<logp=0.62><s>")

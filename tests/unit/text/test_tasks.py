"""The task generators follow the paper's label rules; splits are disjoint; user files load or fail in one line."""

import pytest

from anthology.core.errors import AnthologyError
from anthology.text.tasks import (
    ANSWER_PROMPT,
    Example,
    load_user_task,
    load_words,
    make_task,
    password_match,
    word_length,
    word_length_label,
)


def test_the_packaged_word_list_is_scowl_lowercase():
    words = load_words()
    assert len(words) == 63875 and all(w.isalpha() and w.islower() and w.isascii() for w in words)


def test_word_length_ties_go_to_first_and_every_label_follows_the_rule():
    assert word_length_label("cat", "dog") == 0 and word_length_label("cat", "door") == 1
    assert word_length_label("door", "cat") == 0
    task = word_length(load_words(), 2000, 500, seed=1)
    ties = 0
    for e in task.train + task.validation:
        first, second = (line.split(": ")[1] for line in e.content.split("\n")[:2])
        assert e.label == (0 if len(first) >= len(second) else 1)
        ties += len(first) == len(second)
    assert ties > 50  # the rule was exercised on ties


def test_word_length_splits_are_disjoint_pairs():
    task = word_length(["a", "bb", "ccc", "dddd", "eeeee", "ffffff"], 20, 10, seed=0)
    assert not {e.content for e in task.train} & {e.content for e in task.validation}


def test_password_match_labels_and_disjoint_system_passwords():
    task = password_match(load_words(), 1000, 400, seed=0)
    passwords = []
    for split in (task.train, task.validation):
        system = set()
        for e in split:
            s, u = (line.split(": ")[1] for line in e.content.split("\n")[:2])
            assert e.label == int(s == u)
            system.add(s)
        passwords.append(system)
        assert abs(sum(e.label for e in split) - len(split) / 2) <= 1  # one match and one mismatch per password
    assert not passwords[0] & passwords[1]
    assert task.label_names == (" DENIED", " GRANTED")


def test_generation_is_seeded():
    assert make_task("word_length", 50, 10, seed=3) == make_task("word_length", 50, 10, seed=3)
    assert make_task("word_length", 50, 10, seed=3) != make_task("word_length", 50, 10, seed=4)


def test_the_attack_goes_into_the_content_before_the_answer_prompt():
    e = Example("INSTR ", "Word 1: ab\nWord 2: cd\n---\n", 0)
    assert e.text("XX") == "INSTR Word 1: ab\nWord 2: cd\n---\nXX" + ANSWER_PROMPT
    assert e.text("XX", "prefix") == "INSTR XXWord 1: ab\nWord 2: cd\n---\n" + ANSWER_PROMPT
    cut = int(0.9 * len(e.content))
    assert e.text("XX", "infix", instructions=False) == e.content[:cut] + "XX" + e.content[cut:] + ANSWER_PROMPT


def test_user_files_load_and_bad_lines_are_one_line_errors(tmp_path):
    jsonl = tmp_path / "spam.jsonl"
    jsonl.write_text("\n".join(f'{{"text": "mail {i}", "label": {i % 2}}}' for i in range(10)))
    task = load_user_task(jsonl, 3)
    assert len(task.train) == 7 and len(task.validation) == 3 and task.name == "spam"
    tsv = tmp_path / "imdb.tsv"
    tsv.write_text("1\tgreat film\n0\tdull\n1\tfine\n")
    assert {e.label for e in load_user_task(tsv, 1).train + load_user_task(tsv, 1).validation} == {0, 1}
    tsv.write_text("2\tbad label\n0\tx\n")
    with pytest.raises(AnthologyError, match="label 2 is not 0 or 1"):
        load_user_task(tsv, 1)
    jsonl.write_text('{"txt": "x"}\n')
    with pytest.raises(AnthologyError, match="cannot read an example"):
        load_user_task(jsonl, 1)
    with pytest.raises(AnthologyError, match="no word list"):
        load_words(tmp_path / "missing.txt")

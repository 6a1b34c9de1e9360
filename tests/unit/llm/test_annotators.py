"""Preference annotators: the LLM verdict parser and its retry, the scripted rules, ties."""

from anthology.llm.annotators import ChatAnnotator, ScriptedAnnotator, load_prompt, parse_verdict


def test_the_verdict_parser_reads_the_last_verdict_and_none_is_a_tie():
    assert parse_verdict('Moment 1 shows gold. ("best_description": 1)') == 1.0
    assert parse_verdict('first ("best_description": 1) then ("best_description": 2)') == 0.0
    assert parse_verdict('("best_description": None)') == 0.5
    assert parse_verdict("I prefer the first one.") is None


class FakeClient:
    def __init__(self, answers):
        self.answers, self.seen = list(answers), []

    def complete(self, messages):
        self.seen.append(messages)
        return self.answers.pop(0)


def test_the_llm_annotator_retries_once_then_counts_a_tie():
    client = FakeClient(["hmm", '("best_description": 2)', "no idea", "still no idea"])
    labels = ChatAnnotator(client).annotate("collect gold", [("a", "b"), ("c", "d")])
    assert labels == [0.0, 0.5]
    assert len(client.seen) == 4 and "best_description" in client.seen[1][-1]["content"]
    assert "collect gold" in client.seen[0][0]["content"] and "Moment 1: a" in client.seen[0][0]["content"]


def test_scripted_rules_sum_weights_and_ties_are_half():
    annotator = ScriptedAnnotator({"g": [("gold", 1.0), ("see", 0.3)]})
    assert annotator.annotate("g", [("see gold", "gold"), ("x", "y"), ("see", "gold")]) == [1.0, 0.5, 0.0]


def test_the_preference_prompt_has_the_goal_and_both_captions():
    text = load_prompt("preference.txt")
    assert all(k in text for k in ("{goal}", "{first}", "{second}", "best_description"))

"""Metrics against hand-computed values and sacrebleu's own corpus scores."""

import pytest
from sacrebleu.metrics import BLEU

from slt.metrics import Scores, detect_tokenize, lcs_length, rouge_l, score, score_groups


def test_bleu_n_is_sacrebleu_with_max_order_n():
    s = score(["the cat sat on the mat"], ["the cat sat on a mat"], tokenize="13a")
    assert s.bleu1 == pytest.approx(100 * 5 / 6, abs=0.01)  # 5 of 6 unigrams match
    assert s.bleu2 == pytest.approx(100 * (5 / 6 * 3 / 5) ** 0.5, abs=0.01)  # 3 of 5 bigrams match
    assert s.rouge_l == pytest.approx(100 * 5 / 6, abs=0.01)  # LCS 5, precision = recall = 5/6
    hyps = ["he reads a book today", "we are not hungry", "where is the big dog"]
    refs = ["he reads the book today", "we are hungry", "where is the dog"]
    bleu4 = BLEU(tokenize="13a").corpus_score(hyps, [refs]).score
    assert score(hyps, refs, tokenize="13a").bleu4 == pytest.approx(bleu4, abs=0.01)
    assert "tok:13a" in s.signature and "chrF" in s.signature


def test_perfect_and_empty_hypotheses():
    refs = ["I am smart now.", "The father sometimes watches football."]
    perfect = score(refs, refs)
    assert (perfect.bleu1, perfect.bleu4, perfect.rouge_l, perfect.chrf) == (100.0, 100.0, 100.0, 100.0)
    empty = score(["", ""], refs)
    assert empty.bleu4 == 0.0 and empty.rouge_l == 0.0


def test_chinese_is_scored_per_character():
    assert detect_tokenize(["我爱北京", "今天很冷"]) == "zh"
    assert detect_tokenize(["Guten Morgen"]) == "13a"
    s = score(["我爱北京"], ["我爱上海"])
    assert "tok:zh" in s.signature
    assert s.bleu1 == pytest.approx(50.0)  # 2 of 4 characters
    assert s.rouge_l == pytest.approx(50.0)


def test_rouge_l_parts():
    assert lcs_length("a b c d".split(), "a c d b".split()) == 3
    assert rouge_l(["a"], ["b"]) == 0.0
    # precision 1, recall 1/2, beta 1.2: (1 + 1.44) * 0.5 / (0.5 + 1.44)
    assert rouge_l(["a"], ["a", "b"]) == pytest.approx(2.44 * 0.5 / 1.94)


def test_bad_input_and_round_trip():
    with pytest.raises(ValueError, match="2 hypotheses for 1 references"):
        score(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="unknown tokenization"):
        score(["a"], ["a"], tokenize="xx")
    s = score(["a b c d"], ["a b c e"])
    assert Scores.from_dict({**s.as_dict(), "clips": 1}) == s


def test_scores_per_signer_macro_average_and_worst():
    rows = [
        {"name": "a1", "reference": "the cat sat on the mat", "hypothesis": "the cat sat on the mat"},
        {"name": "a2", "reference": "he reads a long letter today", "hypothesis": "he reads a long letter today"},
        {"name": "b1", "reference": "the dog ran to the park", "hypothesis": "the dog ran to a house"},
        {"name": "b2", "reference": "she writes ten letters soon", "hypothesis": "she will read a book"},
    ]
    by = score_groups(rows, {"a1": "A", "a2": "A", "b1": "B", "b2": "B"})
    expected_b = score([r["hypothesis"] for r in rows[2:]], [r["reference"] for r in rows[2:]])
    assert by["groups"]["A"]["bleu4"] == 100 and by["groups"]["A"]["clips"] == 2
    assert by["groups"]["B"]["bleu4"] == expected_b.bleu4 < 50 and by["groups"]["B"]["chrf"] == expected_b.chrf
    assert by["macro"]["bleu4"] == round((100 + expected_b.bleu4) / 2, 2) and by["worst"] == "B"

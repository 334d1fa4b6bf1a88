"""Metrics on cases worked out by hand (see the comments for the arithmetic)."""

import math
import sys

import numpy as np
import pytest

from codeintel.eval import bleu, metrics


def test_bleu_identical_is_100():
    assert bleu.smoothed_bleu(["return the sum of a and b"], ["return the sum of a and b"]) == pytest.approx(100.0)


def test_bleu_shorter_prediction_brevity_penalty_with_plus_one():
    # hyp 3 tokens all matching; n>=2 smoothed (2+1)/(2+1), (1+1)/(1+1), (0+1)/(0+1) -> log-precision 0.
    # BP = 1 - (5+1)/(3+1) = -0.5  ->  100 * exp(-0.5)
    assert bleu.smoothed_bleu(["return the value"], ["return the value of x"]) == pytest.approx(100 * math.exp(-0.5))


def test_bleu_empty_prediction_is_not_zero():
    # all guesses 0: unigram log((0+tiny)/(0+tiny)) = 0, smoothed n>=2 log(1/1) = 0; BP = 1 - (2+1)/(0+1) = -2
    assert bleu.smoothed_bleu([""], ["hello world"]) == pytest.approx(100 * math.exp(-2))


def test_bleu_longer_prediction_no_brevity_penalty():
    # hyp "a b c d e" vs ref "a b c": unigrams 3/5, bigrams (2+1)/(4+1), trigrams (1+1)/(3+1), 4-grams (0+1)/(2+1)
    # BP = min(0, 1 - 4/6) = 0
    expected = 100 * math.exp((math.log(3 / 5) + math.log(3 / 5) + math.log(2 / 4) + math.log(1 / 3)) / 4)
    assert bleu.smoothed_bleu(["a b c d e"], ["a b c"]) == pytest.approx(expected)


def test_bleu_several_references_max_counts_and_shortest_length():
    # refs "the cat" (2) and "the the dog sat" (4): "the" clip = max count 2; shortest ref length 2.
    # hyp "the the" -> unigrams 2/2, bigram ("the","the") appears in ref 2: (1+1)/(1+1); 3,4-grams (0+1)/(0+1)
    # BP = 1 - 3/3 = 0  -> 100
    assert bleu.smoothed_bleu({"1": "the the"}, {"1": ["the cat", "the the dog sat"]}) == pytest.approx(100.0)


def test_bleu_unigram_miss_is_essentially_zero_and_mean_over_ids():
    # unigrams log(0 + float_min) - log(2), bigrams log(0+1) - log(1+1), 3/4-grams log(1/1); BP 0
    one = bleu.smoothed_bleu({"a": "x y"}, {"a": "p q"})
    assert one == pytest.approx(100 * math.exp((math.log(sys.float_info.min) - math.log(2) - math.log(2)) / 4))
    assert one < 1e-70
    both = bleu.smoothed_bleu({"a": "x y", "b": "p q"}, {"a": "p q", "b": "p q"})
    assert both == pytest.approx(50.0)


def test_bleu_normalisation_passes():
    # computeMaps lower-cases and splits punctuation; "Returns." == "returns ."
    assert bleu.smoothed_bleu(["Returns the NAME."], ["returns the name ."]) == pytest.approx(100.0)
    assert bleu.split_puncts("a.b(c)") == "a . b ( c )"
    assert bleu.normalize("3.5 apples, 4-5") == ["3.5", "apples", ",", "4", "-", "5"]


def test_bleu_only_predicted_ids_are_scored():
    assert bleu.smoothed_bleu({"1": "a b"}, {"1": "a b", "2": "z z"}) == pytest.approx(100.0)


def test_read_id_tab_file_several_references():
    refs = bleu.read_id_tab_file(["1\tfoo\n", "1\tbar\n", "2\n"])
    assert refs == {"1": ["foo", "bar"], "2": [""]}


def test_precision_recall_f1_hand_and_sklearn():
    pred, gold = [1, 1, 0, 1, 0, 0], [1, 0, 0, 1, 1, 0]
    # tp=2 fp=1 fn=1 -> P=R=F1=2/3
    out = metrics.precision_recall_f1(pred, gold)
    assert out == pytest.approx({"precision": 2 / 3, "recall": 2 / 3, "f1": 2 / 3})
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    p, g = rng.integers(0, 2, 50), rng.integers(0, 2, 50)
    out = metrics.precision_recall_f1(p, g)
    assert out["f1"] == pytest.approx(sk.f1_score(g, p))
    assert out["precision"] == pytest.approx(sk.precision_score(g, p))
    assert metrics.precision_recall_f1([0, 0], [0, 1]) == {"precision": 0.0, "recall": 0.0, "f1": 0.0}


def test_map_at_r_divides_by_r_not_hits():
    answers = {"q": ["a", "b", "c"]}
    # ranked a, x, b: hits at 1 (1/1) and 3 (2/3); c missed -> (1 + 2/3) / 3
    assert metrics.map_at_r({"q": ["a", "x", "b"]}, answers) == round((1 + 2 / 3) / 3, 4)
    assert metrics.map_at_r({"q": ["c", "b", "a"]}, answers) == 1.0
    with pytest.raises(ValueError, match="R is 3"):
        metrics.map_at_r({"q": ["a"]}, answers)


def test_map_at_r_from_embeddings_perfect_and_self_excluded():
    emb = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]])
    assert metrics.map_at_r_from_embeddings(emb, [0, 0, 1, 1]) == 1.0
    # labels crossed: each query's nearest is the wrong one -> R=1, hit never within top 1
    assert metrics.map_at_r_from_embeddings(emb, [0, 1, 0, 1]) == 0.0


def test_mrr_and_cutoff():
    scores = np.array([[0.9, 0.1, 0.5], [0.2, 0.1, 0.9], [0.3, 0.2, 0.1]])
    # gold diagonal: query0 rank1, query1 rank3, query2 rank3 -> (1 + 1/3 + 1/3) / 3
    assert metrics.mrr(scores) == pytest.approx((1 + 2 / 3) / 3)
    assert metrics.mrr(scores, cutoff=1) == pytest.approx(1 / 3)


def test_rouge_l_hand():
    # cand "a b c d" ref "a c d e": LCS 3, P=3/4, R=3/4 -> F = P (equal P and R)
    assert metrics.rouge_l(["a b c d"], ["a c d e"]) == pytest.approx(75.0)
    # P=1 (2/2), R=2/4: F = (1+1.44)*1*0.5/(0.5+1.44*1)
    assert metrics.rouge_l(["a b"], ["a b c d"]) == pytest.approx(100 * 2.44 * 0.5 / 1.94)
    assert metrics.rouge_l([""], ["a"]) == 0.0


def test_exact_match_accuracy_and_errors():
    assert metrics.exact_match(["a  b", "c"], ["a b", "d"]) == 50.0
    assert metrics.accuracy([1, 2, 3], [1, 2, 0]) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="2 predictions but 1"):
        metrics.exact_match(["a", "b"], ["a"])


def test_unknown_metric_suggests():
    from codeintel.errors import UnknownNameError

    with pytest.raises(UnknownNameError, match="Did you mean 'smoothed_bleu'"):
        metrics.get_metric("smoothed_blue")


@pytest.mark.parametrize(
    "name,kwargs,expected",
    [
        ("smoothed_bleu", dict(predictions=["return the value"], references=[["return the value of x"]]),
         {"smoothed_bleu": 100 * math.exp(-0.5)}),
        ("precision_recall_f1", dict(predictions=[1, 1, 0], references=[1, 0, 0]),
         {"precision": 0.5, "recall": 1.0, "f1": 2 / 3}),
        ("map_at_r", dict(predictions=[["a", "x"]], references=[["a", "b"]]), {"map_at_r": 0.5}),
        ("mrr", dict(predictions=[[0.1, 0.9]], references=[0]), {"mrr": 0.5}),
        ("exact_match", dict(predictions=["a b"], references=["a b"]), {"exact_match": 100.0}),
        ("rouge_l", dict(predictions=["a b c d"], references=[["a c d e"]]), {"rouge_l": 75.0}),
        ("accuracy", dict(predictions=["x", "y"], references=["x", "x"]), {"accuracy": 0.5}),
        ("xmatch", dict(predictions=[" a  b ", "a b"], references=["a  b", "a c"]), {"xmatch": 50.0}),
        # matches 4, 3, 2, 1 of 5, 4, 3, 2, add-one smoothed, no brevity penalty, 2 decimals
        ("bleu", dict(predictions=["a b c d e"], references=[["a b c d f"]]),
         {"bleu": round(100 * (5 / 6 * 4 / 5 * 3 / 4 * 2 / 3) ** 0.25, 2)}),
        # a renamed copy (11 tokens; f/g, a/b differ): every subtree and data-flow triple; n-grams 8/11, 4/10,
        # 1/9 (") { return"), 0.1/8, bp 1; weighted unigram recall, keywords int and return weighing 1 and others
        # 0.2: matched int 2 + ( ) { ; } 5 x 0.2 + return 1 = 4.0 of 4.6 (g, b, b: 0.6 unmatched)
        ("codebleu", dict(predictions=["int f ( int a ) { return a ; }"],
                          references=[["int g ( int b ) { return b ; }"]], lang="java"),
         {"ngram": 100 * (8 / 11 * 4 / 10 * 1 / 9 * 0.1 / 8) ** 0.25,
          "weighted_ngram": 100 * (4.0 / 4.6 * 4 / 10 * 1 / 9 * 0.1 / 8) ** 0.25,
          "syntax": 100.0, "dataflow": 100.0,
          "codebleu": 25 * ((8 / 11 * 4 / 10 * 1 / 9 * 0.1 / 8) ** 0.25
                            + (4.0 / 4.6 * 4 / 10 * 1 / 9 * 0.1 / 8) ** 0.25 + 2)}),
    ],
)
def test_evaluate_modules_load_offline_from_hub_path(name, kwargs, expected):
    evaluate = pytest.importorskip("evaluate")
    from codeintel.hub import hub_path

    module = evaluate.load(str(hub_path("eval", name)))
    assert module.compute(**kwargs) == pytest.approx(expected)

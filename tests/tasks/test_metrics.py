import numpy as np
import pytest

from backend import tasks
from backend.tasks import metrics


def one_hot_logits(pred, num_labels):
    logits = np.full((len(pred), num_labels), -5.0)
    logits[np.arange(len(pred)), pred] = 5.0
    return logits


def test_every_task_kind_has_metrics_and_a_main_metric():
    samples = {  # (model outputs, gold) in each task's own shape
        "regression": (np.array([0.1, 0.9]), np.array([1.0, 0.0])),
        "multi_label_classification": (np.array([[2.0, -1.0], [-3.0, 4.0]]), np.array([[1, 0], [0, 1]])),
        "extractive_qa": (["Paris", ""], [["Paris"], [""]]),
        "token_classification": ([["B-PER", "O"], ["O", "B-LOC"]], [["B-PER", "O"], ["B-LOC", "I-LOC"]]),
    }
    for task in tasks.names():
        kind = tasks.get(task)
        outputs, gold = samples.get(task, (np.array([[0.1, 0.9], [0.8, 0.2]]), np.array([1, 0])))
        assert kind.main_metric in kind.metrics(outputs, gold)


def test_qa_metrics_are_fractions_with_counts():
    scores = tasks.get("extractive_qa").metrics(["in Paris", "", "Rome"], [["Paris"], [""], [""]])
    assert scores["exact"] == pytest.approx(1 / 3, abs=1e-6)  # "in Paris" is not exact; "" is; "Rome" is wrong
    assert scores["has_ans_f1"] == pytest.approx(2 / 3, abs=1e-6)
    assert scores["no_ans_exact"] == pytest.approx(0.5)
    assert (scores["total"], scores["has_ans_total"], scores["no_ans_total"]) == (3, 1, 2)


def test_binary_classification_matches_hand_counts():
    gold = np.array([0, 0, 0, 1, 1, 1, 1, 0])
    pred = np.array([0, 1, 0, 1, 1, 0, 1, 0])  # tp=3 fn=1 fp=1 tn=3
    scores = tasks.get("text_classification").metrics(one_hot_logits(pred, 2), gold)
    assert scores["accuracy"] == pytest.approx(6 / 8)
    assert scores["f1"] == pytest.approx(0.75)
    assert scores["macro_f1"] == pytest.approx(0.75)
    assert scores["mcc"] == pytest.approx((3 * 3 - 1 * 1) / np.sqrt(4 * 4 * 4 * 4))


def test_multiclass_has_no_binary_f1_and_handles_absent_classes():
    gold = np.array([0, 1, 2, 2])
    pred = np.array([0, 2, 2, 2])
    scores = tasks.get("pair_classification").metrics(one_hot_logits(pred, 4), gold)
    assert "f1" not in scores
    assert scores["macro_f1"] == pytest.approx((1 + 0 + 0.8 + 0) / 4)  # class 3 never seen: counts as 0
    assert -1 <= scores["mcc"] <= 1


def test_mcc_is_zero_when_one_class_is_predicted():
    assert metrics.mcc(np.zeros(5, int), np.array([0, 1, 0, 1, 0]), 2) == 0.0


def test_regression_spearman_uses_average_ranks_for_ties():
    assert list(metrics.average_ranks(np.array([10.0, 20.0, 10.0, 30.0]))) == [1.5, 3.0, 1.5, 4.0]
    gold = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    scores = tasks.get("regression").metrics(np.array([[1.0], [4.0], [9.0], [16.0], [25.0]]), gold)
    assert scores["spearman"] == pytest.approx(1.0)
    assert scores["pearson"] < 1.0
    assert scores["mse"] == pytest.approx(np.mean((np.array([1, 4, 9, 16, 25]) - gold) ** 2))


def test_correlations_of_constant_predictions_are_zero_not_nan():
    scores = metrics.regression_metrics(np.ones(4), np.array([1.0, 2.0, 3.0, 4.0]))
    assert scores["pearson"] == 0.0 and scores["spearman"] == 0.0


def test_is_improvement_follows_direction_and_rejects_nan():
    assert tasks.get("text_classification").is_improvement(0.5, None)
    assert tasks.get("text_classification").is_improvement(0.6, 0.5)
    assert not tasks.get("text_classification").is_improvement(0.5, 0.5)
    assert tasks.get("regression").is_improvement(0.1, 0.2)
    assert not tasks.get("regression").is_improvement(float("nan"), None)


def test_multilabel_metrics_by_hand():
    import numpy as np

    from backend.tasks.metrics import multilabel_metrics

    gold = np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 0]])
    logits = np.array([[3.0, -3, 2], [-2, 4, 1], [2, -1, -3], [-5, -5, -5]])  # row 2 adds label 3, row 3 misses 2
    scores = multilabel_metrics(logits, gold)
    # per label tp/fp/fn: label 1 2/0/0, label 2 1/0/1, label 3 1/1/0 -> F1 1, 2/3, 2/3
    assert scores["macro_f1"] == pytest.approx((1 + 2 / 3 + 2 / 3) / 3)
    assert scores["micro_f1"] == pytest.approx(2 * 4 / (2 * 4 + 1 + 1))
    assert scores["subset_accuracy"] == 0.5
    assert multilabel_metrics(logits, gold, threshold=0.99)["subset_accuracy"] == 0.25  # only the empty row
    import torch

    expected = torch.nn.functional.binary_cross_entropy_with_logits(torch.tensor(logits), torch.tensor(gold * 1.0))
    assert scores["loss"] == pytest.approx(float(expected))  # the loss a sigmoid head trains with


# ---------------------------------------------------------------- the same numbers as scikit-learn and scipy

def test_classification_equals_scikit_learn_on_random_predictions():
    from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

    rng = np.random.default_rng(0)
    gold, pred = rng.integers(0, 3, 200), rng.integers(0, 4, 200)  # class 3 is predicted but never present
    scores = tasks.get("pair_classification").metrics(one_hot_logits(pred, 5), gold)  # class 4: neither
    assert scores["accuracy"] == pytest.approx(accuracy_score(gold, pred))
    assert scores["macro_f1"] == pytest.approx(f1_score(gold, pred, average="macro", labels=range(5), zero_division=0))
    assert scores["macro_f1"] == pytest.approx(f1_score(gold, pred, average=None, labels=range(4)).sum() / 5)
    assert scores["mcc"] == pytest.approx(matthews_corrcoef(gold, pred))
    binary_gold, binary_pred = gold % 2, pred % 2
    binary = tasks.get("text_classification").metrics(one_hot_logits(binary_pred, 2), binary_gold)
    assert binary["f1"] == pytest.approx(f1_score(binary_gold, binary_pred))


def test_regression_equals_scipy_and_scikit_learn_on_random_values():
    from scipy import stats
    from sklearn.metrics import mean_squared_error

    rng = np.random.default_rng(1)
    gold = rng.integers(0, 6, 200).astype(float)  # many ties, as in 0-5 similarity scores
    values = gold + rng.normal(0, 1.5, 200)
    scores = metrics.regression_metrics(values, gold)
    assert scores["pearson"] == pytest.approx(stats.pearsonr(values, gold).statistic)
    assert scores["spearman"] == pytest.approx(stats.spearmanr(values, gold).statistic)
    assert scores["mse"] == scores["loss"] == pytest.approx(mean_squared_error(gold, values))
    assert metrics.spearman(values, gold) == pytest.approx(metrics.pearson(metrics.average_ranks(values),
                                                                           metrics.average_ranks(gold)))


def test_multilabel_equals_scikit_learn_on_random_sets():
    from sklearn.metrics import accuracy_score, f1_score

    rng = np.random.default_rng(2)
    gold = (rng.random((200, 4)) < 0.3).astype(int)
    gold[:, 3] = 0  # a label no row has
    logits = rng.normal(-0.5, 2, (200, 4))
    pred = (logits >= 0).astype(int)
    scores = metrics.multilabel_metrics(logits, gold)
    assert scores["micro_f1"] == pytest.approx(f1_score(gold, pred, average="micro", zero_division=0))
    assert scores["macro_f1"] == pytest.approx(f1_score(gold, pred, average="macro", zero_division=0))
    assert scores["subset_accuracy"] == pytest.approx(accuracy_score(gold, pred))


@pytest.mark.filterwarnings("error")  # scipy's constant-input warning and scikit-learn's one-label warning included
def test_edge_cases_give_zero_not_nan_nor_an_error():
    empty = np.array([], dtype=int)
    assert metrics.classification_metrics(np.zeros((0, 3)), empty) == {
        "loss": 0.0, "accuracy": 0.0, "macro_f1": 0.0, "mcc": 0.0}
    assert metrics.regression_metrics(np.zeros(0), np.zeros(0)) == {"loss": 0.0, "pearson": 0.0, "spearman": 0.0,
                                                                    "mse": 0.0}
    assert metrics.multilabel_metrics(np.zeros((0, 3)), np.zeros((0, 3))) == {
        "loss": 0.0, "micro_f1": 0.0, "macro_f1": 0.0, "subset_accuracy": 0.0}
    assert metrics.mcc(np.zeros(4, int), np.zeros(4, int), 2) == 0.0  # one class on both sides
    assert metrics.positive_f1(np.zeros(4, int), np.zeros(4, int)) == 0.0  # class 1 never predicted nor present
    assert metrics.pearson(np.array([1.0, 2.0]), np.full(2, 3.0)) == 0.0  # constant gold
    assert metrics.spearman(np.array([2.0]), np.array([1.0])) == 0.0  # one value
    assert metrics.macro_f1(np.array([0, 0]), np.array([0, 0]), 3) == pytest.approx(1 / 3)


def test_a_diverged_regression_model_scores_nan_and_never_improves():
    scores = metrics.regression_metrics(np.array([1.0, np.nan, 2.0]), np.array([1.0, 2.0, 3.0]))
    assert np.isnan(scores["mse"]) and not tasks.get("regression").is_improvement(scores["mse"], None)
    assert metrics.mse(np.array([np.inf, 1.0]), np.array([0.0, 1.0])) == np.inf

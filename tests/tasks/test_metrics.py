import numpy as np
import pytest

from backend.schemas import TASK_KINDS
from backend.tasks import metrics


def one_hot_logits(pred, num_labels):
    logits = np.full((len(pred), num_labels), -5.0)
    logits[np.arange(len(pred)), pred] = 5.0
    return logits


def test_every_task_kind_has_metrics_and_a_main_metric():
    assert set(metrics.TASK_METRICS) == set(TASK_KINDS)
    samples = {  # (model outputs, gold) in each task's own shape
        "regression": (np.array([0.1, 0.9]), np.array([1.0, 0.0])),
        "multi_label_classification": (np.array([[2.0, -1.0], [-3.0, 4.0]]), np.array([[1, 0], [0, 1]])),
        "extractive_qa": (["Paris", ""], [["Paris"], [""]]),
    }
    for task, entry in metrics.TASK_METRICS.items():
        outputs, gold = samples.get(task, (np.array([[0.1, 0.9], [0.8, 0.2]]), np.array([1, 0])))
        assert entry.main in entry.compute(outputs, gold)


def test_qa_metrics_are_fractions_with_counts():
    scores = metrics.compute_metrics("extractive_qa", ["in Paris", "", "Rome"], [["Paris"], [""], [""]])
    assert scores["exact"] == pytest.approx(1 / 3, abs=1e-6)  # "in Paris" is not exact; "" is; "Rome" is wrong
    assert scores["has_ans_f1"] == pytest.approx(2 / 3, abs=1e-6)
    assert scores["no_ans_exact"] == pytest.approx(0.5)
    assert (scores["total"], scores["has_ans_total"], scores["no_ans_total"]) == (3, 1, 2)


def test_binary_classification_matches_hand_counts():
    gold = np.array([0, 0, 0, 1, 1, 1, 1, 0])
    pred = np.array([0, 1, 0, 1, 1, 0, 1, 0])  # tp=3 fn=1 fp=1 tn=3
    scores = metrics.compute_metrics("text_classification", one_hot_logits(pred, 2), gold)
    assert scores["accuracy"] == pytest.approx(6 / 8)
    assert scores["f1"] == pytest.approx(0.75)
    assert scores["macro_f1"] == pytest.approx(0.75)
    assert scores["mcc"] == pytest.approx((3 * 3 - 1 * 1) / np.sqrt(4 * 4 * 4 * 4))


def test_multiclass_has_no_binary_f1_and_handles_absent_classes():
    gold = np.array([0, 1, 2, 2])
    pred = np.array([0, 2, 2, 2])
    scores = metrics.compute_metrics("pair_classification", one_hot_logits(pred, 4), gold)
    assert "f1" not in scores
    assert scores["macro_f1"] == pytest.approx((1 + 0 + 0.8 + 0) / 4)  # class 3 never seen: counts as 0
    assert -1 <= scores["mcc"] <= 1


def test_mcc_is_zero_when_one_class_is_predicted():
    assert metrics.mcc(np.zeros(5, int), np.array([0, 1, 0, 1, 0]), 2) == 0.0


def test_regression_spearman_uses_average_ranks_for_ties():
    assert list(metrics.average_ranks(np.array([10.0, 20.0, 10.0, 30.0]))) == [1.5, 3.0, 1.5, 4.0]
    gold = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    scores = metrics.compute_metrics("regression", np.array([[1.0], [4.0], [9.0], [16.0], [25.0]]), gold)
    assert scores["spearman"] == pytest.approx(1.0)
    assert scores["pearson"] < 1.0
    assert scores["mse"] == pytest.approx(np.mean((np.array([1, 4, 9, 16, 25]) - gold) ** 2))


def test_correlations_of_constant_predictions_are_zero_not_nan():
    scores = metrics.regression_metrics(np.ones(4), np.array([1.0, 2.0, 3.0, 4.0]))
    assert scores["pearson"] == 0.0 and scores["spearman"] == 0.0


def test_is_improvement_follows_direction_and_rejects_nan():
    assert metrics.is_improvement("text_classification", 0.5, None)
    assert metrics.is_improvement("text_classification", 0.6, 0.5)
    assert not metrics.is_improvement("text_classification", 0.5, 0.5)
    assert metrics.is_improvement("regression", 0.1, 0.2)
    assert not metrics.is_improvement("regression", float("nan"), None)


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

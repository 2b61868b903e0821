"""Regression: a numeric label a row (a score, a rating, a similarity), one output value (mean squared error)."""
from __future__ import annotations

from backend.tasks.base import Views
from backend.tasks.sequence import SequenceKind


class Regression(SequenceKind):
    name = "regression"
    title = "Regression (numeric labels)"
    has_labels = False
    reads_pairs = None  # one text or two, as its data had
    problem_type = "regression"
    # Predictions are shown as values, so how far off they are is what matters; correlations ignore scale and offset
    # and are undefined while predictions are still constant early in training.
    main_metric = "mse"
    greater_is_better = False

    # ---- data and preview

    def fits(self, labels, pairs: bool) -> bool:
        """Numbers with fractions, or more distinct whole numbers than classes usually are (either text shape)."""
        from backend.tasks.sequence_data import numeric_target

        return numeric_target(labels)

    def label_values(self, frame, labels):
        """The values themselves, as float32 for the mean squared error."""
        import numpy as np

        return frame["label"].astype(np.float32).to_numpy()

    # ---- training

    def head_config(self, labels) -> dict:
        """One output: the value (transformers then trains it with mean squared error)."""
        return {"num_labels": 1, "problem_type": self.problem_type}

    def metrics(self, outputs, gold) -> dict[str, float]:
        """MSE (also the loss), Pearson and Spearman correlation."""
        from backend.tasks.metrics import regression_metrics

        return regression_metrics(outputs, gold)

    # ---- serving
    # The Results tab shows residuals and worst errors, not classes.
    views = Views(report="values", sample_csv=("similarity_scores.csv", "Similarity scores"))
    pipeline_options = ', function_to_apply="none"'  # the raw output is the value: no softmax

    def outputs(self, logits):
        """The predicted values (rows, 1)."""
        return logits

    def attributed(self, logits):
        return logits

    def prediction(self, run, row, threshold):
        from backend.tasks.sequence_inference import DIGITS

        return {"value": round(row[0], DIGITS)}

    def batch_cells(self, run, texts, pairs, usable, threshold):
        from backend.tasks import sequence_inference

        return sequence_inference.value_cells(run, texts, pairs, usable)

    def eval_rows(self, run, frame):
        from backend.tasks import sequence_reports

        return sequence_reports.eval_rows(run, frame, sequence_reports.regression_row)

    def error_report(self, run, frame, max_examples):
        from backend.tasks import sequence_reports

        return sequence_reports.regression_report(frame, max_examples)

    def disagreements(self, rows, limit):
        from backend.tasks import sequence_reports

        return sequence_reports.value_disagreements(rows, limit)

    def card_outputs(self, results):
        return ["Output: one number (regression)."]

    def card_counts(self, report, results):
        return []

    def card_scope(self, results):
        return "a number on the scale of the training labels"

"""What the kinds that read one text (or a text pair) a row share: the table read as text, second text and label,
tokenized once, length-grouped and dynamically padded batches, a head over the first token, predictions from its
logits. Single-text and pair classification, regression and multi-label build on SequenceKind."""
from __future__ import annotations

from backend.schemas import StudioError
from backend.tasks.base import TaskKind


class SequenceKind(TaskKind):
    """One (pair of) text(s) and a label per row; AutoModelForSequenceClassification with a head of `problem_type`."""

    problem_type: str = "single_label_classification"  # transformers picks the loss from it

    # ---- data and preview
    # (backend.tasks.sequence_data and backend.data.preview are imported when used: they bring pandas and numpy.)

    def fits(self, labels, pairs: bool) -> bool:
        """Classes: labels that do not read as numbers to predict, and a second text just when the kind reads two."""
        from backend.tasks.sequence_data import numeric_target

        return pairs == self.reads_pairs and not numeric_target(labels)

    def load_splits(self, spec, table):
        """One text (or a pair) and a label a row: the columns chosen, guessed and checked, the labels read."""
        from backend.tasks import sequence_data

        return sequence_data.load_splits(spec, table, self.reads_pairs, lambda rows: self)

    def label_values(self, frame, labels):
        """Class ids by position in `labels`."""
        from backend.tasks.sequence_data import class_ids

        return class_ids(frame, labels)

    def previewer(self, frame, report, max_length, sample_rows, doc_stride):
        """One sequence a row (a text or a text pair), cut at max_length."""
        from functools import partial

        from backend.data.preview import preview

        return partial(preview, frame, report.text_column, report.text_pair_column, max_length=max_length,
                       sample_rows=sample_rows)

    # ---- training
    # (backend.data.batching and the metrics are imported when used: they bring torch, scikit-learn and scipy, and
    # the registry is read by the command line before it knows it needs them.)

    def head_config(self, labels) -> dict:
        """Sorted label names with id2label/label2id, so the saved model names its own outputs."""
        names = sorted({str(label) for label in labels or ()})
        if len(names) < 2:
            raise StudioError("Classification needs at least two different labels; check the label column.")
        return {"num_labels": len(names), "problem_type": self.problem_type,
                "id2label": dict(enumerate(names)), "label2id": {name: index for index, name in enumerate(names)}}

    def dataloaders(self, spec, splits, tokenizer, model):
        """Tokenize once, then length-grouped, dynamically padded loaders; the eval outputs are the logits."""
        from backend.data.batching import Evaluation, build_dataloaders, encode

        config = model.config
        # The label order is the model config's (id2label), so the saved model describes its own outputs.
        labels = [config.id2label[i] for i in range(config.num_labels)] if self.has_labels else None
        train_set = encode(splits.train, tokenizer, spec.max_length, self.label_values(splits.train, labels))
        eval_set = encode(splits.eval, tokenizer, spec.max_length, self.label_values(splits.eval, labels))
        if len(train_set) == 0 or len(eval_set) == 0:
            raise StudioError("The training or evaluation set is empty; check the CSV files and the eval fraction.")
        # Regression values and multi-label 0/1 rows come out of encode as floats, and the losses want them so.
        train_dl, eval_dl = build_dataloaders(train_set, eval_set, spec.batch_size, spec.seed, tokenizer.pad_token_id,
                                              float_labels=train_set.labels.dtype.kind == "f")
        return train_dl, eval_dl, Evaluation(outputs=lambda output: output.logits, score=self.metrics)

    def metrics(self, outputs, gold) -> dict[str, float]:
        """Cross-entropy loss, accuracy, macro F1, MCC, and F1 of the second class when there are two."""
        from backend.tasks.metrics import classification_metrics

        return classification_metrics(outputs, gold)

    # ---- serving
    # (backend.tasks.sequence_inference and sequence_reports are imported when used, as above: torch and pandas.)
    # Classification is the default below; Regression and MultiLabelClassification change how logits read.
    pipeline_options: str = ""  # the model card's pipeline arguments beyond truncation

    def outputs(self, logits):
        """Class probabilities that add up to 1 (softmax); (rows, labels)."""
        import torch

        return torch.softmax(logits, dim=-1)

    def attributed(self, logits):
        """What explain attributes per label: the log-probability of each class."""
        import torch

        return torch.log_softmax(logits, dim=-1)

    def prediction(self, run, row: list[float], threshold: float) -> dict:
        """One row of outputs as a prediction: the best class and every class's probability."""
        from backend.tasks.sequence_inference import DIGITS

        best = max(range(len(row)), key=row.__getitem__)
        return {"label": run.labels[best], "scores": {label: round(p, DIGITS) for label, p in zip(run.labels, row)}}

    def predict_scores(self, run, texts, pairs, batch_size):
        from backend.tasks import sequence_inference

        return sequence_inference.scores(run, texts, pairs, batch_size)

    def predict(self, run, texts, pairs, batch_size, threshold):
        from backend.tasks import sequence_inference

        return sequence_inference.predict(run, texts, pairs, batch_size, threshold)

    def predict_one(self, run, text, pair, threshold):
        from backend.tasks import sequence_inference

        return sequence_inference.predict_one(run, text, pair, threshold)

    def explain(self, run, text, pair, target, steps):
        from backend.tasks import sequence_inference

        return sequence_inference.explain(run, text, pair, target, steps)

    def batch_cells(self, run, texts, pairs, usable, threshold):
        from backend.tasks import sequence_inference

        return sequence_inference.label_cells(run, texts, pairs, usable)

    def eval_rows(self, run, frame):
        from backend.tasks import sequence_reports

        return sequence_reports.eval_rows(run, frame, sequence_reports.classification_row)

    def error_report(self, run, frame, max_examples):
        from backend.tasks import sequence_reports

        return sequence_reports.classification_report(frame, run.labels, max_examples)

    def disagreements(self, rows, limit):
        from backend.tasks import sequence_reports

        return sequence_reports.label_disagreements(rows, limit)

    def card_outputs(self, results):
        return ["Labels (in the order of the model's outputs): " + ", ".join(f"`{l}`" for l in results["labels"])]

    def card_counts(self, report, results):
        return ["| label | training rows | validation rows |", "| --- | ---: | ---: |"] + [
            f"| {label} | {report.label_counts.get(label, 0)} | {report.eval_label_counts.get(label, 0)} |"
            for label in results["labels"]]

    def card_scope(self, results):
        return f"one of {len(results['labels'])} labels"

    def card_usage(self, folder, spec, pairs):
        from backend.tasks.cards import pipeline_usage

        return pipeline_usage(folder, pairs, spec.max_length, self.pipeline_options)

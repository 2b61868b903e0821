"""Multi-label classification: any number of labels a row, one sigmoid and binary cross-entropy per label."""
from __future__ import annotations

from backend.tasks.base import TaskKind, Views
from backend.tasks.multi_label import analysis
from backend.tasks.sequence import SequenceKind


class MultiLabelClassification(SequenceKind):
    name = "multi_label_classification"
    title = "Multi-label classification"
    reads_pairs = None
    problem_type = "multi_label_classification"
    # Pools every (row, label) decision, so it stays steady when some labels are rare, and no label at all scores 0.
    main_metric = "micro_f1"
    # Its reports are its own module's (per label, label sets), not the single-label ones SequenceKind gives.
    reports = analysis
    eval_rows, error_report, disagreements = TaskKind.eval_rows, TaskKind.error_report, TaskKind.disagreements
    views = Views(roles={**Views().roles, "label_separator": "Label separator (several labels in one cell)",
                         "label_columns": "Label columns (one 0/1 column per label)"},
                  balance_title="Rows per label", label_noun="labels", threshold=True, report="multi_label",
                  sample_csv=("support_tickets_multilabel.csv", "Support tickets (multi-label)"))

    # ---- data and preview
    # (backend.tasks.multi_label.data is imported when used: it brings pandas and numpy.)

    def wants(self, spec, frame) -> bool:
        """Asked for; or no task is given and the spec or the table says several labels a row (see `data.wanted`)."""
        if spec.task is not None:
            return spec.task == self.name
        from backend.tasks.multi_label.data import wanted

        return wanted(spec, frame)

    def load_splits(self, spec, table):
        """Label sets from a separated label column or from 0/1 columns, and a hold-out that keeps every label."""
        from backend.tasks.multi_label import data

        return data.load_splits(spec, table, self)

    def label_values(self, frame, labels):
        """One float32 row of 0/1 per text, a column per label (binary cross-entropy takes them so)."""
        from backend.tasks.multi_label.data import label_rows

        return label_rows(frame, labels)

    # ---- training

    def metrics(self, outputs, gold) -> dict[str, float]:
        """Binary cross-entropy, micro and macro F1 and subset accuracy, a label predicted at probability 0.5."""
        from backend.tasks.metrics import multilabel_metrics

        return multilabel_metrics(outputs, gold)

    # ---- serving
    # Labels do not exclude each other: one sigmoid each, and all of them are wanted, not only the top one.
    pipeline_options = ', function_to_apply="sigmoid", top_k=None'

    def outputs(self, logits):
        """Every label's own probability (a sigmoid each), so a row's need not add up to 1."""
        import torch

        return torch.sigmoid(logits)

    def attributed(self, logits):
        import torch

        return torch.nn.functional.logsigmoid(logits)

    def prediction(self, run, row, threshold):
        """The labels at or above the threshold, in the model's label order (maybe none), and every label's score."""
        from backend.tasks.sequence_inference import DIGITS

        return {"labels": [label for label, p in zip(run.labels, row) if p >= threshold],
                "scores": {label: round(p, DIGITS) for label, p in zip(run.labels, row)}, "threshold": threshold}

    def batch_cells(self, run, texts, pairs, usable, threshold):
        from backend.tasks import sequence_inference

        cut = sequence_inference.checked_threshold(threshold)
        return sequence_inference.label_set_cells(run, texts, pairs, usable, cut)

    def card_outputs(self, results):
        return super().card_outputs(results) + [
            "", "Multi-label: each output is one label's own probability (a sigmoid each, trained with binary "
                "cross-entropy), so a text can have several labels or none. MiniLM Studio gives a label when its "
                "probability is 0.5 or more, as the metrics below count."]

    def card_scope(self, results):
        return f"a probability for each of its {len(results['labels'])} labels"

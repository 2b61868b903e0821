"""Text-pair classification: two texts a row (paraphrase, entailment, duplicate questions), one class each pair."""
from __future__ import annotations

from backend.tasks.base import Views
from backend.tasks.sequence import SequenceKind


class PairClassification(SequenceKind):
    name = "pair_classification"
    title = "Text-pair classification"
    reads_pairs = True
    main_metric = "macro_f1"
    views = Views(sample_csv=("paraphrase_pairs.csv", "Paraphrase pairs"))

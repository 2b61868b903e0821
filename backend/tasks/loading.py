"""A DataSpec in, checked splits (or their report, or a token preview) out: the kind is chosen here, and it reads
its own columns, labels and previews.

The user's task wins; without one, the kinds that recognise their tables by content are asked in the registry's
order, and a table none of them claims reads as one text (or a pair) and a label a row, whose label column then
decides between classification and regression (`detect_task`).
"""
from __future__ import annotations

from backend import tasks
from backend.data import checks
from backend.data.reading import read_table
from backend.data.records import Splits, ValidationReport
from backend.schemas import DataSpec, StudioError
from backend.tasks import sequence_data


def validate(spec: DataSpec) -> ValidationReport:
    """Read, clean and check the training (and validation) CSV; the report says what was found and decided."""
    return load_splits(spec).report


def load_splits(spec: DataSpec) -> Splits:
    """Training and evaluation rows as normalised frames; deterministic for a spec, so `validate` agrees."""
    chosen = tasks.get(spec.task) if spec.task is not None else None
    checks.check_eval_fraction(spec)
    table = read_table(spec.train_csv)
    kind = chosen or next((kind for kind in tasks.detectable() if kind.wants(spec, table.frame)), None)
    if kind is not None:
        return kind.load_splits(spec, table)
    def detected(rows):
        return tasks.get(detect_task(rows, "label", "text_pair" if "text_pair" in rows else None))
    return sequence_data.load_splits(spec, table, None, detected)


def detect_task(frame, label_column: str, text_pair_column: str | None) -> str:
    """The kind of a table no kind claims by its columns: the first whose labels and second text it `fits`."""
    return next(kind.name for kind in tasks.KINDS.values()
                if kind.fits(frame[label_column], text_pair_column is not None))


def preview_data(spec: DataSpec, model: str | None = None, max_length: int = 128, sample_rows: int = 5,
                 with_bert: bool = True, doc_stride: int | None = None) -> dict:
    """The preview of a DataSpec's training CSV for a model (default: the default MiniLM), drawn by its kind.

    The chosen model's preview is the top level; under "bert" the same statistics for the default BERT-Base-side
    model, with why it was chosen and whether its tokenizer differs. "bert" is None when the chosen model is that
    model, none is available, or with_bert is False. `doc_stride`: the tokens shared by neighbouring windows, for
    kinds that read long inputs in windows (None: a quarter of max_length, as JobSpec.doc_stride).
    """
    from backend.data.preview import compare_previews
    from backend.models import catalog

    report = validate(spec)
    frame = read_table(spec.train_csv).frame
    chosen = catalog.resolve(model) if model else catalog.default_model("minilm")[0]
    tokenizer = catalog.load_tokenizer(model or chosen.key)
    preview_of = tasks.get(report.task).previewer(frame, report, max_length, sample_rows, doc_stride)
    about = {"model": chosen.key, "display_name": chosen.display_name, "source": chosen.source}
    try:
        bert, why = catalog.default_model("bert") if with_bert else (None, "")
    except StudioError:  # no BERT-Base-side model here: the chosen model's preview still stands
        bert = None
    if bert is None or bert.key == chosen.key:
        return preview_of(tokenizer) | about | {"bert": None}
    both = compare_previews(preview_of, tokenizer, catalog.load_tokenizer(bert.key))
    side = {"model": bert.key, "display_name": bert.display_name, "why": why,
            "same_tokenizer": both["same_tokenizer"], "difference": both["difference"]}
    return both["minilm"] | about | {"bert": both["bert"] | side}

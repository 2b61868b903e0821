"""TaskKind: everything that differs between task kinds, behind one interface.

After fairseq's FairseqTask (a task owns loading its data, building its model and criterion, computing its loss;
`register_task` puts it in a registry by name) and transformers pipelines' preprocess -> _forward -> postprocess.
A kind is one module (or subpackage) under backend/tasks/ with one subclass of TaskKind, listed once in the
registry (backend/tasks/__init__.py). The trainer, the job runner, inference, compare, export and the UI call these
methods; they never ask which kind they hold.

The methods are grouped by the stage of the flow that calls them: data (backend.tasks.loading), preview, model
(backend.models.catalog), training (backend.training), inference and analysis (backend.serving), export, and the
views the UI draws. Kinds that read one text (or a pair) a row share most of them: backend/tasks/sequence.py.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from backend.schemas import StudioError


@dataclass(frozen=True)
class Views:
    """The UI views a kind needs, by name; ui/task_views.py maps each name to what draws it. The backend names
    views, the UI draws them, so neither needs to know which kind it shows."""

    # DataSpec column role -> what the Data tab's picker for it is called; roles not listed keep their picker hidden.
    roles: dict[str, str] = field(default_factory=lambda: {
        "text_column": "Text column", "text_pair_column": "Second text column (for text pairs)",
        "label_column": "Label column"})
    sample: str = "tokens"  # how the preview draws sample rows
    stats: str = "tokens"  # which rows of token statistics the preview's table shows
    balance_title: str = "Rows per class"  # the Data tab's chart of the training labels
    label_noun: str = "classes"  # what the Data tab's summary counts the report's labels as
    inputs: tuple[str, str] = ("Text", "Second text (text-pair models)")  # the Playground's two boxes
    second_input_always: bool = False  # the second box shows for every model of the kind (not only pair models)
    why: str = "Why: words that pushed towards (red) or away from (blue) the answer"  # its box
    threshold: bool = False  # the Playground offers a threshold slider (scores re-read without running the model)
    report: str = "classification"  # the Results tab's view of the error report
    input_names: tuple[str, str] = ("text", "second text")  # what Compare calls the two texts of a row
    columns_note: str = "texts_and_label"  # how the Train tab names the columns a job reads
    playground: str = "labels"  # how the Playground draws a prediction (and whether it explains it)
    sample_csv: tuple[str, str] | None = None  # (file in sample_data/, the Data tab's button for it)


class TaskKind:
    """One task kind. Subclasses set the identity attributes and implement the methods of their stages."""

    # ---------------------------------------------------------------- identity
    name: str  # the key in DataSpec.task, spec.json, results.json and the CLI's --task
    title: str  # what people read
    model_class_name: str = "AutoModelForSequenceClassification"
    pipeline_tag: str = "text-classification"  # the hub's tag in the model card
    has_labels: bool = True  # outputs are named classes (config.id2label); False: values or spans
    reads_pairs: bool | None = False  # True: always two texts; False: one; None: as the data it trained on had
    main_metric: str  # chooses the best checkpoint and drives early stopping
    greater_is_better: bool = True
    views: Views = Views()

    def __repr__(self) -> str:
        return f"<task kind {self.name}>"

    def model_class(self):
        """The transformers Auto class that builds this kind's model (looked up lazily: transformers is heavy)."""
        import transformers

        return getattr(transformers, self.model_class_name)

    def is_improvement(self, value: float, best: float | None) -> bool:
        """Whether `value` of the main metric beats `best` (None: nothing to beat yet). NaN never improves."""
        import math

        if not math.isfinite(value):
            return False
        if best is None:
            return True
        return value > best if self.greater_is_better else value < best

    # ---------------------------------------------------------------- data and preview (backend.tasks.loading)

    # DataSpec column role (or predict input) -> more command-line names for its option, e.g. a question column is
    # the text column of extractive QA; the command line adds every kind's aliases to the generic options.
    cli_aliases: dict[str, tuple[str, ...]] = {}

    def wants(self, spec, frame) -> bool:
        """Whether this kind reads the table: the user chose it, or (spec.task None) the columns look like it."""
        return spec.task == self.name

    def fits(self, labels, pairs: bool) -> bool:
        """For a table no kind `wants` (backend.tasks.loading.detect_task): whether its cleaned label cells `labels`
        (a pandas Series), and whether it has a second text, read as this kind. Kinds found by `wants` say no."""
        return False

    def load_splits(self, spec, table):
        """The checked training and evaluation rows and the report (backend.data.records.Splits) of a table that
        backend.data.reading.read_table read from spec.train_csv: the kind's columns, its checks, the hold-out."""
        raise NotImplementedError(f"{type(self).__name__} has no load_splits")

    def label_values(self, frame, labels: list[str] | None):
        """A split's labels as the model's loss takes them (a numpy array a row), `labels` in the model's order;
        a StudioError naming the labels the training rows lack."""
        raise NotImplementedError(f"{type(self).__name__} has no label_values")

    def previewer(self, frame, report, max_length: int, sample_rows: int, doc_stride: int | None):
        """tokenizer -> the JSON-safe token preview of the checked table `frame` (its report: `report`), as
        backend.data.preview.preview describes; `doc_stride` for kinds that read long inputs in windows."""
        raise NotImplementedError(f"{type(self).__name__} has no previewer")

    # ---------------------------------------------------------------- model and training (backend.models, backend.training)

    def head_config(self, labels) -> dict:
        """The config values from_pretrained gives this kind's new head (num_labels, problem_type, id2label and
        label2id), from the training labels; a StudioError saying what is wrong when they cannot make a head."""
        raise NotImplementedError(f"{type(self).__name__} has no head_config")

    def dataloaders(self, spec, splits, tokenizer, model):
        """The trainer's one seam from tables to batches: (train loader, eval loader, backend.data.batching.Evaluation),
        the eval batches' outputs scored by `metrics`. `model` is the fresh model: its config holds the label order."""
        raise NotImplementedError(f"{type(self).__name__} has no dataloaders")

    def metrics(self, outputs, gold) -> dict[str, float]:
        """The evaluation metrics, `main_metric` among them, from the outputs gathered over the evaluation set and the
        gold labels, in the shapes this kind's Evaluation gives (backend.tasks.metrics holds the shared helpers)."""
        raise NotImplementedError(f"{type(self).__name__} has no metrics")

    def preset(self, preset, batch_size: int) -> dict:
        """The epochs, batch size and max-length cap a training preset (backend.training.presets.Preset) gives this
        kind's jobs, from the model's default batch size: the preset's own, unless a kind needs other bounds."""
        return {"epochs": preset.epochs, "batch_size": batch_size, "max_length_cap": preset.max_length_cap}

    def tokens_per_row(self, mean_tokens: float, spec) -> float:
        """Tokens the model reads per row, for the time estimate shown before a job starts: rows are cut at
        max_length."""
        return min(mean_tokens, spec.max_length)

    # ---------------------------------------------------------------- inference, analysis, compare, export (backend.serving)
    # Every method gets the loaded run (backend.serving.inference.LoadedRun): its model, tokenizer, labels, spec, and
    # the serving layer's own calls (`predict_scores`, `predict`, `checked_pairs`), so a kind needs no upward import.

    def predict_scores(self, run, texts: list[str], pairs: list[str] | None, batch_size: int):
        """One number per output and text as an array in text order: (rows, labels) or (rows,) (a value, an
        answer's probability)."""
        raise NotImplementedError(f"{type(self).__name__} has no predict_scores")

    def predict(self, run, texts: list[str], pairs: list[str] | None, batch_size: int, threshold) -> list[dict]:
        """One prediction record per text (`threshold`: None or a number from 0 to 1, read by kinds with label sets)."""
        raise NotImplementedError(f"{type(self).__name__} has no predict")

    def predict_one(self, run, text: str, pair: str | None, threshold) -> dict:
        """`predict`'s record for one text, plus `latency_ms`: the hot path, no batching."""
        raise NotImplementedError(f"{type(self).__name__} has no predict_one")

    def explain(self, run, text: str, pair: str | None, target: str | None, steps: int) -> dict:
        """Which words push the prediction up or down (backend.serving.inference.explain's keys)."""
        raise NotImplementedError(f"{type(self).__name__} has no explain")

    def batch_cells(self, run, texts: list[str], pairs: list[str] | None, usable: list[int], threshold) -> tuple:
        """Batch scoring's (columns added, cells per row, summary totals); rows not in `usable` get empty cells."""
        raise NotImplementedError(f"{type(self).__name__} has no batch_cells")

    # A module with eval_rows(run, frame), error_report(frame, max_examples) and disagreements(rows, limit), for the
    # kinds whose analysis is just those functions (multi-label, QA); the methods below call it.
    reports = None

    def eval_rows(self, run, frame) -> list[dict]:
        """One JSON-safe record per validation row (`frame`: the eval split), with `text` and `text_pair` (when the
        run reads two) so compare can line two runs' rows up."""
        return self._reports().eval_rows(run, frame)

    def error_report(self, run, frame, max_examples: int) -> dict:
        """The Results tab's report from `eval_rows`' frame (text_pair always present)."""
        return self._reports().error_report(frame, max_examples)

    def disagreements(self, rows, limit: int) -> dict:
        """The validation rows two runs predict differently, from backend.serving.compare.aligned's frame."""
        return self._reports().disagreements(rows, limit)

    def _reports(self):
        if self.reports is None:
            raise NotImplementedError(f"{type(self).__name__} has no reports")
        return self.reports

    def card_outputs(self, results: dict) -> list[str]:
        """The model card's lines saying what the model outputs."""
        raise NotImplementedError(f"{type(self).__name__} has no card_outputs")

    def card_counts(self, report, results: dict) -> list[str]:
        """The model card's table of training and validation counts from the data check `report` (none by default)."""
        return []

    def card_scope(self, results: dict) -> str:
        """What the model always answers with, for the card's limitations ("it always answers with ...")."""
        raise NotImplementedError(f"{type(self).__name__} has no card_scope")

    def card_length_note(self, spec) -> str:
        return f"- Texts longer than {spec.max_length} tokens are cut at that length."

    def card_usage(self, folder: str, spec, pairs: bool) -> str:
        """The card's "How to load it" section (backend.tasks.cards); `pairs`: the run read two texts."""
        raise NotImplementedError(f"{type(self).__name__} has no card_usage")


def unknown_kind(name, known) -> StudioError:
    return StudioError(f"Unknown task '{name}'; choose one of: {', '.join(known)}.")

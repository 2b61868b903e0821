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
    balance_title: str = "Rows per class"  # the Data tab's chart of the training labels
    inputs: tuple[str, str] = ("Text", "Second text (for text-pair models)")  # the Playground's two boxes
    second_input_always: bool = False  # the second box shows for every model of the kind (not only pair models)
    why: str = "Why this prediction"  # the Playground's explanation box
    threshold: bool = False  # the Playground offers a threshold slider (scores re-read without running the model)
    report: str = "classification"  # the Results tab's view of the error report
    input_names: tuple[str, str] = ("text", "second text")  # what Compare calls the two texts of a row


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

    def wants(self, spec, frame) -> bool:
        """Whether this kind reads the table: the user chose it, or (spec.task None) the columns look like it."""
        return spec.task == self.name

    # ---------------------------------------------------------------- model and training (backend.models, backend.training)

    # ---------------------------------------------------------------- inference, analysis, compare, export (backend.serving)


def unknown_kind(name, known) -> StudioError:
    return StudioError(f"Unknown task '{name}'; choose one of: {', '.join(known)}.")

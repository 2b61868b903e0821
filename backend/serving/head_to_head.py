"""Planning the MiniLM-vs-BERT-Base head-to-head before training, and the published reference numbers.

plan_comparison turns one DataSpec into the two JobSpecs of a fair comparison (same data, split, seed, epochs,
max length and batch size; each model at its own learning rate) with the sentences that explain the recipe.
PUBLISHED holds the MiniLM paper's numbers, marked as published and not measured here. Comparing the finished
runs is backend.serving.compare's job.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from backend.models import catalog
from backend.schemas import DataSpec, StudioError
from backend.serving.compare import truthful_label
from backend.training.presets import PRESETS, apply_preset

_CARD = "https://huggingface.co/microsoft/MiniLM-L12-H384-uncased"
PUBLISHED = {
    "source": "published (Wang et al., 2020, MiniLM paper), not measured here",
    "reference": f"{_CARD} (model card table: dev-set results; arXiv:2002.10957)",
    "note": "Dev-set results as published; the model card's table does not name the metric of each column.",
    "models": {"bert_base": {"name": "BERT-Base", "parameters": "109M"},
               "minilm": {"name": "MiniLM-L12-H384", "parameters": "33M"}},
    "speedup": {"value": 2.7, "text": "MiniLM-L12-H384 is 2.7x faster than BERT-Base (as published)"},
    "tasks": [{"task": task, "bert_base": bert, "minilm": minilm} for task, bert, minilm in (
        ("SQuAD 2.0", 76.8, 81.7), ("MNLI-m", 84.5, 85.7), ("SST-2", 93.2, 93.0), ("QNLI", 91.7, 91.5),
        ("CoLA", 58.9, 58.5), ("RTE", 68.6, 73.3), ("MRPC", 87.3, 89.5), ("QQP", 91.3, 91.3),
    )],
}

SIDES = {"minilm": "MiniLM side", "bert": "BERT-Base side"}


def plan_comparison(data_spec: DataSpec, minilm: str | None = None, bert: str | None = None,
                    preset: str = "standard", suggested_max_length: int | None = None) -> dict:
    """The two JobSpecs of a fair head-to-head: same data, split, seed, epochs, max length and batch size; each
    model at its own learning rate. The caller submits them. `suggested_max_length` is the data preview's."""
    if preset not in PRESETS:
        raise StudioError(f"Unknown preset {preset!r}; choose one of: {', '.join(PRESETS)}.")
    chosen = {role: _chosen_model(role, key) for role, key in (("minilm", minilm), ("bert", bert))}
    if chosen["minilm"][0].key == chosen["bert"][0].key:
        raise StudioError("Both sides resolve to the same model; pick a different model for one side.")
    specs = {}
    for role, (resolution, _) in chosen.items():
        spec = apply_preset(preset, replace(data_spec), resolution.key, resolution.defaults, suggested_max_length)
        spec.name = f"{SIDES[role]} · {resolution.display_name}"
        specs[role] = spec
    # The smaller batch of the two (the preset's, which already holds each model's default and the task's needs).
    specs["bert"].batch_size = specs["minilm"].batch_size = min(spec.batch_size for spec in specs.values())
    specs["bert"].max_length = specs["minilm"].max_length = min(specs["minilm"].max_length, specs["bert"].max_length)
    return {**specs, "recipe": recipe(specs, chosen, preset), "models": [
        {"role": role, "side": SIDES[role], "key": r.key, "display_name": r.display_name, "family": r.family,
         "label": truthful_label(r.display_name, r.family, role), "source": r.source,
         "num_parameters": r.num_parameters, "learning_rate": specs[role].learning_rate, "why": why}
        for role, (r, why) in chosen.items()]}


def _chosen_model(role: str, key: str | None):
    default = catalog.default_model(role)
    if key is None or key == default[0].key:
        return default  # with the sentence saying why it is the default (e.g. a stand-in offline)
    resolution = catalog.resolve(key)
    if not resolution.available:
        raise StudioError(resolution.reason)
    return resolution, f"{resolution.display_name} was chosen for the {SIDES[role]}."


def recipe(specs: dict, chosen: dict, preset: str) -> list[str]:
    small, large = specs["minilm"], specs["bert"]
    (small_model, _), (large_model, _) = chosen["minilm"], chosen["bert"]
    data = small.data
    split = (f"the validation CSV {Path(data.eval_csv).name}" if data.eval_csv
             else f"the same {data.eval_fraction:.0%} hold-out (split seed {data.split_seed})")
    sentences = [
        f"Both models train on {Path(data.train_csv).name} and are scored on {split}, with the same seed "
        f"({small.seed}), {small.epochs:g} epochs, max length {small.max_length} and batch size {small.batch_size}, "
        "so the model is the only difference.",
        f"Each model keeps its own learning rate ({small_model.display_name} {small.learning_rate:g}, "
        f"{large_model.display_name} {large.learning_rate:g}): small distilled models like MiniLM learn best with a "
        "higher rate, while BERT-Base-size models are usually fine-tuned at 2e-5; one shared rate would handicap "
        "one of them.",
        f"Batch size {small.batch_size} is the smaller of the two models' defaults, so the larger model fits in "
        "memory and both take the same number of steps.",
        f"Preset {PRESETS[preset].title}: {PRESETS[preset].blurb}",
    ]
    sentences += [why for _, why in chosen.values()]
    scale = PRESETS[preset].learning_rate_scale
    if scale != 1:
        sentences.append(f"The {PRESETS[preset].title} preset scales both models' own rates by {scale:g}.")
    if large_model.family != "BERT":
        sentences.append(f"{large_model.display_name} has the size of BERT-Base ({large_model.layers} layers, hidden "
                         f"{large_model.hidden}, {(large_model.num_parameters or 0) / 1e6:.0f}M parameters) but is not "
                         "BERT; read its scores as those of a BERT-Base-size model.")
    return sentences

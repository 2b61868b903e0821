"""Extractive QA end to end through `python -m backend`: train two tiny runs on a QA CSV whose contexts need several
windows, then predict, score a CSV, analyse, compare and export them. Trained once per module, a few seconds each."""
from __future__ import annotations

import contextlib
import csv
import io
import json
import random
import zipfile
from types import SimpleNamespace

import pytest

from backend.__main__ import main
from backend.serving import analysis

NAMES = "Ada Bruno Chen Dara Emil Farah Goran Hana".split()
CITIES = "Lisbon Oslo Quito Kyoto Tunis Perth Riga Lima".split()
THINGS = "bridge library tower mill school harbour".split()
FILLER = ["The weather that spring was mild and the markets were busy.", "Many visitors came by train from the coast.",
          "Local newspapers wrote about the festival for weeks.", "Farmers in the valley grew wheat and barley.",
          "The river flooded twice in the following decade."]
QUESTIONS = {  # kind -> (question, the answer's word in the fact); None: the context does not say
    "who": ("Who built the {thing} in {city}?", "{name}"), "when": ("When was the {thing} in {city} built?", "{year}"),
    "where": ("In which city was the {thing} built?", "{city}"), "none": ("Who painted the {thing} in {city}?", None),
}


def qa_rows(count: int, seed: int = 0) -> list[tuple]:
    """(context, question, answer_text, answer_start): a fact among filler sentences, ~70 tokens, so a 64-token
    window never holds a whole context; every fourth question has no answer in it."""
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        slots = {"name": rng.choice(NAMES), "city": rng.choice(CITIES), "thing": rng.choice(THINGS),
                 "year": str(rng.randint(1700, 1990))}
        fact = "The {thing} in {city} was built by {name} in {year}.".format(**slots)
        parts = rng.sample(FILLER, 4) + [fact]
        rng.shuffle(parts)
        context = " ".join(parts)
        question, answer = QUESTIONS[list(QUESTIONS)[i % 4]]
        answer = answer.format(**slots) if answer else ""
        start = context.index(fact) + fact.index(answer) if answer else ""
        rows.append((context, question.format(**slots), answer, start))
    return rows


def run_cli(*args: str) -> dict:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main([*map(str, args)]) == 0
    return json.loads(out.getvalue())


@pytest.fixture(scope="module")
def qa_runs(tmp_path_factory, tiny_model_dir):
    folder = tmp_path_factory.mktemp("qa-cli")
    train_csv = folder / "qa.csv"
    with train_csv.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([("context", "question", "answer_text", "answer_start"), *qa_rows(40)])
    made = {}
    for name, seed in (("a", 1), ("b", 2)):
        made[name] = folder / name
        run_cli("train", "--train-csv", train_csv, "--model", tiny_model_dir, "--max-steps", 10, "--max-length", 64,
                "--batch-size", 8, "--learning-rate", 1e-3, "--seed", seed, "--output-dir", made[name])
    return SimpleNamespace(folder=folder, a=made["a"], b=made["b"])


def test_training_writes_squad_metrics(qa_runs):
    results = json.loads((qa_runs.a / "results.json").read_text())
    assert results["task"] == "extractive_qa" and results["labels"] is None and results["main_metric"] == "f1"
    assert {"exact", "f1", "has_ans_exact", "has_ans_f1", "no_ans_exact", "no_ans_f1", "total", "has_ans_total",
            "no_ans_total"} <= set(results["metrics"])
    metrics = results["metrics"]
    assert metrics["total"] == metrics["has_ans_total"] + metrics["no_ans_total"] == results["eval_rows"]
    assert metrics["no_ans_total"] > 0 and all(0 <= metrics[name] <= 1 for name in ("exact", "f1", "no_ans_f1"))


def test_predict_takes_a_question_and_a_context(qa_runs):
    context, question, *_ = qa_rows(1, seed=5)[0]
    answer = run_cli("predict", "--run-dir", qa_runs.a, "--question", question, "--context", context)
    assert {"answer", "start", "end", "score", "no_answer", "no_answer_score", "latency_ms"} <= set(answer)
    if not answer["no_answer"]:
        assert context[answer["start"]:answer["end"]] == answer["answer"]


def test_predict_without_a_context_exits_2_with_one_line(qa_runs, capsys):
    assert main(["predict", "--run-dir", str(qa_runs.a), "--question", "Who built it?"]) == 2
    assert capsys.readouterr().err.strip().startswith("error: This model answers a question from a context")


def test_a_csv_of_questions_gets_answers(qa_runs):
    rows = [(question, context) for context, question, *_ in qa_rows(5, seed=9)] + [("No context here?", "")]
    source, output = qa_runs.folder / "questions.csv", qa_runs.folder / "answers.csv"
    with source.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([("question", "context"), *rows])
    summary = run_cli("predict", "--run-dir", qa_runs.a, "--csv", source, "--output", output)
    assert summary["columns_added"] == ["predicted_answer", "answer_start", "answer_score", "no_answer"]
    assert (summary["scored_rows"], summary["skipped_rows"]) == (5, 1)
    assert sum(summary["answer_counts"].values()) == 5
    with output.open(encoding="utf-8") as handle:
        scored = list(csv.DictReader(handle))
    for row in scored[:5]:
        assert row["no_answer"] in ("true", "false") and 0 <= float(row["answer_score"]) <= 1
        if row["no_answer"] == "false":
            start = int(row["answer_start"])
            assert row["context"][start:start + len(row["predicted_answer"])] == row["predicted_answer"]
    assert scored[5]["predicted_answer"] == scored[5]["no_answer"] == ""


def test_error_analysis_splits_the_mistakes_by_kind(qa_runs):
    report = analysis.error_analysis(qa_runs.a)
    results = json.loads((qa_runs.a / "results.json").read_text())
    assert report["f1"] == pytest.approx(results["metrics"]["f1"], abs=1e-6)  # the trainer's scoring, recomputed
    assert sum(report["outcomes"].values()) == report["rows"]  # each question lands in exactly one outcome
    assert report["outcomes"]["answered_unanswerable"] == len(report["answered_unanswerable"])
    for example in report["wrong_answers"]:
        assert {"question", "context", "gold", "predicted", "score", "f1"} == set(example)


def test_compare_names_squad_metrics_and_lists_different_answers(qa_runs):
    result = run_cli("compare", qa_runs.a, qa_runs.b)
    names = {row["name"] for row in result["differences"]["metrics"].values()}
    assert {"exact match", "F1", "F1 (has answer)", "F1 (no answer)"} <= names
    assert "total" not in result["differences"]["metrics"]
    found = result["disagreements"]
    assert found["compared"] == result["a"]["eval_rows"]
    for example in found["examples"]:
        assert example["a"]["answer"].lower() != example["b"]["answer"].lower()
    assert result["a"]["speed"]["latency_p50_ms"] > 0 and result["b"]["speed"]["throughput_rows_per_s"] > 0


def test_the_export_loads_as_a_question_answering_model(qa_runs, monkeypatch):
    from transformers import AutoModelForQuestionAnswering

    archive_path = qa_runs.folder / "qa.zip"
    run_cli("export", "--run-dir", qa_runs.a, "--output", archive_path)
    unpacked = qa_runs.folder / "unzipped"
    with zipfile.ZipFile(archive_path) as archive:
        archive.extractall(unpacked)
    (top,) = list(unpacked.iterdir())
    model = AutoModelForQuestionAnswering.from_pretrained(top)
    assert type(model).__name__ == "BertForQuestionAnswering"
    card = (top / "README.md").read_text(encoding="utf-8")
    assert "pipeline_tag: question-answering" in card and "handle_impossible_answer=True" in card
    snippet = card.split("```python\n")[1].split("```")[0]
    monkeypatch.chdir(unpacked)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(snippet, "README.md", "exec"), {})  # the card's own code runs as written
    answer = printed.getvalue().strip()
    assert answer == "no answer" or answer in "The bridge was built in 1887 by Ada Smith."

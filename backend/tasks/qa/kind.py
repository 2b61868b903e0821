"""Extractive question answering (SQuAD 2.0 style): the answer is a span of the context, or there is none."""
from __future__ import annotations

from backend.tasks.base import TaskKind, Views


class ExtractiveQA(TaskKind):
    name = "extractive_qa"
    title = "Extractive question answering"
    model_class_name = "AutoModelForQuestionAnswering"
    pipeline_tag = "question-answering"
    has_labels = False
    reads_pairs = True  # a question and its context
    main_metric = "f1"  # F1 over answer words, SQuAD's headline number; exact match gives no credit for a near miss
    views = Views(
        roles={"text_column": "Question column", "text_pair_column": "Context column",
               "label_column": "Answer text column", "answer_start_column": "Answer start column"},
        sample="qa_windows", balance_title="Questions with and without an answer in the context",
        inputs=("Question", "Context"), second_input_always=True, why="Why this answer", report="qa",
        input_names=("question", "context"))

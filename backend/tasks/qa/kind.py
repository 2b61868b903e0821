"""Extractive question answering (SQuAD 2.0 style): the answer is a span of the context, or there is none."""
from __future__ import annotations

from backend.schemas import StudioError
from backend.tasks.base import TaskKind, Views
from backend.tasks.qa import analysis


class ExtractiveQA(TaskKind):
    name = "extractive_qa"
    title = "Extractive question answering"
    model_class_name = "AutoModelForQuestionAnswering"
    pipeline_tag = "question-answering"
    has_labels = False
    reads_pairs = True  # a question and its context
    main_metric = "f1"  # F1 over answer words, SQuAD's headline number; exact match gives no credit for a near miss
    reports = analysis
    views = Views(
        roles={"text_column": "Question column", "text_pair_column": "Context column",
               "label_column": "Answer text column",
               "answer_start_column": "Answer start column (character offset in the context)"},
        sample="qa_windows", stats="qa_windows", balance_title="Questions with and without an answer in the context",
        inputs=("Question", "Context: the text the answer is taken from"), second_input_always=True,
        why="The answer, marked in the context", report="qa",
        input_names=("question", "context"), columns_note="question_context_answer",
        playground="qa_answer", sample_csv=("qa_questions.csv", "Questions & answers"))

    # ---- data and preview
    # (backend.tasks.qa.data and preview are imported when used: they bring pandas, scikit-learn and tokenizers.)
    # The roles are a text pair's, as the model reads them, so the command line names them as QA does too.
    cli_aliases = {"text_column": ("--question-column",), "text_pair_column": ("--context-column",),
                   "label_column": ("--answer-column",), "text": ("--question",), "text_pair": ("--context",)}

    def wants(self, spec, frame) -> bool:
        """Asked for, or not told and the table looks so: an answer start column is given, or the headers say
        question, context and answer (backend.tasks.qa.data.looks_like_qa). Not when the user said "no second
        text", which QA cannot be: the table then reads as classification."""
        if spec.task is not None or spec.text_pair_column == "":
            return spec.task == self.name
        from backend.tasks.qa.data import looks_like_qa

        return bool(spec.answer_start_column or looks_like_qa(frame))

    def load_splits(self, spec, table):
        """Questions, contexts and answer spans checked row by row, held out by context."""
        from backend.tasks.qa import data

        return data.load_splits(spec, table, self)

    def previewer(self, frame, report, max_length, sample_rows, doc_stride):
        """The rows training would use, in windows over long contexts, and whether each answer fits in one."""
        from functools import partial

        from backend.tasks.qa import data, preview

        return partial(preview.preview, data.usable_rows(frame, report), max_length=max_length,
                       doc_stride=doc_stride, sample_rows=sample_rows)

    # ---- training
    # Extractive QA learns two pointers (answer start and end) per window from a few hundred questions: on the QA
    # sample with all-MiniLM-L6-v2, 3 epochs at batch 32 left has-answer F1 near 0.03, while batch 8 for 5 epochs
    # reached F1 0.80 (0.82 on answerable questions) in under a minute on 2 CPU cores. So QA jobs take at most this
    # batch size and at least these epochs. (backend.tasks.qa.features and backend.data.batching are imported when
    # used: they bring torch, and the registry is read before anything trains.)
    MAX_BATCH_SIZE, MIN_EPOCHS = 8, 5

    def head_config(self, labels) -> dict:
        """Nothing to configure: the head always has two outputs per token, answer start and answer end."""
        return {}

    def dataloaders(self, spec, splits, tokenizer, model):
        """Windows in length-grouped, dynamically padded batches, and an Evaluation that turns the windows' logits into
        one answer per question and scores them as SQuAD 2.0 does."""
        from backend.data.batching import Evaluation, LengthGroupedBatches, SortedBatches
        from backend.tasks.qa import features

        stride = features.checked_stride(spec.max_length, spec.doc_stride)
        if len(splits.train) == 0 or len(splits.eval) == 0:  # (the tokenizer fails on an empty batch)
            raise StudioError("The training or evaluation set is empty; check the CSV files and the eval fraction.")
        train_set = features.training_windows(splits.train, tokenizer, spec.max_length, stride)
        eval_set, offsets = features.evaluation_windows(splits.eval, tokenizer, spec.max_length, stride)
        pad = tokenizer.pad_token_id or 0
        train_dl = features.loader(train_set, LengthGroupedBatches(train_set.lengths, spec.batch_size, spec.seed),
                                   features.QACollator(pad, training=True), spec.seed)
        eval_dl = features.loader(eval_set, SortedBatches(eval_set.lengths, spec.batch_size * 2),
                                  features.QACollator(pad, training=False), spec.seed)
        contexts = splits.eval["context"].astype(str).tolist()
        golds = [[answer] for answer in splits.eval["answer_text"].astype(str).tolist()]  # [""]: no answer

        def score(outputs, rows) -> dict:
            return self.metrics(features.predicted_answers(outputs, rows, offsets, contexts), golds)
        return train_dl, eval_dl, Evaluation(outputs=lambda output: features.span_logits(output, spec.max_length),
                                             score=score)

    def metrics(self, outputs, gold) -> dict[str, float]:
        """SQuAD 2.0 exact match and F1 with the has-answer / no-answer breakdown; `outputs` are the predicted
        answers ("" for none), `gold` each question's list of right answers."""
        from backend.tasks.metrics import qa_metrics

        return qa_metrics(outputs, gold)

    def preset(self, preset, batch_size: int) -> dict:
        """Small batches and more epochs (see MAX_BATCH_SIZE), and a window long enough to hold the question and a
        stretch of context."""
        return {"epochs": max(preset.epochs, self.MIN_EPOCHS), "batch_size": min(batch_size, self.MAX_BATCH_SIZE),
                "max_length_cap": preset.window_length_cap}

    def tokens_per_row(self, mean_tokens: float, spec) -> float:
        """A context longer than max_length is read in windows that overlap by the stride, so its tokens count once
        plus the overlaps."""
        from backend.tasks.qa.features import stride_for

        if mean_tokens <= spec.max_length:
            return mean_tokens
        stride = stride_for(spec.max_length, spec.doc_stride)
        return mean_tokens * spec.max_length / max(spec.max_length - stride, 1)

    # ---- serving
    # (backend.tasks.qa.inference and analysis are imported when used: they bring torch and pandas.) The question is
    # the text, the context the second text; a missing context is said by qa.inference, not by the pair check.

    def predict_scores(self, run, texts, pairs, batch_size):
        """The probability of each question's answer (of no answer when the model abstains), (rows,)."""
        from backend.tasks.qa import inference

        return inference.answer_scores(run, texts, inference.contexts(texts, pairs), batch_size)

    def predict(self, run, texts, pairs, batch_size, threshold):
        from backend.tasks.qa import inference

        return inference.predict_answers(run, texts, inference.contexts(texts, pairs), batch_size)

    def predict_one(self, run, text, pair, threshold):
        from backend.tasks.qa import inference

        return inference.predict_answer(run, text, pair)

    def explain(self, run, text, pair, target, steps):
        """The answer explained instead of a label: see qa.inference.explain_answer."""
        from backend.tasks.qa import inference

        return inference.explain_answer(run, text, pair, steps)

    def batch_cells(self, run, texts, pairs, usable, threshold):
        from backend.tasks.qa import inference

        return inference.answer_cells(run, texts, pairs, usable)

    def card_outputs(self, results):
        return ["Output: the answer as a span of the context it is given, or no answer when the context does not "
                "answer the question (SQuAD 2.0 style)."]

    def card_counts(self, report, results):
        return ["| questions | training | validation |", "| --- | ---: | ---: |"] + [
            f"| {kind} | {report.label_counts.get(kind, 0)} | {report.eval_label_counts.get(kind, 0)} |"
            for kind in ("has answer", "no answer")]

    def card_scope(self, results):
        return "a span of the context it is given or no answer"

    def card_length_note(self, spec):
        from backend.tasks.qa.card import length_note

        return length_note(spec)

    def card_usage(self, folder, spec, pairs):
        from backend.tasks.qa.card import usage

        return usage(folder, spec)

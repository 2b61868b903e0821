"""Token classification (named entities): one IOB2 tag per word, learnt and read on each word's first word piece."""
from __future__ import annotations

from backend.tasks.base import TaskKind, Views


class TokenClassification(TaskKind):
    name = "token_classification"
    title = "Token classification (named entities)"
    model_class_name = "AutoModelForTokenClassification"
    pipeline_tag = "token-classification"
    has_labels = True  # the tags: O, B-TYPE, I-TYPE (config.id2label)
    reads_pairs = False
    main_metric = "f1"  # seqeval's entity F1 pooled over types (strict IOB2); token accuracy is high for a model tagging O
    views = Views(
        roles={"text_column": "Tokens column (words, space-separated or a JSON list)",
               "label_column": "Tags column (one IOB2 tag per word)"},
        sample="word_pieces", stats="word_pieces", balance_title="Words per tag", label_noun="tags",
        inputs=("Text", ""), why="Entities in the text (type and confidence)", report="entities",
        input_names=("sentence", ""), columns_note="tokens_and_tags", playground="entities",
        sample_csv=("ner_people_places.csv", "People & places (NER)"))
    cli_aliases = {"text_column": ("--tokens-column",), "label_column": ("--tags-column",)}

    # ---- data and preview
    # (backend.tasks.tokens.data and preview are imported when used: they bring pandas and tokenizers.)

    def wants(self, spec, frame) -> bool:
        """Asked for, or not told and the table has a column of IOB2 tags and one of as many words a row (see
        data.looks_like_tokens); not when a second text or several label columns are chosen."""
        if spec.task is not None or spec.text_pair_column or getattr(spec, "label_columns", None):
            return spec.task == self.name
        from backend.tasks.tokens.data import looks_like_tokens

        return looks_like_tokens(frame)

    def load_splits(self, spec, table):
        """Words and tags checked row by row (counts, tag shapes, I- repaired), sentences held out at random."""
        from backend.tasks.tokens import data

        return data.load_splits(spec, table, self)

    def previewer(self, frame, report, max_length, sample_rows, doc_stride):
        """The sentences training would use, as words, their word pieces and tags, and how many windows each takes."""
        from functools import partial

        from backend.tasks.tokens import data, preview

        roles = {"text_column": report.text_column, "label_column": report.label_column}
        return partial(preview.preview, data.read_rows(frame, roles, "")[0], max_length=max_length,
                       doc_stride=doc_stride, sample_rows=sample_rows)

    # ---- training
    # (backend.tasks.tokens.features is imported when used: it brings torch.)

    def head_config(self, labels) -> dict:
        """The tags in the data check's order (O, then B- and I- per type), named in the saved config."""
        from backend.tasks.tokens.features import head_config

        return head_config(list(labels))

    def dataloaders(self, spec, splits, tokenizer, model):
        """Sentences in windows of whole words, tags on first pieces; evaluation reads each word once."""
        from backend.tasks.tokens.features import tokens_dataloaders

        return tokens_dataloaders(spec, splits, tokenizer, model)

    def metrics(self, outputs, gold) -> dict[str, float]:
        """seqeval entity precision, recall and F1 (micro and per type) and token accuracy; `outputs` are the
        predicted tags per sentence, `gold` the gold tags."""
        from backend.tasks.tokens.metrics import token_metrics

        return token_metrics(outputs, gold)

    def preset(self, preset, batch_size: int) -> dict:
        """Windows as long as QA's: a sentence longer than one is read in several, nothing is cut."""
        return super().preset(preset, batch_size) | {"max_length_cap": preset.window_length_cap}

    def tokens_per_row(self, mean_tokens: float, spec) -> float:
        """A sentence longer than max_length is read in windows sharing up to the stride's pieces."""
        from backend.tasks.qa.features import stride_for

        if mean_tokens <= spec.max_length:
            return mean_tokens
        return mean_tokens * spec.max_length / max(spec.max_length - stride_for(spec.max_length, spec.doc_stride), 1)

    # ---- serving
    # (backend.tasks.tokens.inference and analysis are imported when used: they bring torch and pandas.) The text is
    # raw: it is split into words (inference.split_words) and entities point into it by character offsets.

    def predict_scores(self, run, texts, pairs, batch_size):
        """The probability of each text's least sure entity (1 when it has none), (rows,)."""
        from backend.tasks.tokens import inference

        return inference.entity_scores(run, texts, batch_size)

    def predict(self, run, texts, pairs, batch_size, threshold):
        """{"entities": [{text, type, start, end, score}]} per text."""
        from backend.tasks.tokens import inference

        return [{"entities": found} for found in inference.run_entities(run, texts, batch_size)]

    def predict_one(self, run, text, pair, threshold):
        from backend.tasks.tokens import inference

        return inference.predict_one(run, text)

    def explain(self, run, text, pair, target, steps):
        """The tag of the surest entity's first word explained (see inference.explain_entity)."""
        from backend.tasks.tokens import inference

        return inference.explain_entity(run, text, steps)

    def batch_cells(self, run, texts, pairs, usable, threshold):
        from backend.tasks.tokens import inference

        return inference.entity_cells(run, texts, usable)

    def eval_rows(self, run, frame):
        from backend.tasks.tokens import analysis, inference

        return analysis.eval_rows(inference.eval_rows(run.model, run.tokenizer, frame, dict(enumerate(run.labels)),
                                                      run.max_length, inference.run_stride(run)))

    def error_report(self, run, frame, max_examples):
        """Per-type scores, found / missed / spurious entities and examples, the tag confusion matrix."""
        from backend.tasks.tokens import analysis

        return analysis.error_report(frame, max_examples)

    def disagreements(self, rows, limit):
        from backend.tasks.tokens import analysis

        return analysis.disagreements(rows, limit)

    def card_outputs(self, results):
        return ["Tags (IOB2, in the order of the model's outputs): " + ", ".join(f"`{t}`" for t in results["labels"]),
                "", "One tag per word, read on the word's first word piece; B- starts an entity, I- continues it."]

    def card_counts(self, report, results):
        return ["| tag | training words | validation words |", "| --- | ---: | ---: |"] + [
            f"| {tag} | {report.label_counts.get(tag, 0)} | {report.eval_label_counts.get(tag, 0)} |"
            for tag in results["labels"]]

    def card_scope(self, results):
        types = sorted({tag[2:] for tag in results["labels"] if tag != "O"})
        return f"entities of the types {', '.join(types)} (or none)"

    def card_length_note(self, spec):
        from backend.tasks.tokens.card import length_note

        return length_note(spec)

    def card_usage(self, folder, spec, pairs):
        from backend.tasks.tokens.card import usage

        return usage(folder, spec)

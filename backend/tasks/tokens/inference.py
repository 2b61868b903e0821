"""Named entities with a trained token-classification model: raw text -> words -> one tag per word -> entities.

Raw text (the Playground, batch scoring) is split into words as the training CSVs usually are: runs of letters and
digits (with inner hyphens and apostrophes: "Jean-Luc", "O'Brien"), and every other non-space character on its own
("," "." "(" "$"), each with its character offsets. The words are read in windows as in training
(`features.encode_windows`); each word's tag comes from its most central window; entities are the repaired IOB2
spans (`metrics.entity_spans`), their offsets pointing into the text as given and their score the mean probability
of their words' tags. Everything here takes a plain model, tokenizer, id2label, max_length and stride.
"""
from __future__ import annotations

import json
import re
import time

import numpy as np
import pandas as pd
import torch

from backend.data.batching import Collator
from backend.schemas import StudioError
from backend.tasks import attribution
from backend.tasks.qa.features import stride_for
from backend.tasks.tokens import features
from backend.tasks.tokens.metrics import entity_spans

BATCH_SIZE = 32
DIGITS = 6
WORD = re.compile(r"\w+(?:[-'’]\w+)*|[^\w\s]")


def split_words(text: str) -> list[tuple[str, int, int]]:
    """(word, start, end) of each word of a text, end exclusive: `text[start:end] == word`."""
    return [(match.group(), match.start(), match.end()) for match in WORD.finditer(text)]


def window_logits(model, tokenizer, windows: features.Windows, batch_size: int = BATCH_SIZE) -> np.ndarray:
    """(windows, longest window, tags) logits, the windows sorted by length and padded per batch to its own longest,
    as the trainer evaluates; positions past a window's end are never read."""
    inputs, lengths = features.model_inputs(tokenizer, windows.encoding)
    device = next(model.parameters()).device
    logits = np.zeros((len(lengths), int(max(lengths, default=1)), model.config.num_labels), dtype=np.float32)
    order = np.argsort(-lengths, kind="stable")
    collate = Collator(tokenizer.pad_token_id or 0, float_labels=False)
    model.eval()
    with torch.inference_mode():
        for first in range(0, len(order), batch_size):
            rows = order[first:first + batch_size].tolist()
            batch = collate([(i, {name: values[i] for name, values in inputs.items()}, 0) for i in rows])
            output = model(**{name: batch[name].to(device) for name in inputs})
            found = output.logits.float().cpu().numpy()
            logits[rows, :found.shape[1]] = found
    return logits


def predict_tags(model, tokenizer, sentences: list[list[str]], id2label: dict, max_length: int, stride: int,
                 batch_size: int = BATCH_SIZE) -> list[tuple[list[str], list[float]]]:
    """(tags, probabilities) of the words of each sentence, one tag per word (repaired IOB2)."""
    if not sentences:
        return []
    id2label = {int(i): label for i, label in id2label.items()}
    windows = features.encode_windows(tokenizer, sentences, max_length, stride)
    logits = window_logits(model, tokenizer, windows, batch_size)
    return [features.decode(p, id2label) for p in features.word_probabilities(logits, windows)]


def as_entities(text: str, words: list[tuple[str, int, int]], tags: list[str], scores: list[float]) -> list[dict]:
    """[{text, type, start, end, score}] of the entities in a text's tagged words, in text order."""
    found = []
    for kind, first, last in entity_spans(tags):
        start, end = words[first][1], words[last][2]
        found.append({"text": text[start:end], "type": kind, "start": start, "end": end,
                      "score": round(float(np.mean(scores[first:last + 1])), DIGITS)})
    return found


def tag_texts(model, tokenizer, texts: list[str], id2label: dict, max_length: int, stride: int,
              batch_size: int = BATCH_SIZE) -> list[dict]:
    """Per text: {"words": [{text, start, end, tag, score}], "entities": `as_entities`}. A blank text has none."""
    texts = ["" if text is None else str(text) for text in texts]
    split = [split_words(text) for text in texts]
    tagged = predict_tags(model, tokenizer, [[word for word, _, _ in words] for words in split], id2label,
                          max_length, stride, batch_size)
    results = []
    for text, words, (tags, scores) in zip(texts, split, tagged):
        results.append({"words": [{"text": word, "start": start, "end": end, "tag": tag, "score": score}
                                  for (word, start, end), tag, score in zip(words, tags, scores)],
                        "entities": as_entities(text, words, tags, scores)})
    return results


def predict_entities(model, tokenizer, texts: list[str], id2label: dict, max_length: int, stride: int,
                     batch_size: int = BATCH_SIZE) -> list[list[dict]]:
    """The entities of each text: [{"text", "type", "start", "end", "score"}], character offsets into the text as
    given (end exclusive), score the mean probability of the entity's word tags."""
    return [tagged["entities"] for tagged in tag_texts(model, tokenizer, texts, id2label, max_length, stride,
                                                       batch_size)]


def predict_text(model, tokenizer, text: str, id2label: dict, max_length: int, stride: int) -> dict:
    """One Playground text: `tag_texts`'s record; an empty text is refused with a sentence to act on."""
    if text is None or not str(text).strip():
        raise StudioError("Type a sentence to find its named entities.")
    return tag_texts(model, tokenizer, [text], id2label, max_length, stride)[0]


def entities_cell(entities: list[dict]) -> str:
    """The `entities` column of batch scoring: the entities as one compact JSON list, `[]` for none.

    JSON rather than a "PER: John Smith; LOC: Paris" string: the offsets and scores survive (two mentions of one name
    stay apart), a name holding ";" or ":" stays unambiguous, and `json.loads` (or any language's JSON reader) gives
    the records back, which a spreadsheet user can still read.
    """
    return json.dumps(entities, ensure_ascii=False, separators=(", ", ": "))


def eval_rows(model, tokenizer, frame: pd.DataFrame, id2label: dict, max_length: int, stride: int,
              batch_size: int = BATCH_SIZE) -> pd.DataFrame:
    """The evaluation sentences (tokens, tags) with the model's `predicted` tags and their `scores`, what
    `analysis.error_report` reads."""
    sentences = features.sentences_of(frame)
    tagged = predict_tags(model, tokenizer, sentences, id2label, max_length, stride, batch_size)
    return frame.assign(predicted=[tags for tags, _ in tagged], scores=[scores for _, scores in tagged])


# ---------------------------------------------------------------- a finished run (backend.serving's LoadedRun)

def run_stride(run) -> int:
    """The word pieces neighbouring windows share, as the run trained with."""
    return stride_for(run.max_length, run.spec.doc_stride)


def run_entities(run, texts: list[str], batch_size: int = BATCH_SIZE) -> list[list[dict]]:
    return predict_entities(run.model, run.tokenizer, texts, dict(enumerate(run.labels)), run.max_length,
                            run_stride(run), batch_size)


def entity_scores(run, texts: list[str], batch_size: int = BATCH_SIZE) -> np.ndarray:
    """Per text the probability of its least sure entity (1 for a text with none): how sure the whole tagging is."""
    return np.array([min((e["score"] for e in found), default=1.0) for found in run_entities(run, texts, batch_size)],
                    dtype=np.float32)


def predict_one(run, text: str) -> dict:
    """{"entities": [...], "latency_ms"}: split, window, forward and decode one text."""
    started = time.perf_counter()
    found = predict_text(run.model, run.tokenizer, text, dict(enumerate(run.labels)), run.max_length,
                         run_stride(run))
    return {"entities": found["entities"], "latency_ms": round((time.perf_counter() - started) * 1000, 3)}


def entity_cells(run, texts: list[str], usable: list[int]) -> tuple:
    """Batch scoring: an `entities` column (`entities_cell`), "" for rows not scored; entity_counts {type: count}."""
    found = run_entities(run, [texts[i] for i in usable])
    cells = [[""] for _ in texts]
    counts: dict[str, int] = {}
    for i, entities in zip(usable, found):
        cells[i] = [entities_cell(entities)]
        for entity in entities:
            counts[entity["type"]] = counts.get(entity["type"], 0) + 1
    return ["entities"], cells, {"entity_counts": dict(sorted(counts.items()))}


def explain_entity(run, text: str, steps: int) -> dict:
    """Which words raise the log-probability of the tag the model gave the first word of its surest entity, by
    Integrated Gradients over the window that tag was read from (tasks/attribution.py), as explain does for labels.
    Keys: label (the tag), entity, method, steps, prediction, truncated (the text had more windows), tokens,
    words [{word, score, segment, start, end}] (character offsets into the text); scores scaled to [-1, 1]."""
    if text is None or not str(text).strip():
        raise StudioError("Type a sentence to find its named entities.")
    text, id2label = str(text), dict(enumerate(run.labels))
    words = split_words(text)
    windows = features.encode_windows(run.tokenizer, [[w for w, _, _ in words]], run.max_length, run_stride(run))
    logits = window_logits(run.model, run.tokenizer, windows)
    tags, scores = features.decode(features.word_probabilities(logits, windows)[0], id2label)
    entities = as_entities(text, words, tags, scores)
    if not entities:
        raise StudioError("The model finds no entity in this text, so there is no entity to explain.")
    surest = max(entities, key=lambda entity: entity["score"])
    first = next(i for i, (_, start, _) in enumerate(words) if start == surest["start"])
    window, position = windows.chosen[0][first]
    tag = int(logits[window, position].argmax())
    encoding = windows.encoding
    inputs = {name: torch.tensor([encoding[name][window]], device=run.device) for name in run.input_names}
    special = torch.tensor([[word is None for word in encoding.word_ids(window)]])
    attributions = attribution.integrated_gradients(
        run.model, run.tokenizer.pad_token_id or 0, inputs, special,
        lambda output: torch.log_softmax(output.logits[:, position], dim=-1)[:, tag], steps)[0].cpu()
    return {"label": id2label[tag], "entity": surest, "method": "integrated_gradients", "steps": steps,
            "prediction": {"entities": entities}, "truncated": len(windows.rows) > 1,
            "tokens": _token_scores(run.tokenizer, encoding, attributions, window),
            "words": _word_scores(encoding, attributions, window, int(windows.starts[window]), words)}


def _token_scores(tokenizer, encoding, attributions, window: int) -> list[dict]:
    names = tokenizer.convert_ids_to_tokens(encoding["input_ids"][window])
    return [{"token": name, "score": score, "segment": None if word is None else 0, "special": word is None}
            for name, score, word in zip(names, attribution.scaled(attributions.tolist()), encoding.word_ids(window))]


def _word_scores(encoding, attributions, window: int, start: int, words: list[tuple[str, int, int]]) -> list[dict]:
    """Word pieces summed into the text's words they came from, with the words' character offsets."""
    sums: dict[int, float] = {}
    for position, word in enumerate(encoding.word_ids(window)):
        if word is not None:
            sums[word + start] = sums.get(word + start, 0.0) + float(attributions[position])
    return [{"word": words[i][0], "segment": 0, "start": words[i][1], "end": words[i][2], "score": score}
            for i, score in zip(sums, attribution.scaled(list(sums.values())))]

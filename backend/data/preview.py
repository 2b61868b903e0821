"""Token previews and length statistics: what the model will see, and how long the texts are in word pieces.

Statistics cover every row and stay fast (100,000 rows in a few seconds on 2 cores): the Rust tokenizer encodes
in chunks, without padding, truncation or tensors. Only the sample rows get the full detail (tokens, ids, masks).
Everything returned is plain JSON-safe data. The kinds preview their rows with these (`TaskKind.previewer`), and
backend.tasks.loading.preview_data chooses the kind.
"""
from __future__ import annotations

import json
import math
import time
from functools import partial

import numpy as np

from backend.schemas import StudioError

CHUNK_ROWS = 10_000  # bounds the Encoding objects alive at once
HISTOGRAM_BINS = 20
LENGTH_MULTIPLE = 8  # suggested max lengths are multiples of 8 (friendlier to matrix kernels)
MIN_SUGGESTED_LENGTH = 16
MIN_MAX_LENGTH = 8  # room for the special tokens of a pair and a few word pieces
FALLBACK_MAX_POSITIONS = 512  # when the tokenizer does not know its model's limit
TRUNCATION_WARNING_SHARE = 0.05
UNK_WARNING_RATE = 0.01


def preview(frame, text_column: str, text_pair_column: str | None, tokenizer, max_length: int = 128,
            sample_rows: int = 5) -> dict:
    """Length statistics over all rows and the first sample_rows rows as tokens, for one tokenizer.

    Keys: rows, pair, max_length, max_positions, mean, p50, p95, max (lengths in tokens, special tokens included),
    truncated_rows, truncated_share, unk_tokens, unk_rate, suggested_max_length, histogram {edges, counts},
    warnings, tokenizer {name, vocab_size, lowercase}, samples, seconds.
    """
    started = time.perf_counter()
    check_max_length(max_length)
    texts = column_texts(frame, text_column)
    pairs = column_texts(frame, text_pair_column) if text_pair_column else None
    if not texts:
        raise StudioError("The table has no rows to preview.")
    lengths, unknown = count_tokens(tokenizer, texts, pairs)
    limit = max_positions(tokenizer)
    result = {"rows": len(texts), "pair": pairs is not None, "max_length": max_length, "max_positions": limit}
    result |= length_statistics(lengths, min(max_length, limit), limit)  # inputs are cut at the positions anyway
    result |= unknown_statistics(unknown, int(lengths.sum()) - len(texts) * _special_count(tokenizer, pairs))
    result["warnings"] = preview_warnings(result)
    result["tokenizer"] = describe_tokenizer(tokenizer)
    result["samples"] = [sample_detail(tokenizer, texts[row], pairs[row] if pairs else None, min(max_length, limit),
                                       row, int(lengths[row])) for row in range(min(sample_rows, len(texts)))]
    result["seconds"] = round(time.perf_counter() - started, 3)
    return result


def preview_comparison(frame, text_column: str, text_pair_column: str | None, tokenizer, other_tokenizer,
                       max_length: int = 128, sample_rows: int = 5) -> dict:
    """The preview for the MiniLM tokenizer and for the BERT-side one, and whether (and how) the two differ.

    Keys: minilm, bert (two preview dicts), same_tokenizer (bool), difference (one sentence).
    Identical tokenizers are counted once.
    """
    preview_of = partial(preview, frame, text_column, text_pair_column, max_length=max_length, sample_rows=sample_rows)
    return compare_previews(preview_of, tokenizer, other_tokenizer)


def compare_previews(preview_of, tokenizer, other_tokenizer) -> dict:
    """`preview_of(tokenizer)` for both tokenizers, as `preview_comparison` describes; any task's preview."""
    same, sentence = compare_tokenizers(tokenizer, other_tokenizer)
    first = preview_of(tokenizer)
    if same and max_positions(tokenizer) == max_positions(other_tokenizer):
        second = dict(first, tokenizer=describe_tokenizer(other_tokenizer))
    else:
        second = preview_of(other_tokenizer)
    return {"minilm": first, "bert": second, "same_tokenizer": same, "difference": sentence}


# ---------------------------------------------------------------- counting


def column_texts(frame, column: str) -> list[str]:
    if column not in frame.columns:
        raise StudioError(f"The table has no column {column!r}; its columns are {', '.join(map(str, frame.columns))}.")
    return frame[column].fillna("").astype(str).tolist()


def count_tokens(tokenizer, texts: list[str], pairs: list[str] | None) -> tuple[np.ndarray, np.ndarray]:
    """Tokens per row (special tokens included, nothing truncated) and [UNK] tokens per row."""
    inputs = list(zip(texts, pairs)) if pairs is not None else texts
    backend = _untruncated_backend(tokenizer)
    unk_id = getattr(tokenizer, "unk_token_id", None)
    lengths, unknown = np.zeros(len(inputs), dtype=np.int64), np.zeros(len(inputs), dtype=np.int64)
    for start in range(0, len(inputs), CHUNK_ROWS):
        chunk = inputs[start:start + CHUNK_ROWS]
        for offset, ids in enumerate(_encode_ids(tokenizer, backend, chunk), start):
            lengths[offset] = len(ids)
            unknown[offset] = ids.count(unk_id) if unk_id is not None else 0
    return lengths, unknown


def _untruncated_backend(tokenizer):
    """A private copy of the Rust tokenizer with padding and truncation off (tokenizer.json files often set both)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return None
    from tokenizers import Tokenizer

    copy = Tokenizer.from_str(backend.to_str())
    copy.no_truncation()
    copy.no_padding()
    return copy


def _encode_ids(tokenizer, backend, chunk: list) -> list[list[int]]:
    if backend is not None:
        return [encoding.ids for encoding in backend.encode_batch_fast(chunk, add_special_tokens=True)]
    # Tokenizers without a Rust backend: slower, still no padding and no tensors.
    is_pair = bool(chunk) and isinstance(chunk[0], tuple)
    firsts = [item[0] for item in chunk] if is_pair else chunk
    seconds = [item[1] for item in chunk] if is_pair else None
    return tokenizer(firsts, seconds, add_special_tokens=True, return_attention_mask=False,
                     return_token_type_ids=False)["input_ids"]


def _special_count(tokenizer, pairs) -> int:
    return tokenizer.num_special_tokens_to_add(pair=pairs is not None)


def max_positions(tokenizer) -> int:
    """The longest input the model takes; tokenizers without a real limit report a huge sentinel."""
    limit = getattr(tokenizer, "model_max_length", None)
    return int(limit) if isinstance(limit, int) and 0 < limit < 100_000 else FALLBACK_MAX_POSITIONS


# ---------------------------------------------------------------- statistics


def length_statistics(lengths: np.ndarray, max_length: int, limit: int) -> dict:
    p95 = int(np.percentile(lengths, 95, method="higher"))
    truncated = int((lengths > max_length).sum())
    return {
        "mean": round(float(lengths.mean()), 2),
        "p50": int(np.percentile(lengths, 50, method="higher")),
        "p95": p95,
        "max": int(lengths.max()),
        "truncated_rows": truncated,
        "truncated_share": round(truncated / len(lengths), 4),
        "suggested_max_length": suggest_max_length(p95, limit),
        "histogram": length_histogram(lengths),
    }


def unknown_statistics(unknown: np.ndarray, word_pieces: int) -> dict:
    """[UNK] share among the non-special tokens."""
    count = int(unknown.sum())
    return {"unk_tokens": count, "unk_rate": round(count / word_pieces, 5) if word_pieces > 0 else 0.0}


def suggest_max_length(p95: int, limit: int) -> int:
    """p95 rounded up to a multiple of 8, at least 16, never above the model's positions."""
    rounded = math.ceil(p95 / LENGTH_MULTIPLE) * LENGTH_MULTIPLE
    return min(limit, max(MIN_SUGGESTED_LENGTH, rounded))


def length_histogram(lengths: np.ndarray, bins: int = HISTOGRAM_BINS) -> dict:
    """Integer-width bins from the shortest to the longest row: edges has one more entry than counts."""
    low, high = int(lengths.min()), int(lengths.max())
    width = max(1, math.ceil((high - low + 1) / bins))
    edges = low + width * np.arange(math.ceil((high - low + 1) / width) + 1)
    counts, _ = np.histogram(lengths, bins=edges)
    return {"edges": [int(edge) for edge in edges], "counts": [int(count) for count in counts]}


def preview_warnings(stats: dict) -> list[str]:
    warnings = []
    if stats["max_length"] > stats["max_positions"]:
        warnings.append(f"Max length {stats['max_length']} is above the model's {stats['max_positions']} positions; "
                        f"inputs are cut at {stats['max_positions']}.")
    if stats["truncated_share"] > TRUNCATION_WARNING_SHARE:
        cut = min(stats["max_length"], stats["max_positions"])
        warnings.append(f"{stats['truncated_share']:.0%} of the rows are longer than {cut} tokens "
                        f"and will be cut; consider max length {stats['suggested_max_length']}.")
    if stats["unk_rate"] > UNK_WARNING_RATE:
        warnings.append(f"{stats['unk_rate']:.1%} of the word pieces are unknown to this tokenizer ([UNK]), "
                        "e.g. emoji or a script it was not trained on; the model cannot read those parts.")
    return warnings


def check_max_length(max_length) -> None:
    if not isinstance(max_length, int) or isinstance(max_length, bool) or max_length < MIN_MAX_LENGTH:
        raise StudioError(f"Max length must be a whole number of at least {MIN_MAX_LENGTH} tokens, not {max_length!r}.")


# ---------------------------------------------------------------- sample rows


def sample_detail(tokenizer, text: str, text_pair: str | None, max_length: int, row: int, length: int) -> dict:
    """One row as the model sees it: truncated at max_length, tokens marked special / unk / normal."""
    encoded = tokenizer(text, text_pair, truncation=True, max_length=max_length, add_special_tokens=True,
                        return_special_tokens_mask=True, return_token_type_ids=text_pair is not None)
    ids = list(encoded["input_ids"])
    pieces = tokenizer.convert_ids_to_tokens(ids)
    specials = encoded["special_tokens_mask"]
    kinds = [_token_kind(tokenizer, token_id, special) for token_id, special in zip(ids, specials)]
    detail = {
        "row": row, "text": text, "text_pair": text_pair,
        "tokens": [{"token": piece, "id": token_id, "kind": kind} for piece, token_id, kind in zip(pieces, ids, kinds)],
        "input_ids": ids, "attention_mask": list(encoded["attention_mask"]),
        "length": length, "truncated": length > len(ids),
    }
    if text_pair is not None:
        detail["token_type_ids"] = list(encoded["token_type_ids"])
    return detail


def _token_kind(tokenizer, token_id: int, special: int) -> str:
    if token_id == getattr(tokenizer, "unk_token_id", None):
        return "unk"
    return "special" if special else "normal"


# ---------------------------------------------------------------- comparing tokenizers


def describe_tokenizer(tokenizer) -> dict:
    normalizer = _backend_state(tokenizer).get("normalizer") or {}
    return {"name": type(tokenizer).__name__, "vocab_size": len(tokenizer),
            "lowercase": bool(normalizer.get("lowercase", getattr(tokenizer, "do_lower_case", False)))}


BACKEND_PARTS = {  # the parts of tokenizer.json that change how a text is split, with what people call them
    "normalizer": "normalisation (lowercasing, accents)",
    "pre_tokenizer": "pre-tokenization",
    "post_processor": "special-token layout",
}


def compare_tokenizers(first, second) -> tuple[bool, str]:
    """Whether two tokenizers split text the same way (vocabulary, class, normalisation, special tokens), and why."""
    a, b = describe_tokenizer(first), describe_tokenizer(second)
    state_a, state_b = _backend_state(first), _backend_state(second)
    if first.get_vocab() != second.get_vocab():
        return False, (f"The tokenizers differ: {a['name']} has a {a['vocab_size']:,}-token vocabulary and {b['name']} "
                       f"a {b['vocab_size']:,}-token one, so token ids and some word pieces differ.")
    for part, what in BACKEND_PARTS.items():
        if state_a.get(part) != state_b.get(part):
            return False, f"The tokenizers share a vocabulary but differ in {what}, so some inputs encode differently."
    if first.all_special_tokens != second.all_special_tokens:
        return False, (f"The tokenizers share a vocabulary but use different special tokens "
                       f"({' '.join(first.all_special_tokens)} vs {' '.join(second.all_special_tokens)}).")
    if a["name"] != b["name"]:
        return False, f"The tokenizers share a vocabulary but are different classes ({a['name']} vs {b['name']})."
    cased = "uncased" if a["lowercase"] else "cased"
    return True, (f"Both use the same {cased} {a['vocab_size']:,}-token vocabulary and normalisation, "
                  "so their token statistics are identical.")


def _backend_state(tokenizer) -> dict:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    return json.loads(backend.to_str()) if backend is not None else {}

"""Integrated Gradients over the input word embeddings, and their scores per token and per word.

Used by inference.explain (a label's log-probability, a value) and qa_inference.explain_answer (an answer's start +
end logit): both say which words of the input pushed the output up (score > 0) or down (< 0).
"""
from __future__ import annotations

import torch


def integrated_gradients(model, pad_token_id: int, inputs: dict, special: torch.Tensor, target, steps: int):
    """Attribution per token (1, length): (x - baseline) . mean gradient of `target(model output)` over `steps`
    midpoints of the path from a baseline where every non-special token is the padding token."""
    embed = model.get_input_embeddings()
    ids = inputs["input_ids"]
    # Special tokens keep their own embeddings, so the baseline is still a well-formed sequence.
    baseline_ids = torch.where(special.to(ids.device), ids, torch.full_like(ids, pad_token_id))
    with torch.no_grad():
        actual, baseline = embed(ids), embed(baseline_ids)
    alphas = (torch.arange(steps, device=ids.device, dtype=actual.dtype) + 0.5) / steps  # midpoint rule
    path = (baseline + alphas.view(-1, 1, 1) * (actual - baseline)).requires_grad_(True)
    others = {name: tensor.expand(steps, -1) for name, tensor in inputs.items() if name != "input_ids"}
    with torch.enable_grad():
        output = target(model(inputs_embeds=path, **others)).float()
        # autograd.grad with respect to the path only: no weight gradients are computed or stored.
        (gradients,) = torch.autograd.grad(output.sum(), path)
    return ((actual - baseline) * gradients.mean(dim=0, keepdim=True)).sum(dim=-1).detach()


def scaled(values: list[float]) -> list[float]:
    """Scores divided by the largest magnitude, so they lie in [-1, 1]."""
    largest = max((abs(value) for value in values), default=0.0)
    return [round(value / largest, 4) if largest > 0 else 0.0 for value in values]


def token_scores(tokenizer, encoded, attributions: torch.Tensor, window: int = 0) -> list[dict]:
    """[{token, score, segment, special}] per token; `window`: which row of `encoded` (a QA context is read in
    several windows)."""
    names = tokenizer.convert_ids_to_tokens(_row(encoded["input_ids"][window]))
    segments = encoded.sequence_ids(window)
    special = [segment is None for segment in segments]  # [CLS] and [SEP]: in no segment
    return [{"token": name, "score": score, "segment": segment, "special": bool(flag)}
            for name, score, segment, flag in zip(names, scaled(attributions.tolist()), segments, special)]


def word_scores(encoded, attributions: torch.Tensor, texts: tuple, window: int = 0) -> list[dict]:
    """[{word, score, segment, start, end}]: word pieces (##ing) summed into the words they came from, with
    character offsets into their text; special tokens belong to no word."""
    groups: dict[tuple[int, int], list[int]] = {}
    for position, (segment, word) in enumerate(zip(encoded.sequence_ids(window), encoded.word_ids(window))):
        if segment is not None and word is not None:
            groups.setdefault((segment, word), []).append(position)
    offsets = _row(encoded["offset_mapping"][window])
    words = []
    for (segment, _), positions in groups.items():
        start, end = offsets[positions[0]][0], offsets[positions[-1]][1]
        words.append({"word": texts[segment][start:end], "segment": segment, "start": start, "end": end,
                      "score": float(attributions[positions].sum())})
    for word, score in zip(words, scaled([word["score"] for word in words])):
        word["score"] = score
    return words


def _row(values) -> list:
    """One row of an encoding as plain lists, whether the tokenizer returned tensors or lists."""
    return values.tolist() if hasattr(values, "tolist") else list(values)

"""From a table of texts to batches: tokenize once, group by length, pad each batch only as far as it needs.

Short texts padded to max_length waste most of a step on padding; sorting by length inside shuffled
mega-batches keeps batches random enough for SGD while making their padding small. Everything is a pure
function of (seed, epoch), so a resumed run sees the same batches as an uninterrupted one.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset


# Batches per sorted mega-batch: enough to group lengths (less padding), few enough that batches stay random.
# On a small dataset a mega-batch of 50 batches holds most of the data, so batches sort by length, and where length
# goes with the class (as in TREC questions) each batch holds mostly one class, which measurably hurt macro-F1
# (bench/README.md). So the factor shrinks with the data: at least MIN_MEGA_BATCHES per epoch, never below 4.
MEGA_BATCH_FACTOR = (4, 50)
MIN_MEGA_BATCHES = 16


def default_mega_batch_factor(rows: int, batch_size: int) -> int:
    low, high = MEGA_BATCH_FACTOR
    return max(low, min(high, rows // (batch_size * MIN_MEGA_BATCHES)))


@dataclass
class EncodedSet(Dataset):
    """Token ids per row (unpadded) with their labels; `features` are the tokenizer's model inputs to keep."""

    features: dict[str, list[list[int]]]
    labels: np.ndarray
    lengths: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[int, dict[str, list[int]], float]:
        return index, {name: values[index] for name, values in self.features.items()}, self.labels[index]


@dataclass(frozen=True)
class Evaluation:
    """How the trainer reads a task's model at evaluation time.

    `outputs(model_output)` gives a float tensor with one row per evaluation row of the batch (the logits, or for
    extractive QA start and end logits side by side); the trainer gathers those from every process, puts them in
    dataset order and calls `score(outputs, labels)` for the metrics (a dict of numbers).
    """

    outputs: Callable
    score: Callable


def encode(frame: pd.DataFrame, tokenizer, max_length: int, label_values: np.ndarray) -> EncodedSet:
    """Tokenize every row in one batched call of the fast tokenizer, truncated but not padded; `label_values` are the
    rows' labels as the loss takes them (the task kind's `label_values`)."""
    texts = frame["text"].astype(str).tolist()
    pairs = frame["text_pair"].astype(str).tolist() if "text_pair" in frame else None
    encoded = tokenizer(texts, pairs, truncation=True, max_length=max_length, padding=False)
    # Keep only what the model takes: MPNet-style tokenizers give no token_type_ids, and BERT wants them.
    features = {name: encoded[name] for name in tokenizer.model_input_names if name in encoded}
    lengths = np.fromiter((len(ids) for ids in encoded["input_ids"]), dtype=np.int64, count=len(texts))
    return EncodedSet(features, label_values, lengths)


class Collator:
    """Pads a batch to its own longest row. Rows carry their dataset index so evaluation can undo sharding.

    `float_labels`: regression values and multi-label 0/1 rows, which the MSE and BCE losses take as floats; class
    ids stay integers for cross-entropy.
    """

    def __init__(self, pad_token_id: int, float_labels: bool):
        self.pad_values = {"input_ids": pad_token_id}  # attention_mask and token_type_ids pad with 0
        self.label_dtype = torch.float32 if float_labels else torch.long

    def __call__(self, rows):
        indices, features, labels = zip(*rows)
        width = max(len(row["input_ids"]) for row in features)
        batch = {}
        for name in features[0]:
            tensor = torch.full((len(rows), width), self.pad_values.get(name, 0), dtype=torch.long)
            for i, row in enumerate(features):
                tensor[i, : len(row[name])] = torch.as_tensor(row[name])
            batch[name] = tensor
        batch["labels"] = torch.as_tensor(np.asarray(labels), dtype=self.label_dtype)
        batch["index"] = torch.as_tensor(indices, dtype=torch.long)
        return batch


class LengthGroupedBatches:
    """Training batches: shuffle (seed + epoch), cut into mega-batches, sort each by length, batch, shuffle batches.

    The longest batch of the epoch goes first so an out-of-memory error shows up at once, not hours in.
    `batch_size` and `drop_last` are read by accelerate when it shards these batches over processes.
    """

    drop_last = False

    def __init__(self, lengths: np.ndarray, batch_size: int, seed: int, mega_batch_factor: int | None = None):
        self.lengths, self.batch_size, self.seed = np.asarray(lengths), batch_size, seed
        factor = mega_batch_factor or default_mega_batch_factor(len(self.lengths), batch_size)
        self.mega_batch = batch_size * factor
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return -(-len(self.lengths) // self.batch_size)

    def batches(self, epoch: int) -> list[list[int]]:
        generator = np.random.default_rng([self.seed, epoch])
        order = generator.permutation(len(self.lengths))
        batches = []
        for start in range(0, len(order), self.mega_batch):
            chunk = order[start : start + self.mega_batch]
            # Stable sort, longest first: ties keep the shuffled order, so equal lengths still mix.
            chunk = chunk[np.argsort(-self.lengths[chunk], kind="stable")]
            batches += [chunk[i : i + self.batch_size].tolist() for i in range(0, len(chunk), self.batch_size)]
        batches = [batches[i] for i in generator.permutation(len(batches))]
        if batches:
            longest = max(range(len(batches)), key=lambda i: self.lengths[batches[i]].max())
            batches.insert(0, batches.pop(longest))
        return batches

    def __iter__(self):
        return iter(self.batches(self.epoch))


class SortedBatches:
    """Evaluation batches: all rows sorted by length, so padding is minimal; order does not matter for metrics."""

    drop_last = False

    def __init__(self, lengths: np.ndarray, batch_size: int):
        order = np.argsort(-np.asarray(lengths), kind="stable")
        self.batch_size = batch_size
        self._batches = [order[i : i + batch_size].tolist() for i in range(0, len(order), batch_size)]

    def __len__(self) -> int:
        return len(self._batches)

    def __iter__(self):
        return iter(self._batches)


def build_dataloaders(train: EncodedSet, evaluation: EncodedSet, batch_size: int, seed: int, pad_token_id: int,
                      float_labels: bool) -> tuple[DataLoader, DataLoader]:
    """The two loaders. num_workers=0: collating a batch of ids takes microseconds, a worker process costs more.

    The loaders get their own generator so that starting an epoch does not draw from the global torch RNG,
    which dropout uses: a resumed run must see the same dropout masks as an uninterrupted one.
    """
    collate = Collator(pad_token_id, float_labels)
    loaders = []
    for dataset, sampler in ((train, LengthGroupedBatches(train.lengths, batch_size, seed)),
                             (evaluation, SortedBatches(evaluation.lengths, batch_size * 2))):
        generator = torch.Generator().manual_seed(seed)
        loaders.append(DataLoader(dataset, batch_sampler=sampler, collate_fn=collate, num_workers=0,
                                  generator=generator))
    return loaders[0], loaders[1]

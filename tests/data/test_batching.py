import numpy as np
import pandas as pd
import pytest
import torch

from backend import tasks
from backend.data.batching import Collator, LengthGroupedBatches, SortedBatches, build_dataloaders, encode
from backend.models.catalog import load_tokenizer
from backend.schemas import StudioError


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    return load_tokenizer(str(tiny_model_dir))


def frame(n=40, pair=False):
    rows = {"text": [" ".join(["word"] * (1 + i % 13)) for i in range(n)], "label": ["b" if i % 3 else "a" for i in range(n)]}
    if pair:
        rows["text_pair"] = ["other text"] * n
    return pd.DataFrame(rows)


def encode_as(task, rows, tokenizer, max_length, labels):
    """`encode` with the rows' labels as the kind called `task` gives them to the loss."""
    return encode(rows, tokenizer, max_length, tasks.get(task).label_values(rows, labels))


def test_encode_tokenizes_without_padding_and_maps_sorted_labels(tokenizer):
    encoded = encode_as("text_classification", frame(), tokenizer, 8, ["a", "b"])
    assert len(encoded) == 40
    assert encoded.lengths.max() == 8  # truncated at max_length
    assert encoded.lengths.min() == 3  # [CLS] word [SEP]: not padded
    assert list(encoded.labels[:3]) == [0, 1, 1]
    assert "token_type_ids" in encoded.features


def test_encode_regression_labels_are_floats_and_unknown_classes_are_named(tokenizer):
    values = frame().assign(label=[str(i / 10) for i in range(40)])
    assert encode_as("regression", values, tokenizer, 16, None).labels.dtype == np.float32
    with pytest.raises(StudioError, match="zzz"):
        encode_as("text_classification", frame().assign(label="zzz"), tokenizer, 16, ["a", "b"])


def test_multi_label_sets_become_float_rows_of_0_1(tokenizer):
    sets = frame(4).assign(label=[("b",), (), ("a", "b"), ("a",)])
    encoded = encode_as("multi_label_classification", sets, tokenizer, 16, ["a", "b"])
    assert encoded.labels.dtype == np.float32 and encoded.labels.tolist() == [[0, 1], [0, 0], [1, 1], [1, 0]]
    batch = Collator(tokenizer.pad_token_id, float_labels=True)([encoded[2], encoded[1]])
    assert batch["labels"].dtype == torch.float32 and batch["labels"].tolist() == [[1, 1], [0, 0]]
    with pytest.raises(StudioError, match="zzz appear only in the evaluation rows"):
        encode_as("multi_label_classification", sets.assign(label=[("a",), ("zzz",), (), ()]), tokenizer, 16,
                  ["a", "b"])


def test_collator_pads_to_the_longest_row_of_the_batch(tokenizer):
    encoded = encode_as("text_classification", frame(pair=True), tokenizer, 32, ["a", "b"])
    batch = Collator(tokenizer.pad_token_id, float_labels=False)([encoded[1], encoded[5]])
    assert batch["input_ids"].shape == (2, int(encoded.lengths[[1, 5]].max()))
    assert batch["attention_mask"].sum().item() == int(encoded.lengths[[1, 5]].sum())
    assert batch["input_ids"][0, -1].item() == tokenizer.pad_token_id
    assert batch["labels"].dtype == torch.long and batch["index"].tolist() == [1, 5]


def test_length_grouped_batches_cover_every_row_once_and_group_lengths():
    lengths = np.random.default_rng(0).integers(3, 100, size=1000)
    sampler = LengthGroupedBatches(lengths, batch_size=10, seed=1, mega_batch_factor=10)
    batches = sampler.batches(0)
    assert len(batches) == len(sampler) == 100
    assert sorted(i for b in batches for i in b) == list(range(1000))
    assert lengths[batches[0]].max() == lengths.max()  # longest first: out-of-memory shows at once
    padded = sum(len(b) * lengths[b].max() for b in batches)
    random_padded = sum(10 * lengths[list(range(i, i + 10))].max() for i in range(0, 1000, 10))
    assert padded < 0.7 * random_padded


def test_length_grouped_batches_are_a_function_of_seed_and_epoch():
    lengths = np.arange(50) % 7
    a, b = LengthGroupedBatches(lengths, 4, seed=3), LengthGroupedBatches(lengths, 4, seed=3)
    assert a.batches(2) == b.batches(2)
    assert a.batches(0) != a.batches(1)
    a.set_epoch(1)
    assert list(a) == b.batches(1)
    assert a.batches(0) != LengthGroupedBatches(lengths, 4, seed=4).batches(0)


def test_sorted_batches_for_evaluation():
    batches = list(SortedBatches(np.array([3, 9, 1, 5, 7]), batch_size=2))
    assert batches == [[1, 4], [3, 0], [2]]


def test_build_dataloaders_yields_padded_batches(tokenizer):
    encoded = encode_as("text_classification", frame(), tokenizer, 16, ["a", "b"])
    train_dl, eval_dl = build_dataloaders(encoded, encoded, 8, seed=0, pad_token_id=0, float_labels=False)
    batches = list(train_dl)
    assert sum(len(b["labels"]) for b in batches) == 40
    assert max(b["input_ids"].shape[1] for b in batches) <= 16
    assert len(list(eval_dl)) == 3  # evaluation batches are twice as large
    before = torch.get_rng_state()
    list(train_dl)
    assert torch.equal(before, torch.get_rng_state())  # an epoch does not draw from the global RNG (dropout's)


def test_small_datasets_get_small_mega_batches_so_batches_stay_mixed():
    from backend.data.batching import default_mega_batch_factor

    assert default_mega_batch_factor(2_000, 32) == 4  # 16 mega-batches of 128 rows, not one of 1,600
    assert default_mega_batch_factor(100_000, 32) == 50
    assert default_mega_batch_factor(20, 32) == 4

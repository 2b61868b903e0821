"""Request threads share a run's cached tokenizer (and the preview's): a fast tokenizer keeps truncation and padding as
state, so each call must still run with its own settings when four threads tokenize at once."""
from __future__ import annotations

import random
import sys
import threading

from backend.schemas import DataSpec
from backend.serving import batch_scoring, inference
from backend.tasks import loading
from tests.serving.test_inference import BAD, FILLER, GOOD, classifier_run, write_rows  # noqa: F401

THREADS, ROUNDS = 4, 5


def long_text(seed: int) -> str:
    """A review of ~300 words: far past the run's max length (32), so truncation decides what the model reads."""
    rng = random.Random(seed)
    return " ".join(rng.choice(GOOD + BAD + FILLER) for _ in range(300))


def calls(run_dir, folder) -> dict:
    """Each kind of request, as a function of a round number: predict, explain, batch scoring, preview."""
    texts = [long_text(seed) for seed in range(6)]
    csv_path = write_rows(folder / "long.csv", ["text", "label"], [(text, "pos" if i % 2 else "neg") for i, text in enumerate(texts)])
    spec = DataSpec(train_csv=str(csv_path))

    def predict(n):
        return {k: v for k, v in inference.predict_one(run_dir, texts[n % 6]).items() if k != "latency_ms"}

    def explain(n):
        return inference.explain(run_dir, texts[(n + 1) % 6], steps=4)

    def score(n):
        out = folder / f"scored-{threading.get_ident()}-{n}.csv"
        summary = batch_scoring.score_csv(run_dir, csv_path, out)
        return out.read_text(), summary["label_counts"]

    def preview(n):
        # The untruncated statistics and a max length that differs by round: the settings another call must not see.
        result = loading.preview_data(spec, str(run_dir / "model"), max_length=16 * (n % 3 + 1), sample_rows=2,
                                      with_bert=False)
        return {key: value for key, value in result.items() if key != "seconds"}

    return {"predict": predict, "explain": explain, "score": score, "preview": preview}


def test_four_threads_tokenize_with_their_own_settings(classifier_run, tmp_path):
    requests = calls(classifier_run, tmp_path)
    alone = {(name, n): call(n) for name, call in requests.items() for n in range(ROUNDS)}
    together, errors = {}, []
    start = threading.Barrier(THREADS)

    def worker(offset: int) -> None:
        order = list(requests)[offset:] + list(requests)[:offset]  # each thread makes a different call at a time
        start.wait()
        try:
            for n in range(ROUNDS):
                for name in order:
                    together[(offset, name, n)] = requests[name](n)
        except Exception as exc:  # noqa: BLE001 - reported below with the thread's call
            errors.append(repr(exc))

    threads = [threading.Thread(target=worker, args=(offset,)) for offset in range(THREADS)]
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads take turns every few bytecodes: a gap between two lines is a chance to race
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(switch)
    assert not errors, errors
    for (offset, name, n), result in together.items():
        assert result == alone[(name, n)], f"thread {offset}: {name} round {n} differs from the single-threaded call"

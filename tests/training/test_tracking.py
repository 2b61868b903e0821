from accelerate.tracking import GeneralTracker

from backend.training.tracking import MetricsFile, read_metrics, truncate_metrics


def write(run_dir, *records):
    tracker = MetricsFile(run_dir)
    tracker.start()
    for record in records:
        tracker.log(record, step=record.pop("step"))
    tracker.finish()


def test_writer_is_an_accelerate_tracker_writing_one_line_per_log(tmp_path):
    assert isinstance(MetricsFile(tmp_path), GeneralTracker)
    write(tmp_path, {"step": 1, "loss": 0.5}, {"step": 2, "loss": float("nan"), "eval_accuracy": 0.75})
    assert read_metrics(tmp_path) == [{"step": 1, "loss": 0.5}, {"step": 2, "loss": None, "eval_accuracy": 0.75}]
    assert read_metrics(tmp_path, since_line=1) == [{"step": 2, "loss": None, "eval_accuracy": 0.75}]


def test_lines_are_visible_to_a_reader_while_the_writer_is_open(tmp_path):
    tracker = MetricsFile(tmp_path)
    tracker.start()
    tracker.log({"loss": 1.0}, step=1)
    assert read_metrics(tmp_path) == [{"step": 1, "loss": 1.0}]
    tracker.finish()


def test_reader_ignores_a_partly_written_last_line(tmp_path):
    (tmp_path / "metrics.jsonl").write_text('{"step": 1}\n{"step": 2, "lo')
    assert read_metrics(tmp_path) == [{"step": 1}]
    assert read_metrics(tmp_path, since_line=1) == []
    assert read_metrics(tmp_path / "missing") == []


def test_truncate_drops_records_after_a_step(tmp_path):
    write(tmp_path, *({"step": s, "loss": s / 10} for s in range(1, 6)))
    truncate_metrics(tmp_path, 3)
    assert [r["step"] for r in read_metrics(tmp_path)] == [1, 2, 3]

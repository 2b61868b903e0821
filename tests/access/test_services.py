"""Services: kept uploads and the models a server offers."""
from __future__ import annotations

import dataclasses

import pytest

from backend.access.services import Services
from backend.access.users import Viewer
from backend.jobs.limits import Limits
from backend.schemas import StudioError
from backend.training.runs import safe_name
from tests.conftest import SAMPLE_DATA
from tests.job_helpers import make_spec


def test_an_upload_is_kept_under_its_own_name_in_the_data_folder(tmp_path, write_csv):
    source = write_csv("text,label\nhi,a\n", name="my reviews.csv")
    services = Services(tmp_path / "data")
    kept = services.keep_upload(source, owner="ana")
    assert kept.name == "my_reviews.csv"
    assert kept.is_relative_to(services.data_dir / "uploads" / "ana")
    assert kept.read_bytes() == source.read_bytes()
    assert services.keep_upload(kept, owner="ana") == kept  # already kept: not copied again


def test_samples_are_used_where_they_are(tmp_path):
    sample = SAMPLE_DATA / "sentiment_reviews.csv"
    assert Services(tmp_path).keep_upload(sample, owner="ana") == sample.resolve()


def test_a_vanished_upload_asks_to_upload_again(tmp_path):
    with pytest.raises(StudioError, match="upload it again"):
        Services(tmp_path).keep_upload(tmp_path / "gone.csv", owner="ana")


@pytest.mark.parametrize("name, expected", [("../../etc/passwd", "passwd"), ("..", "upload"), ("a b$c.csv", "a_b_c.csv")])
def test_safe_names_cannot_climb_out(name, expected):
    assert safe_name(name) == expected


def test_a_server_offers_catalog_models_and_the_operators_folders_only(tmp_path, tiny_model_dir):
    services = Services(tmp_path, model_dirs=[tiny_model_dir])
    assert services.check_model("all-minilm-l6") == "all-minilm-l6"
    assert services.check_model(str(tiny_model_dir)) == str(tiny_model_dir.resolve())
    assert str(tiny_model_dir.resolve()) in [model.key for model in services.models()]
    with pytest.raises(StudioError, match="not offered on this server"):
        services.check_model(str(tmp_path))
    with pytest.raises(StudioError, match="not offered"):
        Services(tmp_path / "other").check_model(str(tiny_model_dir))


def test_the_same_upload_is_kept_once(tmp_path, write_csv):
    services = Services(tmp_path / "data")
    first = services.keep_upload(write_csv("text,label\nhi,a\n", name="x.csv"), owner="ana")
    again = services.keep_upload(write_csv("text,label\nhi,a\n", name="x.csv"), owner="ana")
    other = services.keep_upload(write_csv("text,label\nho,b\n", name="x.csv"), owner="ana")
    assert first == again and other != first


# ---- the gate: owners, teachers, limits, demo ----

ANA, BEN, LEE = Viewer("ana"), Viewer("ben"), Viewer("lee", teacher=True)


@pytest.fixture
def gate(runners, data_dir):
    """Services over a runner that does not run its queue, so submitted jobs stay queued."""
    def make(**options) -> Services:
        return Services(data_dir, runner=runners(start=False), **options)
    return make


def test_a_student_reaches_only_their_own_jobs_and_a_teacher_reaches_all(gate):
    services = gate()
    mine, theirs = services.submit(make_spec("a"), ANA), services.submit(make_spec("b"), BEN)
    assert [r.job_id for r in services.jobs(ANA)] == [mine.job_id]
    assert {r.job_id for r in services.jobs(LEE)} == {mine.job_id, theirs.job_id}
    assert services.job(theirs.job_id, LEE).owner == "ben"
    for action in (services.job, services.run_dir, services.cancel, services.resume):
        with pytest.raises(StudioError, match=f"No job {theirs.job_id} for this user"):
            action(theirs.job_id, ANA)
    assert services.cancel(theirs.job_id, LEE).state == "cancelled"  # the teacher may stop any job


def test_each_student_may_have_only_so_many_jobs_queued_or_running(gate):
    services = gate(limits=Limits(active_jobs_per_user=2))
    first = services.submit(make_spec(), ANA, request_id="r1")
    services.submit(make_spec(), ANA)
    with pytest.raises(StudioError, match="You already have 2 jobs queued or running and this server allows 2"):
        services.submit(make_spec(), ANA)
    assert services.submit(make_spec(), ANA, request_id="r1").job_id == first.job_id  # a double click at the limit
    services.submit(make_spec(), BEN)  # others are not held back
    services.submit_all([make_spec(), make_spec(), make_spec()], LEE, [None] * 3)  # teachers are exempt
    services.cancel(first.job_id, ANA)
    services.submit(make_spec(), ANA)  # a cancelled job frees its place


def test_both_jobs_of_a_pair_fit_or_neither_is_queued(gate):
    services = gate(limits=Limits(active_jobs_per_user=2))
    services.submit(make_spec(), ANA)
    with pytest.raises(StudioError, match="allows 2 per person"):
        services.submit_all([make_spec(), make_spec()], ANA, ["x-minilm", "x-bert"])
    assert len(services.jobs(ANA)) == 1


def test_a_full_queue_says_so(gate):
    services = gate(limits=Limits(queue_size=2))
    services.submit(make_spec(), ANA)
    services.submit(make_spec(), BEN)
    with pytest.raises(StudioError, match=r"The queue is full \(2 jobs waiting"):
        services.submit(make_spec(), LEE)


def test_every_job_gets_the_servers_time_limit(gate):
    services = gate(limits=Limits(job_minutes=15.0))
    assert services.submit(make_spec(), ANA).spec.time_limit_minutes == 15.0
    shorter = dataclasses.replace(make_spec(), time_limit_minutes=5.0)
    assert services.submit(shorter, ANA).spec.time_limit_minutes == 5.0
    assert gate().submit(make_spec(), ANA).spec.time_limit_minutes is None


def test_a_demo_shows_only_the_chosen_runs_and_changes_nothing(gate):
    owner = gate()
    shown, hidden = owner.submit(make_spec("shown"), ANA), owner.submit(make_spec("hidden"), ANA)
    demo = gate(demo_jobs=[shown.job_id])
    assert [r.job_id for r in demo.jobs(BEN)] == [shown.job_id]  # anyone may look at a demo run
    assert demo.job(shown.job_id, BEN).job_id == shown.job_id
    with pytest.raises(StudioError, match="No job .* in this demo"):
        demo.job(hidden.job_id, ANA)
    for action, what in ((lambda: demo.submit(make_spec(), ANA), "Training is off"),
                         (lambda: demo.cancel(shown.job_id, ANA), "Cancelling jobs is off"),
                         (lambda: demo.resume(shown.job_id, ANA), "Resuming jobs is off")):
        with pytest.raises(StudioError, match=f"{what}: this server is a read-only demo"):
            action()


def test_uploads_above_the_size_or_row_limit_are_refused(tmp_path, write_csv):
    services = Services(tmp_path / "data", limits=Limits(upload_mb=0.001, max_rows=3))
    with pytest.raises(StudioError, match=r"big.csv is 0.0 MB, above this server's 0.001 MB upload limit"):
        services.keep_upload(write_csv("text,label\n" + "x,a\n" * 400, name="big.csv"), owner="ana")
    with pytest.raises(StudioError, match="has more than 3 rows"):
        Services(tmp_path / "d2", limits=Limits(max_rows=3)).keep_upload(
            write_csv("text,label\n" + "x,a\n" * 5, name="long.csv"), owner="ana")
    quoted = write_csv('text,label\n"one\nline\nwith\nbreaks",a\n"two",b\n', name="quoted.csv")  # 6 lines, 2 rows
    assert Services(tmp_path / "d3", limits=Limits(max_rows=3)).keep_upload(quoted, owner="ana").is_file()


def test_only_the_callers_own_files_are_kept(tmp_path, write_csv):
    """Another student's kept upload, the job store and a file outside the upload folder are refused with the
    words of a vanished upload (a refusal tells nothing about what exists); one's own kept upload is reused."""
    uploads = tmp_path / "gradio-uploads"
    uploads.mkdir()
    services = Services(tmp_path / "data", upload_dirs=[uploads])
    fresh = uploads / "mine.csv"
    fresh.write_text("text,label\nhi,a\n", encoding="utf-8")
    bens = services.keep_upload(fresh, owner="ben")
    assert services.keep_upload(bens, owner="ben") == bens
    store = services.data_dir / "jobs.sqlite3"
    store.write_bytes(b"not for students")
    elsewhere = write_csv("text,label\nhi,a\n", name="elsewhere.csv")
    for path in (bens, store, elsewhere, services.data_dir / "runs"):
        with pytest.raises(StudioError, match="no longer on the server; please upload it again"):
            services.keep_upload(path, owner="ana")
    assert services.keep_upload(fresh, owner="ana").is_relative_to(services.data_dir / "uploads" / "ana")


def test_a_place_is_kept_per_person_and_outlives_the_services_object(tmp_path):
    services = Services(tmp_path / "data")
    assert services.place("ana") == {}
    services.keep_place("ana", data={"train_csv": "/x/reviews.csv", "eval_csv": None, "chosen": None}, tab="train")
    services.keep_place("ana", max_length=48)
    services.keep_place("ben", tab="compare")
    restarted = Services(tmp_path / "data")  # a server restart reads the same files
    assert restarted.place("ana") == {"data": {"train_csv": "/x/reviews.csv", "eval_csv": None, "chosen": None},
                                      "tab": "train", "max_length": 48}
    assert restarted.place("ben") == {"tab": "compare"}
    (tmp_path / "data" / "places" / f"{safe_name('ben')}.json").write_text("{broken")
    assert restarted.place("ben") == {}  # a damaged file is a fresh start, not an error

"""Services: kept uploads and the models a server offers."""
from __future__ import annotations

import pytest

from backend.schemas import StudioError
from backend.services import Services, safe_name
from tests.conftest import SAMPLE_DATA


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

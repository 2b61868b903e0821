"""Accounts: a users file or STUDIO_USERS, roles, passwords (plain or hashed), and readable refusals."""
from __future__ import annotations

import pytest

from backend.access.users import LOCAL, Viewer, hash_password, load_users, verify_password
from backend.schemas import StudioError


def write(tmp_path, text: str):
    path = tmp_path / "users.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_users_file_gives_logins_and_roles(tmp_path):
    users = load_users(write(tmp_path, "username,password,role\nana,pw1,student\nlee,pw2,teacher\nben,pw3,\n"), env="")
    assert users.names() == ["ana", "ben", "lee"] and users.names("teacher") == ["lee"]
    assert users.check("ana", "pw1") and not users.check("ana", "pw2") and not users.check("nobody", "pw1")
    assert users.viewer("lee") == Viewer("lee", teacher=True)
    assert users.viewer("ben") == Viewer("ben") and users.viewer("ben").scope == "ben"
    assert users.viewer("lee").scope is None  # a teacher reaches every job


def test_accounts_from_the_environment_add_to_the_file(tmp_path):
    users = load_users(write(tmp_path, "username,password\nana,pw1\n"), env="ben:p:w:x, lee:secret:teacher")
    assert users.check("ben", "p:w:x") and users.check("lee", "secret") and users.viewer("lee").teacher


def test_no_accounts_means_no_login():
    assert load_users(None, env="") is None
    assert LOCAL.name == "local" and not LOCAL.teacher


def test_hashed_passwords_verify_and_plain_ones_too():
    stored = hash_password("correct horse", iterations=1_000)
    assert stored.startswith("pbkdf2_sha256$") and "correct horse" not in stored
    assert verify_password("correct horse", stored) and not verify_password("wrong", stored)
    assert verify_password("plain", "plain") and not verify_password("plain", "other")
    assert not verify_password("x", "pbkdf2_sha256$broken")


@pytest.mark.parametrize("text, message", [
    ("name,secret\nana,pw\n", "needs a header row with username,password,role"),
    ("username,password,role\n", "lists nobody"),
    ("username,password,role\nana,,student\n", "ana on line 2 of .* has no password"),
    ("username,password,role\nana,pw,admin\n", "role 'admin'; use student or teacher"),
    ("username,password,role\n../ana,pw,student\n", "must be 1-64 letters, digits"),
    ("username,password,role\nana,pw,\nana,pw2,\n", "listed twice"),
])
def test_a_broken_users_file_is_named_in_one_sentence(tmp_path, text, message):
    with pytest.raises(StudioError, match=message):
        load_users(write(tmp_path, text), env="")


def test_a_missing_users_file_says_so(tmp_path):
    with pytest.raises(StudioError, match="could not be read"):
        load_users(tmp_path / "nope.csv", env="")


def test_a_request_without_a_known_login_is_refused(tmp_path):
    users = load_users(write(tmp_path, "username,password\nana,pw\n"), env="")
    with pytest.raises(StudioError, match="Sign in first"):
        users.viewer(None)

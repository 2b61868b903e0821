"""Accounts: a users file or STUDIO_USERS, roles, passwords (plain or hashed), and readable refusals."""
from __future__ import annotations

import hashlib
import time

import pytest

from backend.access.users import (LOCAL, LoginThrottle, User, Users, Viewer, hash_password, load_users,
                                  verify_password)
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


# ---------------------------------------------------------------- guessing

def _work_per_check(users: Users, name: str, monkeypatch) -> int:
    """PBKDF2 iterations one failed login for `name` costs (counted, not timed: machines here are noisy)."""
    spent = []
    real = hashlib.pbkdf2_hmac

    def counting(algorithm, password, salt, iterations, *rest):
        spent.append(iterations)
        return real(algorithm, password, salt, iterations, *rest)

    monkeypatch.setattr(hashlib, "pbkdf2_hmac", counting)
    assert not users.check(name, "a wrong guess")
    monkeypatch.setattr(hashlib, "pbkdf2_hmac", real)
    return sum(spent)


def test_a_failed_login_costs_the_same_whatever_the_cause(monkeypatch):
    users = Users([User("hashed", hash_password("pw", iterations=1_000)), User("plain", "pw"),
                   User("strong", hash_password("pw", iterations=300_000))])
    costs = {name: _work_per_check(users, name, monkeypatch) for name in ("hashed", "plain", "strong", "nobody")}
    assert len(set(costs.values())) == 1, costs  # an unknown name, a plain and a hashed account: the same work
    assert costs["nobody"] == 300_000  # as much as the strongest hash on the server
    assert users.check("plain", "pw") and users.check("hashed", "pw") and users.check("strong", "pw")


def test_a_failed_login_takes_about_as_long_whatever_the_cause():
    """The same, on the clock: the cheapest and the dearest case within 3x of each other (the work is equal; the
    margin is for a noisy machine)."""
    users = Users([User("hashed", hash_password("pw")), User("plain", "pw")], throttle=LoginThrottle(clock=lambda: 0))
    times = {}
    for name in ("hashed", "plain", "nobody"):
        started = time.perf_counter()
        for _ in range(3):
            users.check(name, "wrong")
            users.throttle.record(name, None, success=True)  # keep the throttle out of this measurement
        times[name] = time.perf_counter() - started
    assert max(times.values()) < 3 * min(times.values()), times


def test_repeated_failures_wait_a_growing_back_off_and_the_rightful_user_still_gets_in():
    now = [1000.0]
    throttle = LoginThrottle(clock=lambda: now[0])
    users = Users([User("ana", hash_password("right", iterations=1_000))], throttle=throttle)
    for _ in range(LoginThrottle.FREE["name"]):
        assert not users.check("ana", "guess", client="10.0.0.9")
    assert throttle.wait_s("ana", None) == 0  # the free failures cost no wait
    assert not users.check("ana", "guess", client="10.0.0.9")
    first = throttle.wait_s("ana", None)
    assert first == LoginThrottle.FIRST_WAIT_S
    assert not users.check("ana", "right")  # during the wait even the right password is not checked
    now[0] += first
    assert not users.check("ana", "guess")
    assert throttle.wait_s("ana", None) == 2 * first  # the wait grows
    for _ in range(20):
        now[0] += throttle.wait_s("ana", None)
        users.check("ana", "guess")
    assert throttle.wait_s("ana", None) <= LoginThrottle.MAX_WAIT_S  # and stays short
    now[0] += throttle.wait_s("ana", None)
    assert users.check("ana", "right")  # after the wait the rightful user signs in, and the count starts again
    assert throttle.wait_s("ana", None) == 0


def test_one_client_guessing_many_names_is_slowed_too():
    now = [0.0]
    throttle = LoginThrottle(clock=lambda: now[0])
    users = Users([User("ana", hash_password("pw", iterations=1_000))], throttle=throttle)
    for number in range(LoginThrottle.FREE["client"] + 1):
        users.check(f"name{number}", "guess", client="10.0.0.9")
    assert throttle.wait_s("someone-else", "10.0.0.9") > 0
    assert throttle.wait_s("someone-else", "10.0.0.10") == 0  # another client is not held up
    assert users.check("ana", "pw", client="10.0.0.10")


def test_plain_text_accounts_are_named_for_the_start_up_warning():
    users = Users([User("ana", "pw"), User("ben", hash_password("pw", iterations=1_000))])
    assert users.plain_text_names() == ["ana"]

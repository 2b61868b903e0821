"""Who may sign in and who teaches: users from a CSV file or the STUDIO_USERS environment variable.

Without users the app has one local user and no login. With users, Gradio asks for a name and password, and the
name it signed in is the owner of every job, upload and run: nothing the browser sends can change it.

    users.csv           username,password,role          (role: student or teacher; student when left out)
    STUDIO_USERS        "ana:secret,ben:pw2,ms_lee:pw3:teacher"

A password is either written as is, or hashed with `python -m backend hash-password`
(pbkdf2_sha256$ITERATIONS$SALT$HASH), so the file need not hold a readable password.

Signing in resists guessing: every failed login costs the same work whatever the cause (an unknown name, a wrong
password of a hashed or a plain-text account), so names cannot be found by timing, and repeated failures for one
name or from one client wait a short, growing while before the next try is checked (LoginThrottle).
"""
from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import io
import os
import re
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from backend.schemas import StudioError

STUDENT, TEACHER = "student", "teacher"
ROLES = (STUDENT, TEACHER)
LOCAL_USER = "local"  # the one user of a server without login
USERS_ENV = "STUDIO_USERS"
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # also a folder name: no two names may clash on disk
HASH_PREFIX = "pbkdf2_sha256"
ITERATIONS = 200_000


@dataclass(frozen=True)
class Viewer:
    """The person behind a request: their name (the owner of what they make) and whether they teach."""

    name: str
    teacher: bool = False

    @property
    def scope(self) -> str | None:
        """Whose jobs this person may reach: their own, or everyone's (None) for a teacher."""
        return None if self.teacher else self.name


LOCAL = Viewer(LOCAL_USER)


@dataclass(frozen=True)
class User:
    name: str
    password: str  # as written: plain, or a pbkdf2_sha256 hash
    role: str = STUDENT


@dataclass(frozen=True)
class DerivedKey:
    """What a password is checked against: PBKDF2-SHA256 of it with a salt and an iteration count."""

    iterations: int
    salt: bytes
    digest: bytes

    @classmethod
    def of(cls, stored: str, iterations: int = ITERATIONS) -> "DerivedKey | None":
        """The key of a stored password: parsed from a hash, or derived now from plain text; None if unreadable."""
        if not stored.startswith(HASH_PREFIX + "$"):
            salt = secrets.token_bytes(16)
            return cls(iterations, salt, hashlib.pbkdf2_hmac("sha256", stored.encode(), salt, iterations))
        try:
            _, rounds, salt, digest = stored.split("$")
            return cls(int(rounds), base64.b64decode(salt), base64.b64decode(digest))
        except ValueError:
            return None

    def matches(self, password: str, cost: int) -> bool:
        """Checks `password`, then spends what is left of `cost` iterations, so every check takes the same work."""
        actual = hashlib.pbkdf2_hmac("sha256", password.encode(), self.salt, self.iterations)
        if cost > self.iterations:
            hashlib.pbkdf2_hmac("sha256", password.encode(), self.salt, cost - self.iterations)
        return hmac.compare_digest(actual, self.digest)


class LoginThrottle:
    """Failed logins per name and per client; past a few free failures the next try waits a growing back-off.

    The back-off is short (at most MAX_WAIT_S), so the rightful user can still sign in after it, and a success
    clears the name's count. A client gets more free failures than a name: a class behind one school router shares
    one address. A try during the back-off is refused without checking the password and counts for nothing.
    """

    FREE = {"name": 3, "client": 20}  # failures before the first wait
    FIRST_WAIT_S, MAX_WAIT_S = 1.0, 30.0  # the wait doubles with each failure past the free ones, up to the cap
    FORGET_S = 15 * 60  # a count not added to for this long starts again from zero
    MAX_KEYS = 10_000  # names and clients remembered (the least recently failed dropped first)

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._failures: OrderedDict[tuple[str, str], tuple[int, float]] = OrderedDict()  # key -> (count, last)
        self._lock = threading.Lock()

    def wait_s(self, name: str, client: str | None) -> float:
        """Seconds until a try for this name from this client is checked again (0: now)."""
        now = self._clock()
        with self._lock:
            return max((self._wait(key, now) for key in self._keys(name, client)), default=0.0)

    def record(self, name: str, client: str | None, success: bool) -> None:
        now = self._clock()
        with self._lock:
            for key in self._keys(name, client):
                if success:
                    if key[0] == "name":
                        self._failures.pop(key, None)
                    continue
                count, last = self._failures.pop(key, (0, now))
                self._failures[key] = (1 if now - last > self.FORGET_S else count + 1, now)
            while len(self._failures) > self.MAX_KEYS:
                self._failures.popitem(last=False)

    def _keys(self, name: str, client: str | None) -> list[tuple[str, str]]:
        return [("name", name)] + ([("client", client)] if client else [])

    def _wait(self, key: tuple[str, str], now: float) -> float:
        count, last = self._failures.get(key, (0, now))
        over = count - self.FREE[key[0]]
        if over <= 0 or now - last > self.FORGET_S:
            return 0.0
        return max(0.0, last + min(self.FIRST_WAIT_S * 2 ** (over - 1), self.MAX_WAIT_S) - now)


class Users:
    """The accounts of a server with login."""

    def __init__(self, users: list[User], throttle: LoginThrottle | None = None):
        self._users = {user.name: user for user in users}
        keys = {user.name: DerivedKey.of(user.password) for user in users}
        self._keys = {name: key for name, key in keys.items() if key is not None}  # an unreadable hash never matches
        # Every check costs the most iterations any account uses; an unknown name is checked against a dummy key.
        self._cost = max([ITERATIONS, *(key.iterations for key in self._keys.values())])
        self._dummy = DerivedKey.of(secrets.token_urlsafe(16), self._cost)
        self.throttle = throttle or LoginThrottle()

    def __len__(self) -> int:
        return len(self._users)

    def names(self, role: str | None = None) -> list[str]:
        return sorted(name for name, user in self._users.items() if role in (None, user.role))

    def plain_text_names(self) -> list[str]:
        """Accounts whose password is written as is (the server warns about them at start-up)."""
        return sorted(name for name, user in self._users.items() if not user.password.startswith(HASH_PREFIX + "$"))

    def check(self, name: str, password: str, client: str | None = None) -> bool:
        """The login: the right password for a known name. The same work for every miss; throttled per name and
        per client (its address, when the web layer knows it)."""
        if self.throttle.wait_s(name, client) > 0:
            return False
        key = self._keys.get(name)
        success = (key or self._dummy).matches(password, self._cost) and key is not None
        self.throttle.record(name, client, success)
        return success

    def viewer(self, name: str | None) -> Viewer:
        user = self._users.get(name or "")
        if user is None:
            raise StudioError("Sign in first: this server has accounts, and your session has none.")
        return Viewer(user.name, teacher=user.role == TEACHER)


def load_users(path: str | Path | None = None, env: str | None = None) -> Users | None:
    """The accounts from a file and/or the environment; None when there are none (a single local user)."""
    env = os.environ.get(USERS_ENV, "") if env is None else env
    users = parse_users_file(Path(path)) if path else []
    users += parse_users_env(env) if env.strip() else []
    seen: set[str] = set()
    for user in users:
        if user.name in seen:
            raise StudioError(f"The user name {user.name!r} is listed twice; keep one line per person.")
        seen.add(user.name)
    return Users(users) if users else None


def parse_users_file(path: Path) -> list[User]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise StudioError(f"The users file {path} could not be read ({exc.strerror or exc}).") from None
    except UnicodeDecodeError:
        raise StudioError(f"The users file {path} is not UTF-8 text; save it as CSV UTF-8.") from None
    reader = csv.DictReader(io.StringIO(text))
    missing = {"username", "password"} - set(reader.fieldnames or [])
    if missing:
        raise StudioError(f"The users file {path} needs a header row with username,password,role "
                          f"(missing: {', '.join(sorted(missing))}).")
    users = []
    for line, row in enumerate(reader, start=2):
        if not any((value or "").strip() for value in row.values()):
            continue
        users.append(make_user(row.get("username"), row.get("password"), row.get("role"), f"line {line} of {path}"))
    if not users:
        raise StudioError(f"The users file {path} lists nobody; add a line username,password,role per person.")
    return users


def parse_users_env(value: str) -> list[User]:
    users = []
    for number, entry in enumerate(filter(None, (part.strip() for part in value.split(","))), start=1):
        name, _, rest = entry.partition(":")
        password, _, role = rest.rpartition(":") if rest.endswith((":" + STUDENT, ":" + TEACHER)) else (rest, "", "")
        users.append(make_user(name, password, role, f"entry {number} of {USERS_ENV}"))
    return users


def make_user(name: str | None, password: str | None, role: str | None, where: str) -> User:
    name, password, role = (name or "").strip(), (password or "").strip(), (role or "").strip().lower() or STUDENT
    if not NAME.fullmatch(name):
        raise StudioError(f"The user name {name!r} on {where} must be 1-64 letters, digits, '.', '_' or '-', "
                          "starting with a letter or digit.")
    if not password:
        raise StudioError(f"User {name} on {where} has no password; give every account one.")
    if role not in ROLES:
        raise StudioError(f"User {name} on {where} has role {role!r}; use student or teacher.")
    return User(name, password, role)


def hash_password(password: str, iterations: int = ITERATIONS) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    encode = lambda raw: base64.b64encode(raw).decode()  # noqa: E731
    return f"{HASH_PREFIX}${iterations}${encode(salt)}${encode(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` is the stored one (plain or hashed), compared in constant time."""
    if not stored.startswith(HASH_PREFIX + "$"):
        return hmac.compare_digest(password.encode(), stored.encode())
    key = DerivedKey.of(stored)
    return key is not None and key.matches(password, key.iterations)

"""The server serves nothing outside what it means to serve: path tricks get 403, the data folder and the code are
never files a browser can fetch, and Gradio's monitoring and analytics are off."""
from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.ui.conftest import ROOT
from ui.guard import is_path_trick

TRICKS = [
    "gradio_api/file=../../../../etc/passwd",
    "gradio_api/file=%2e%2e/%2e%2e/%2e%2e/etc/passwd",  # encoded
    "gradio_api/file=%252e%252e%252f%252e%252e%252fetc%252fpasswd",  # encoded twice
    "gradio_api/file=..%2f..%2f..%2fetc%2fpasswd",
    "gradio_api/file=..%5c..%5c..%5cetc%5cpasswd",  # backslashes
    "gradio_api/file=/etc/passwd",  # absolute
    "gradio_api/file=//etc/passwd",
    "gradio_api/file=%2Fetc%2Fpasswd",
    "gradio_api/file=/ETC/PASSWD",  # case tricks
    "GRADIO_API/file=/etc/passwd",
    "Gradio_Api/FILE=../../etc/passwd",
    "gradio_api/file=%00/etc/passwd",  # NUL
    "gradio_api/file=/tmp/gradio/../../etc/passwd",  # out of Gradio's own cache
    "static/../../../../etc/passwd",
    "assets/..%2f..%2f..%2f..%2fetc%2fpasswd",
    "%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "gradio_api/upload/../../../etc/passwd",
]


def status_and_body(url: str) -> tuple[int, bytes]:
    # urllib keeps the path as written (no dot-segment folding), as an attacker's client would.
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.mark.parametrize("path", TRICKS)
def test_path_tricks_get_403(app_server, path):
    code, body = status_and_body(app_server[0] + path)
    assert code == 403 and b"root:" not in body


def test_the_data_folder_and_the_code_are_not_served(app_server):
    url, data_dir = app_server
    private = [data_dir / "jobs.sqlite3", ROOT / "app.py", ROOT / "backend" / "services.py",
               ROOT / "sample_data" / "sentiment_reviews.csv", Path("/proc/self/environ")]
    private += sorted(data_dir.glob("runs/*/spec.json"))[:1] + sorted(data_dir.glob("runs/*/model/*.safetensors"))[:1]
    for path in private:
        for form in (str(path), str(path).upper(), str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else None):
            if form:
                code, _ = status_and_body(f"{url}gradio_api/file={form}")
                assert code == 403, (form, code)


def test_monitoring_and_analytics_are_off(app_server):
    url, data_dir = app_server
    assert status_and_body(url + "monitoring")[0] in (403, 404)
    assert status_and_body(url + "gradio_api/monitoring")[0] in (403, 404)
    log = (data_dir / "server.log").read_text()
    assert "monitoring" not in log.lower()
    assert not (ROOT / ".gradio" / "flagged").exists()


def test_the_app_itself_is_still_served(app_server):
    for path in ("", "gradio_api/info", "manifest.json"):
        assert status_and_body(app_server[0] + path)[0] == 200


@pytest.mark.parametrize("path, trick", [
    ("/gradio_api/file=/tmp/gradio/abc/data.csv", False),
    ("/gradio_api/file=..%2fx", True),
    ("/a/b/../c", True),
    ("/gradio_api/queue/join", False),
    ("/gradio_api/file=a%5cb", True),
    ("/x..y/z", False),  # dots inside a name are not a climb
])
def test_is_path_trick(path, trick):
    assert is_path_trick(path) is trick


def call(url: str, api_name: str, data: list) -> str:
    """A raw call of a named endpoint, as a hand-made request would send it; returns the event stream's text."""
    import json

    request = urllib.request.Request(f"{url}gradio_api/call/{api_name}", data=json.dumps({"data": data}).encode(),
                                     headers={"content-type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        event_id = json.load(response)["event_id"]
    with urllib.request.urlopen(f"{url}gradio_api/call/{api_name}/{event_id}", timeout=60) as response:
        return response.read().decode()


def test_an_api_call_cannot_name_a_file_it_did_not_upload(app_server):
    url, data_dir = app_server
    someone_else = data_dir / "uploads" / "ana" / "0123456789abcdef" / "private.csv"
    someone_else.parent.mkdir(parents=True, exist_ok=True)
    someone_else.write_text("text,label\nana's private text,a\nmore,b\n")
    for path in (someone_else, Path("/etc/passwd"), ROOT / "sample_data" / "sentiment_reviews.csv"):
        # Every input, as a raw call must send them: the file, the validation file, then the column options.
        answer = call(url, "validate_csv", [{"path": str(path), "meta": {"_type": "gradio.FileData"}}, None,
                                            "", "", "", "", "", "", ""])
        assert "event: error" in answer and "was not uploaded by a user" in answer, answer
        assert "private text" not in answer and "root:" not in answer


def test_the_login_check_knows_which_client_asks():
    """Gradio gives the auth function a name and a password only; LoginClient adds the client's address, which
    the login throttle counts failures by."""
    import asyncio
    import threading

    from ui.guard import LoginClient, login_client

    seen = []

    async def app(scope, receive, send):
        seen.append(login_client.get())

    guarded = LoginClient(app)

    def call(path: str) -> None:  # in a thread of its own: the browser tests keep an event loop in this one
        worker = threading.Thread(target=asyncio.run, args=(guarded({"type": "http", "path": path,
                                                                     "client": ("10.1.2.3", 5555)}, None, None),))
        worker.start()
        worker.join()

    call("/login")
    call("/gradio_api/info")
    assert seen == ["10.1.2.3", None] and login_client.get() is None

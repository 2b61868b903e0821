"""A local stand-in for the Hugging Face hub: the part of its HTTP API that huggingface_hub 2.4 uses.

    python -m tests.hub_stub [--port N]     serves the two seed repos (tiny models) until Ctrl-C
    hub_stub (pytest fixture)               a running stub; HF_ENDPOINT points at it, offline switches are off

What it speaks (read from huggingface_hub's file_download.py, hf_api.py and _commit_api.py):

    HEAD/GET /{repo}/resolve/{revision}/{file}   X-Repo-Commit, ETag / X-Linked-Etag, X-Linked-Size, Content-Length;
                                                 a GET of a large (LFS) file is a 302 to /lfs-storage/..., as the
                                                 hub redirects to its storage, which takes Range (206 +
                                                 Content-Range) for resumed downloads;
                                                 404 with X-Error-Code RepoNotFound / RevisionNotFound / EntryNotFound
    GET  /api/models/{repo}[/revision/{rev}]     model info: sha, siblings (sizes with ?blobs=true)
    GET  /api/models/{repo}/tree/{rev}           the file list
    GET  /api/whoami-v2                          who a token belongs to (401 for an unknown token)
    POST /api/repos/create                       409 when the name is taken
    POST /api/validate-yaml                      a model card's metadata (always fine)
    POST /api/models/{repo}/preupload/{rev}      every file is a "regular" upload (base64 in the commit)
    POST /api/models/{repo}/commit/{rev}         NDJSON: header, file (base64), deletedFile

Every request is recorded (method, path, Host header), also the ones it does not know (404): tests assert that
nothing asked for discussions or a conversion and that everything went to this host.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

MINILM_ID = "microsoft/MiniLM-L12-H384-uncased"
BERT_ID = "bert-base-uncased"
TOKENS = {"hf_student_token": "student"}  # token -> user name
CHUNK = 64 * 1024
FORBIDDEN = ("discussions", "/spaces", "safetensors/convert", "/call/")  # what no request of the studio may ask


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    host: str
    headers: dict


@dataclass
class Repo:
    commits: list[tuple[str, dict[str, bytes]]] = field(default_factory=list)  # (sha, files), oldest first
    private: bool = True

    def at(self, revision: str) -> tuple[str, dict[str, bytes]] | None:
        if revision == "main" and self.commits:
            return self.commits[-1]
        return next((commit for commit in self.commits if commit[0] == revision), None)


def _sha(kind: str, *parts: bytes) -> str:
    digest = hashlib.sha1(kind.encode())
    for part in parts:
        digest.update(part)
    return digest.hexdigest()


def _is_lfs(name: str) -> bool:
    return name.endswith((".bin", ".safetensors", ".h5", ".onnx"))


class HubStub:
    """The server, its repos and its request log."""

    def __init__(self, port: int = 0):
        self.repos: dict[str, Repo] = {}
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        self.break_after: dict[str, int] = {}  # filename -> bytes sent before the connection drops (once)
        self.refuse_gets: set[str] = set()  # filenames whose GETs answer 503 (after a drop)
        self.server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="hub-stub", daemon=True)
        self.stopped = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> "HubStub":
        self.thread.start()
        return self

    def stop(self) -> None:
        """Stop answering: the listening socket closes, and kept-alive connections are dropped at their next request."""
        self.stopped = True
        self.server.shutdown()
        self.server.server_close()

    # ------------------------------------------------------------ repos

    def add_repo(self, repo_id: str, files: dict[str, bytes | Path], private: bool = False) -> str:
        """A new repo (or a new commit of it) holding exactly these files; returns the commit sha."""
        contents = {name: Path(value).read_bytes() if isinstance(value, Path) else value for name, value in files.items()}
        with self.lock:
            repo = self.repos.setdefault(repo_id, Repo(private=private))
            parent = repo.commits[-1][0].encode() if repo.commits else b""
            sha = _sha("commit", parent, *(name.encode() + _sha("blob", data).encode()
                                           for name, data in sorted(contents.items())))
            repo.commits.append((sha, contents))
        return sha

    def files(self, repo_id: str, revision: str = "main") -> dict[str, bytes]:
        found = self.repos[repo_id].at(revision)
        return dict(found[1]) if found else {}

    def paths(self, method: str | None = None) -> list[str]:
        return [r.path for r in self.requests if method is None or r.method == method]

    def stray_requests(self) -> list[Request]:
        """Requests for another host, or for discussions or a conversion (transformers' safetensors bot)."""
        return [r for r in self.requests if r.host != self.host or any(word in r.path for word in FORBIDDEN)]

    # ------------------------------------------------------------ answering

    def resolve(self, handler, repo_id: str, revision: str, filename: str, head: bool, from_cdn: bool = False):
        repo = self.repos.get(repo_id)
        if repo is None:
            return handler.error(404, "RepoNotFound", "Repository not found")
        found = repo.at(revision)
        if found is None:
            return handler.error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
        sha, files = found
        if filename not in files:
            return handler.error(404, "EntryNotFound", f"{filename} does not exist", {"X-Repo-Commit": sha})
        data = files[filename]
        headers = {"X-Repo-Commit": sha, "Accept-Ranges": "bytes", "Content-Type": "application/octet-stream"}
        if _is_lfs(filename):
            headers |= {"X-Linked-Etag": f'"{hashlib.sha256(data).hexdigest()}"', "X-Linked-Size": str(len(data)),
                        "ETag": f'"{_sha("blob", data)}"'}
        else:
            headers["ETag"] = f'"{_sha("blob", data)}"'
        if head:
            return handler.reply(200, b"", headers | {"Content-Length": str(len(data))}, send_body=False)
        if _is_lfs(filename) and not from_cdn:  # as the hub: large files come from its storage, by a redirect
            location = f"{self.url}/lfs-storage/{repo_id}/{sha}/{filename}"
            return handler.reply(302, b"", headers | {"Location": location})
        if filename in self.refuse_gets:
            return handler.error(503, None, "The stand-in refuses this download for the test")
        start = _range_start(handler.headers.get("Range"))
        status = 200
        if start:
            status = 206
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        body = data[start:]
        cut = self.break_after.pop(filename, None)
        handler.reply(status, body, headers, cut=cut)
        if cut is not None:
            self.refuse_gets.add(filename)

    def model_info(self, handler, repo_id: str, revision: str, query: dict) -> None:
        repo = self.repos.get(repo_id)
        if repo is None or (repo.private and handler.user() is None):
            return handler.error(404, "RepoNotFound", "Repository not found")
        found = repo.at(revision)
        if found is None:
            return handler.error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
        sha, files = found
        blobs = query.get("blobs", ["false"])[0].lower() == "true"
        siblings = []
        for name, data in sorted(files.items()):
            sibling = {"rfilename": name}
            if blobs:
                sibling |= {"size": len(data), "blobId": _sha("blob", data)}
                if _is_lfs(name):
                    sibling["lfs"] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "pointerSize": 134}
            siblings.append(sibling)
        handler.json(200, {"id": repo_id, "modelId": repo_id, "sha": sha, "private": repo.private,
                           "siblings": siblings, "tags": [], "downloads": 0, "likes": 0})

    def tree(self, handler, repo_id: str, revision: str) -> None:
        repo = self.repos.get(repo_id)
        found = repo.at(revision) if repo else None
        if found is None:
            return handler.error(404, "RepoNotFound" if repo is None else "RevisionNotFound", "Not found")
        handler.json(200, [{"type": "file", "path": name, "size": len(data), "oid": _sha("blob", data)}
                           for name, data in sorted(found[1].items())])

    def create_repo(self, handler, payload: dict) -> None:
        user = handler.user()
        if user is None:
            return handler.error(401, None, "Invalid username or password.")
        owner = payload.get("organization") or user
        repo_id = f"{owner}/{payload['name']}"
        if owner != user:
            return handler.error(403, None, f"You don't have the rights to create a model under {owner}")
        with self.lock:
            if repo_id in self.repos:
                return handler.error(409, None, "You already created this model repo", {}, {"url": f"{self.url}/{repo_id}"})
            self.repos[repo_id] = Repo(private=payload.get("visibility", "private") != "public")
        handler.json(200, {"url": f"{self.url}/{repo_id}", "name": repo_id})

    def preupload(self, handler, payload: dict) -> None:
        handler.json(200, {"files": [{"path": item["path"], "uploadMode": "regular", "shouldIgnore": False}
                                     for item in payload.get("files", [])]})

    def commit(self, handler, repo_id: str, revision: str, body: bytes) -> None:
        if handler.user() is None:
            return handler.error(401, None, "Invalid username or password.")
        repo = self.repos.get(repo_id)
        if repo is None:
            return handler.error(404, "RepoNotFound", "Repository not found")
        files = dict(repo.at(revision)[1]) if repo.at(revision) else {}
        for line in body.splitlines():
            item = json.loads(line)
            value = item["value"]
            if item["key"] == "file":
                files[value["path"]] = base64.b64decode(value["content"])
            elif item["key"] == "deletedFile":
                files.pop(value["path"], None)
            elif item["key"] == "lfsFile":
                return handler.error(400, None, "The stand-in takes regular uploads only")
        sha = self.add_repo(repo_id, files)
        handler.json(200, {"commitUrl": f"{self.url}/{repo_id}/commit/{sha}", "commitOid": sha,
                           "pullRequestUrl": None, "success": True})


def _range_start(header: str | None) -> int:
    if not header or not header.startswith("bytes="):
        return 0
    first = header[len("bytes="):].split("-", 1)[0]
    return int(first) if first.isdigit() else 0


def _split_repo(rest: str, marker: str) -> tuple[str, str] | None:
    """'org/name/resolve/main/config.json' with marker '/resolve/' -> ('org/name', 'main/config.json')."""
    if marker not in rest:
        return None
    repo_id, tail = rest.split(marker, 1)
    return repo_id, tail


def _split_storage(rest: str) -> tuple[str, str] | None:
    """'org/name/<commit>/file' -> ('org/name', '<commit>/file'); the commit is the 40-hex part."""
    parts = rest.split("/")
    at = next((i for i, part in enumerate(parts) if len(part) == 40 and all(c in "0123456789abcdef" for c in part)), None)
    return ("/".join(parts[:at]), "/".join(parts[at:])) if at else None


def _handler(stub: HubStub):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # quiet: the request log is stub.requests
            pass

        def handle_one_request(self):
            if stub.stopped:  # a kept-alive connection after stop(): gone, as a stopped hub would be
                self.close_connection = True
                return
            super().handle_one_request()

        def _record(self) -> tuple[str, dict]:
            parts = urlsplit(self.path)
            path = unquote(parts.path)
            with stub.lock:
                stub.requests.append(Request(self.command, path, self.headers.get("Host", ""), dict(self.headers)))
            return path, parse_qs(parts.query)

        def user(self) -> str | None:
            auth = self.headers.get("Authorization", "")
            return TOKENS.get(auth[len("Bearer "):]) if auth.startswith("Bearer ") else None

        def body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def reply(self, status: int, body: bytes, headers: dict, send_body: bool = True, cut: int | None = None):
            self.send_response(status)
            headers = {"Content-Length": str(len(body))} | headers
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if not send_body:
                return
            if cut is not None:  # a dropped connection in the middle of a download
                self.wfile.write(body[:cut])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)
                return
            view = io.BytesIO(body)
            while chunk := view.read(CHUNK):
                self.wfile.write(chunk)

        def json(self, status: int, value, headers: dict | None = None):
            self.reply(status, json.dumps(value).encode(), {"Content-Type": "application/json"} | (headers or {}))

        def error(self, status: int, code: str | None, message: str, headers: dict | None = None,
                  extra: dict | None = None):
            headers = dict(headers or {})
            if code:
                headers["X-Error-Code"] = code
            headers["X-Error-Message"] = message
            self.json(status, {"error": message} | (extra or {}), headers)

        def do_HEAD(self):
            self._resolve_or_404(head=True)

        def do_GET(self):
            path, query = self._record()
            if path == "/api/whoami-v2":
                user = self.user()
                return self.json(200, {"type": "user", "name": user, "auth": {"accessToken": {"role": "write"}}}) \
                    if user else self.error(401, None, "Invalid credentials in Authorization header")
            if path.startswith("/api/models/"):
                rest = path[len("/api/models/"):]
                for marker, answer in (("/revision/", lambda r, t: stub.model_info(self, r, t, query)),
                                       ("/tree/", lambda r, t: stub.tree(self, r, t.split("/")[0]))):
                    split = _split_repo(rest, marker)
                    if split:
                        return answer(*split)
                if rest.count("/") <= 1:
                    return stub.model_info(self, rest, "main", query)
            return self._resolve_or_404(head=False, recorded=path)

        def _resolve_or_404(self, head: bool, recorded: str | None = None):
            path = recorded if recorded is not None else self._record()[0]
            storage = path.startswith("/lfs-storage/")
            split = _split_repo(path.removeprefix("/lfs-storage").lstrip("/"), "/resolve/") if not storage else \
                _split_storage(path.removeprefix("/lfs-storage/"))
            if split and "/" in split[1]:
                revision, filename = split[1].split("/", 1)
                return stub.resolve(self, split[0], revision, filename, head, from_cdn=storage)
            self.error(404, None, f"The stand-in does not serve {path}")

        def do_POST(self):
            path, _ = self._record()
            body = self.body()
            if path == "/api/repos/create":
                return stub.create_repo(self, json.loads(body))
            if path == "/api/validate-yaml":
                return self.json(200, {"errors": [], "warnings": []})
            if path.startswith("/api/models/"):
                rest = path[len("/api/models/"):]
                for marker, answer in (("/preupload/", lambda r, t: stub.preupload(self, json.loads(body))),
                                       ("/commit/", lambda r, t: stub.commit(self, r, t, body))):
                    split = _split_repo(rest, marker)
                    if split:
                        return answer(*split)
            self.error(404, None, f"The stand-in does not serve POST {path}")

    return Handler


# ---------------------------------------------------------------- the seed repos


def seed_repo_files(model_dir: Path) -> dict[str, dict[str, bytes]]:
    """The two seed repos built from a small BERT folder (safetensors + tokenizer files):

    MiniLM as the 2020 repo: only pytorch_model.bin, vocab.txt and config.json; BERT-Base with model.safetensors.
    """
    import torch
    from safetensors.torch import load_file

    state = load_file(str(model_dir / "model.safetensors"))
    buffer = io.BytesIO()
    torch.save(state, buffer)
    config = (model_dir / "config.json").read_bytes()
    vocab = (model_dir / "vocab.txt").read_bytes()
    return {
        MINILM_ID: {"config.json": config, "pytorch_model.bin": buffer.getvalue(), "vocab.txt": vocab},
        BERT_ID: {"config.json": config, "model.safetensors": (model_dir / "model.safetensors").read_bytes(),
                  "vocab.txt": vocab, "tokenizer.json": (model_dir / "tokenizer.json").read_bytes(),
                  "tokenizer_config.json": (model_dir / "tokenizer_config.json").read_bytes(),
                  "README.md": b"---\nlicense: apache-2.0\n---\n# BERT base (stand-in)\n"},
    }


def serve_seed_repos(stub: HubStub, model_dir: Path) -> dict[str, str]:
    """Add the seed repos; returns repo id -> commit."""
    return {repo_id: stub.add_repo(repo_id, files) for repo_id, files in seed_repo_files(model_dir).items()}


def point_at(monkeypatch, stub: HubStub) -> None:
    """HF_ENDPOINT at the stub, offline switches off, in the environment (child processes) and in huggingface_hub's
    constants, which it reads at import time (tests/conftest.py imported it offline)."""
    from huggingface_hub import constants

    monkeypatch.setenv("HF_ENDPOINT", stub.url)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", stub.url)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", stub.url + "/{repo_id}/resolve/{revision}/{filename}")


def go_offline(monkeypatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)


@pytest.fixture
def hub_stub(monkeypatch, tmp_path, tiny_model_dir):
    """A running stand-in serving the two seed repos (tiny BERTs), with HF_ENDPOINT pointing at it and empty caches.

    stub.commits holds repo id -> commit of the seed repos; BERT-Base is pinned to its commit, MiniLM to "main".
    """
    from backend.models import catalog, hub

    stub = HubStub().start()
    stub.commits = serve_seed_repos(stub, tiny_model_dir)
    point_at(monkeypatch, stub)
    # The catalog pins BERT-Base to a commit of the real hub; here it is the stand-in's. MiniLM stays on "main".
    monkeypatch.setenv(hub.REVISIONS_VAR, f"{BERT_ID}={stub.commits[BERT_ID]}")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setenv("MINILM_STUDIO_CACHE", str(tmp_path / "studio-cache"))
    monkeypatch.setattr(catalog, "_HUB_PROBES", {})
    monkeypatch.setattr(hub, "_LOOKUPS", {})
    yield stub
    stub.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.hub_stub", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    parser.add_argument("--model-dir", type=Path, help="a BERT folder to serve (default: a tiny one built now)")
    args = parser.parse_args(argv)
    import tempfile

    from tests.tiny_model import build_tiny_model

    model_dir = args.model_dir or build_tiny_model(Path(tempfile.mkdtemp(prefix="hub-stub-")))
    stub = HubStub(args.port).start()
    for repo_id, commit in serve_seed_repos(stub, model_dir).items():
        print(f"{repo_id} at {commit}")
    print(f"HF_ENDPOINT={stub.url}  (Ctrl-C stops)", flush=True)
    try:
        stub.thread.join()
    except KeyboardInterrupt:
        stub.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

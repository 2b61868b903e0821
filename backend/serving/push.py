"""push_run(run_dir, repo_id, token): a finished run as a hub model repo, with the export zip's files.

    README.md (the model card), config.json (labels), model.safetensors, the tokenizer files, spec.json, results.json

The repo is private unless asked otherwise. The token is used for the requests and nothing else: it is never
written to a file, a log or a message. The endpoint is the one the studio uses everywhere (HF_ENDPOINT, else
huggingface.co). Every failure is one sentence: a missing or refused token, a name that is taken or not the
token's own, the hub offline or unreachable.
"""
from __future__ import annotations

import os
import re

from backend.models import hub
from backend.serving.export import model_card, run_files
from backend.schemas import StudioError

REPO_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}")
TOKEN_VAR = "HF_TOKEN"


def push_run(run_dir, repo_id: str, token: str | None = None, private: bool = True,
             token_from_environment: bool = True) -> dict:
    """Create repo_id on the hub and commit the run's files to it; returns the repo's URL, commit and file names.

    token_from_environment=False for the web UI: a student must not push with the server's own HF_TOKEN.
    """
    from huggingface_hub import CommitOperationAdd, HfApi

    repo_id = (repo_id or "").strip()
    if not REPO_ID.fullmatch(repo_id) or ".." in repo_id:
        raise StudioError(f"{repo_id!r} is not a hub repository name: write OWNER/NAME, e.g. your-name/spam-minilm.")
    token = (token or (os.environ.get(TOKEN_VAR) if token_from_environment else None) or "").strip()
    if not token:
        raise StudioError("Pushing needs a hub token with write access: " + (
            f"set {TOKEN_VAR} or pass --token." if token_from_environment else "paste one into the token field."))
    why = hub.offline_reason()
    if why:
        raise StudioError(f"Nothing was pushed: {why}, so the hub is not asked; unset it and try again.")
    run_dir, spec, results, files = run_files(run_dir)
    card = model_card(run_dir, spec, results, repo_id).replace(
        f"Unzip, then point `transformers` at the `{repo_id}` folder:", "Load it from the hub:")
    api = HfApi(endpoint=hub.endpoint(), token=token)
    user = _who(api)
    _create(api, repo_id, private, user)
    operations = [CommitOperationAdd(path_in_repo=path.name, path_or_fileobj=str(path)) for path in files]
    operations.append(CommitOperationAdd(path_in_repo="README.md", path_or_fileobj=card.encode("utf-8")))
    try:
        commit = api.create_commit(repo_id, operations, commit_message=f"Upload {spec.name or run_dir.name} "
                                   "from MiniLM Studio")
    except Exception as exc:
        raise StudioError(f"The hub created {repo_id} but refused the upload ({_reason(exc)}); "
                          "try again, the repo is kept.") from None
    return {"repo_id": repo_id, "url": f"{hub.endpoint()}/{repo_id}", "commit": commit.oid, "private": private,
            "files": sorted(op.path_in_repo for op in operations)}


def _who(api) -> str:
    from huggingface_hub.errors import HfHubHTTPError

    try:
        return api.whoami()["name"]
    except HfHubHTTPError as exc:
        if exc.response is not None and exc.response.status_code in (401, 403):
            raise StudioError(f"The hub at {hub.host()} refused the token: check that it is valid and has "
                              "write access.") from None
        raise StudioError(f"The hub at {hub.host()} could not check the token ({_reason(exc)}).") from None
    except Exception as exc:
        raise StudioError(f"The hub at {hub.host()} cannot be reached ({_reason(exc)}); nothing was pushed.") from None


def _create(api, repo_id: str, private: bool, user: str) -> None:
    from huggingface_hub.errors import HfHubHTTPError

    try:
        api.create_repo(repo_id, private=private, exist_ok=False)
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else None
        if status == 409:
            raise StudioError(f"{repo_id} already exists on {hub.host()}: choose another name.") from None
        if status in (401, 403):
            raise StudioError(f"The token of {user} may not create {repo_id}: use your own name or an "
                              "organisation you can write to.") from None
        raise StudioError(f"The hub could not create {repo_id} ({_reason(exc)}).") from None
    except Exception as exc:
        raise StudioError(f"The hub at {hub.host()} cannot be reached ({_reason(exc)}); nothing was pushed.") from None


def _reason(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__

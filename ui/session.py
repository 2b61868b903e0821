"""Who is asking: the owner of a request comes from the login, never from anything the browser can choose."""
from __future__ import annotations

import gradio as gr

LOCAL_OWNER = "local"


def owner_of(request: gr.Request | None) -> str:
    username = getattr(request, "username", None) if request is not None else None
    return username or LOCAL_OWNER

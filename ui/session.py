"""Who is asking: the person behind a request comes from the login, never from anything the browser can choose."""
from __future__ import annotations

import gradio as gr

from backend.access.services import Services
from backend.access.users import Viewer


def viewer_of(request: gr.Request | None, services: Services) -> Viewer:
    """The signed-in person (a teacher sees every job); without login, the one local user."""
    username = getattr(request, "username", None) if request is not None else None
    return services.viewer(username)

"""MiniLM Studio backend: data, models, jobs. Never imports gradio."""

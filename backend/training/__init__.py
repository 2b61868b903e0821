"""The training loop and what runs around it: tracking, run control, presets, the run folder."""

"""The job store and the runner that starts one training process per job, workers, limits, status."""

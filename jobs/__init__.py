"""Asset jobs, schedules and sensors; each is listed in ``definitions.py``."""

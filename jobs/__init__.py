"""Asset jobs, schedules and sensors. ``definitions.py`` collects every job, schedule and
sensor defined at module level in this package's modules."""

"""The recommendation policy: simulated listeners, gymnasium environments, A2C, ranking."""

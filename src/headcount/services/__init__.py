"""Use cases: holds, actions, challenges, detection, keys, backups, the pool headcount, the demo."""

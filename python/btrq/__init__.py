"""btrq for Python: the runner that hosts a user's analytic on a worker (btrq.runner) and,
later, the client. docs/python.md has the contract."""


class Retry(Exception):
    """Raised by an analytic for a transient failure: the task is retried (its attempts
    are counted) instead of dead-lettered."""


__all__ = ["Retry"]

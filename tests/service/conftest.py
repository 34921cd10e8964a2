"""pytest fixtures of tests/service (defined in serve_helpers, a uniquely named module, so that
these tests can run in one pytest session with other directories' conftest files)."""

from serve_helpers import make_server, server, workdir

__all__ = ["make_server", "server", "workdir"]


def pytest_configure(config):  # type: ignore[no-untyped-def]
    config.addinivalue_line("markers", "slow: long runs of `make test-slow` (not in `make test-service`)")

"""pytest fixtures of tests/service (defined in serve_helpers, a uniquely named module, so that
these tests can run in one pytest session with other directories' conftest files)."""

from serve_helpers import make_server, server, workdir

__all__ = ["make_server", "server", "workdir"]


def pytest_configure(config):  # type: ignore[no-untyped-def]
    config.addinivalue_line(
        "markers", "slow: the crash runs of `make test-crash` (not in `make test-service`)"
    )
    config.addinivalue_line(
        "markers", "soak: long runs only `make test-slow` runs (not in `make test`)"
    )

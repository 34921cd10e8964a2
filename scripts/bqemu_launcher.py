"""Start the `bqemulator` BigQuery REST emulator (PyPI) offline.

Its start-up runs `INSTALL spatial; LOAD spatial`, which downloads a DuckDB extension and fails
without internet. The prediction log needs no GEOGRAPHY, so this launcher turns that step into a
no-op and then runs the emulator's own command line unchanged, e.g.:

    BQEMU_ENABLE_FORMAT_EXTENSIONS=false python scripts/bqemu_launcher.py \
        start --rest-host 127.0.0.1 --rest-port 9050 --grpc-port 9060 --project test-project
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    os.environ.setdefault("BQEMU_ENABLE_FORMAT_EXTENSIONS", "false")
    from bqemulator.cli import main as cli_main
    from bqemulator.storage.engine import DuckDBEngine

    def _skip_spatial(self: DuckDBEngine) -> None:
        return None

    DuckDBEngine._load_spatial = _skip_spatial  # type: ignore[method-assign]
    sys.argv[0] = "bqemulator"
    cli_main()


if __name__ == "__main__":
    main()

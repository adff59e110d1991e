"""`python -m bench <name> [options]`: run one benchmark; each prints its own numbers.

Add a benchmark with one line in BENCHES: name -> module with ``main(argv) -> int``.
"""
from __future__ import annotations

import importlib
import sys

BENCHES = {
    "mail": "bench.mail",  # mails/second drained into a loopback SMTP server
    "tickets": "bench.tickets",  # queue/ticket pages and opening, gunicorn, 1M tickets
    "painel": "bench.painel",  # the Painel's KPI set at 1M tickets vs raw SQL, memory
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in BENCHES:
        print("uso: python -m bench <" + "|".join(sorted(BENCHES)) + "> [opções]",
              file=sys.stderr)
        return 2
    return importlib.import_module(BENCHES[argv[0]]).main(argv[1:]) or 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

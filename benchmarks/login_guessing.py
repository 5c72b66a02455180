"""How fast can a client guess passwords at a tracking server with accounts?

    python benchmarks/login_guessing.py http://127.0.0.1:5000 [https://127.0.0.1:5443 --ca ca.crt]

Each URL gets `--seconds` of requests with a wrong password from `--threads` threads (a
guesser does not wait for one answer before the next), and the script prints, per URL,
the answers per second, how many were refusals of the password (401) and how many were
held back by a rate limit (429): the guesses per second that reach the password check.
Given the server directly and through the HTTPS proxy in one run (compose-check does),
the two lines are the "before" and "after" of the proxy's limit (benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import collections
import threading
import time

import requests

GUESSED_PATH = "/api/2.0/mlflow/experiments/search?max_results=1"  # checks the password


def guess(
    url: str, seconds: float, threads: int, ca: str | None, path: str = GUESSED_PATH
) -> collections.Counter:
    """Status codes of wrong-password requests to `path` sent for `seconds` from
    `threads` threads."""
    counts: collections.Counter = collections.Counter()
    lock = threading.Lock()
    end = time.monotonic() + seconds

    def work(worker: int) -> None:
        session = requests.Session()
        n = 0
        while time.monotonic() < end:
            n += 1
            try:
                status = session.get(
                    f"{url.rstrip('/')}{path}",
                    auth=("admin", f"wrong-{worker}-{n}"),
                    verify=ca or True,
                    timeout=10,
                ).status_code
            except requests.RequestException:
                status = 0
            with lock:
                counts[status] += 1

    pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("urls", nargs="+")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--ca", help="CA certificate for https URLs")
    parser.add_argument(
        "--path",
        default=GUESSED_PATH,
        help="what to request (default: an API call that checks the password; /health "
        "checks none and shows what the limit lets through)",
    )
    args = parser.parse_args()
    for url in args.urls:
        counts = guess(url, args.seconds, args.threads, args.ca, args.path)
        total = sum(counts.values())
        print(
            f"{url}{args.path}: {total / args.seconds:.0f} answers/s, "
            f"{counts[401] / args.seconds:.0f} "
            f"guesses/s checked (401), {counts[429] / args.seconds:.0f}/s held back (429), "
            f"other: {dict((k, v) for k, v in counts.items() if k not in (401, 429))}"
        )


if __name__ == "__main__":
    main()

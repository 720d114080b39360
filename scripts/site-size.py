#!/usr/bin/env python3
"""What a browser downloads on its first visit: the site's CSS, JS and wasm as the server
sends them (the brotli and gzip files `cargo leptos build --precompress` wrote beside each),
against the 300 KB gzipped a dashboard should cost. Figures, not pass/fail."""

import gzip
import sys
from pathlib import Path

BUDGET = 300 * 1024


def served(path: Path, encoding: str) -> int:
    """Bytes sent for `path` to a browser that accepts `encoding`."""
    compressed = path.with_name(f"{path.name}.{encoding}")
    if compressed.exists():
        return compressed.stat().st_size
    if encoding == "gz":
        return len(gzip.compress(path.read_bytes(), 9))
    return path.stat().st_size


def main() -> int:
    pkg = Path(sys.argv[1] if len(sys.argv) > 1 else "target/site/pkg")
    files = sorted(
        path
        for path in pkg.iterdir()
        if path.suffix in (".css", ".js", ".wasm") and path.is_file()
    )
    if not files:
        print(f"site size: nothing built in {pkg} (run `make build` first)", file=sys.stderr)
        return 1
    print("site files, as served (bytes)")
    print(f"  {'file':48} {'raw':>10} {'gzip':>10} {'brotli':>10}")
    totals = {"raw": 0, "gz": 0, "br": 0}
    for path in files:
        sizes = {"raw": path.stat().st_size, "gz": served(path, "gz"), "br": served(path, "br")}
        for key, size in sizes.items():
            totals[key] += size
        print(f"  {path.name:48} {sizes['raw']:>10} {sizes['gz']:>10} {sizes['br']:>10}")
    print(f"  {'first visit':48} {totals['raw']:>10} {totals['gz']:>10} {totals['br']:>10}")
    print(
        f"  first visit gzipped vs the 300 KB budget: {totals['gz'] / BUDGET:.2f}x "
        f"(brotli {totals['br'] / BUDGET:.2f}x)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""What a browser downloads: the site's CSS, JS and wasm as the server sends them (the brotli
and gzip files `cargo leptos build --precompress` wrote beside each). Every page needs the
shared part (the first visit, against the 300 KB gzipped a dashboard should cost); a page
with a lazy island (built with `--split`) also fetches that island's wasm and the pieces of
shared code it needs, once. Figures, not pass/fail."""

import gzip
import json
import sys
from pathlib import Path

BUDGET = 300 * 1024
ENCODINGS = ("raw", "gz", "br")


def served(path: Path, encoding: str) -> int:
    """Bytes sent for `path` to a browser that accepts `encoding`."""
    if encoding == "raw":
        return path.stat().st_size
    compressed = path.with_name(f"{path.name}.{encoding}")
    if compressed.exists():
        return compressed.stat().st_size
    if encoding == "gz":
        return len(gzip.compress(path.read_bytes(), 9))
    return path.stat().st_size


def sizes(paths: list[Path]) -> dict[str, int]:
    return {encoding: sum(served(path, encoding) for path in paths) for encoding in ENCODINGS}


def row(name: str, figures: dict[str, int], files: int | None = None) -> str:
    count = "" if files is None else f"{files:>6}"
    return f"  {name:44} {count:>6} {figures['raw']:>10} {figures['gz']:>10} {figures['br']:>10}"


def islands(pkg: Path) -> dict[str, list[Path]]:
    """Each lazy island's wasm files: its own module and the shared pieces it loads."""
    manifests = list(pkg.glob("__wasm_split_manifest*.json"))
    if not manifests:
        return {}
    loaded = {}
    for loader, chunks in json.loads(manifests[0].read_text()).items():
        own = sorted(pkg.glob(f"split_{loader}.*.wasm"))
        name = loader.removesuffix("_loader_" + loader.rsplit("_", 1)[-1]).removesuffix("_loader")
        loaded[name] = own + [pkg / f"{chunk}.wasm" for chunk in chunks]
    return loaded


def main() -> int:
    pkg = Path(sys.argv[1] if len(sys.argv) > 1 else "target/site/pkg")
    shared = sorted(
        path
        for path in pkg.iterdir()
        if path.is_file()
        and path.suffix in (".css", ".js", ".wasm")
        and not path.name.startswith(("chunk_", "split_"))
    )
    if not shared:
        print(f"site size: nothing built in {pkg} (run `make build` first)", file=sys.stderr)
        return 1
    print("site files, as served (bytes)")
    print(f"  {'file':44} {'files':>6} {'raw':>10} {'gzip':>10} {'brotli':>10}")
    for path in shared:
        print(row(path.name, sizes([path])))
    first = sizes(shared)
    print(row("first visit (every page needs these)", first, len(shared)))
    for name, paths in sorted(islands(pkg).items()):
        print(row(f"+ a page with the {name} island", sizes(paths), len(paths)))
    print(
        f"  first visit gzipped vs the 300 KB budget: {first['gz'] / BUDGET:.2f}x "
        f"(brotli {first['br'] / BUDGET:.2f}x)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

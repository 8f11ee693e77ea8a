"""Wall time of `findly-infra validate` on hostile files: every one must end in exit 2, quickly.

python benchmarks/bad_input.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LAUGHS = "\n".join(
    [f"a0: &a0 [{', '.join(['lol'] * 9)}]"]
    + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    + ["environments: *a8", ""]
)


def cases(folder: Path) -> dict[str, Path]:
    files = {
        "billion laughs (9^9 aliases)": LAUGHS.encode(),
        "binary (random-ish bytes)": bytes(range(256)) * 4096,
        "deep nesting (100k '[')": b"[" * 100_000 + b"]" * 100_000,
        "malformed YAML": b"environments: [unclosed\n",
        "a list, not a mapping": b"- a\n- b\n",
        "empty": b"",
        "a 5,000-digit integer": b"environments:\n  dev:\n    replicas: " + b"9" * 5000 + b"\n",
        "0.9 MiB of keys (under the size limit)": b"".join(b"k%07d: 1\n" % i for i in range(80_000)),
    }
    paths = {}
    for name, content in files.items():
        path = folder / f"{len(paths)}.yaml"
        path.write_bytes(content)
        paths[name] = path
    big = folder / "big.yaml"
    with big.open("wb") as out:
        out.truncate(50 * 1024 * 1024)
    paths["50 MB file"] = big
    return paths


def main() -> None:
    command = [
        shutil.which("findly-infra") or sys.executable,
        *([] if shutil.which("findly-infra") else ["-m", "findly_infra"]),
    ]
    with tempfile.TemporaryDirectory() as folder:
        print(f"{'input':42} {'exit':>4} {'ms':>8}  message")
        for name, path in cases(Path(folder)).items():
            start = time.perf_counter()
            result = subprocess.run([*command, "validate", str(path)], capture_output=True, text=True, check=False)
            elapsed = (time.perf_counter() - start) * 1000
            first = (result.stdout.splitlines() or [""])[0][:70]
            traceback = " TRACEBACK!" if "Traceback" in result.stdout + result.stderr else ""
            print(f"{name:42} {result.returncode:>4} {elapsed:8.1f}  {first}{traceback}")


if __name__ == "__main__":
    main()

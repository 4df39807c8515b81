"""Regenerates the committed Python package `coalition.v1` from `proto/coalition/v1/*.proto`.

Run `python proto/generate.py` after changing a proto; `--check` exits non-zero when the
committed output differs from what the protos generate now (CI runs it).
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PROTO_ROOT = REPO / "proto"
PACKAGE_DIR = REPO / "coalition" / "v1"
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi")


def generate_into(out_dir: Path) -> None:
    """Runs protoc (from grpcio-tools) on every proto, writing modules and type stubs."""
    import grpc_tools

    well_known = Path(grpc_tools.__file__).parent / "_proto"
    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in PROTO_ROOT.rglob("*.proto"))
    command = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{well_known}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        *protos,
    ]
    subprocess.run(command, check=True, cwd=PROTO_ROOT)  # noqa: S603 - our own fixed argv
    (out_dir / "coalition" / "v1" / "__init__.py").write_text(
        '"""Generated protobuf messages of the coalition.v1 API (do not edit)."""\n'
    )


def generated_files(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir() if p.name.endswith(GENERATED_SUFFIXES)} | {
        "__init__.py"
    }


def stale_files() -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        generate_into(Path(tmp))
        fresh_dir = Path(tmp) / "coalition" / "v1"
        fresh, committed = generated_files(fresh_dir), generated_files(PACKAGE_DIR)
        differing = sorted(fresh ^ committed)
        for name in sorted(fresh & committed):
            if not filecmp.cmp(fresh_dir / name, PACKAGE_DIR / name, shallow=False):
                differing.append(name)
        return differing


def regenerate() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        generate_into(Path(tmp))
        for name in generated_files(PACKAGE_DIR) if PACKAGE_DIR.exists() else set():
            (PACKAGE_DIR / name).unlink()
        PACKAGE_DIR.mkdir(parents=True, exist_ok=True)
        fresh_dir = Path(tmp) / "coalition" / "v1"
        for name in generated_files(fresh_dir):
            shutil.copy2(fresh_dir / name, PACKAGE_DIR / name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if committed code is stale")
    args = parser.parse_args()
    if not args.check:
        regenerate()
        print(f"generated {PACKAGE_DIR.relative_to(REPO)}")
        return 0
    stale = stale_files()
    if stale:
        print("generated code is stale; run `python proto/generate.py`: " + ", ".join(stale))
        return 1
    print("generated code is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())

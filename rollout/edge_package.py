"""The edge functions' deployment packages: built from the source in the lambda_edge template, with bytecode.

Lambda compiles a function's index.py at every cold start unless its package holds the bytecode
(/var/task is read-only, so Python cannot keep the .pyc it compiles). Compiling is most of an edge
function's cold start (docs/edge-config.md, "Cold start"), so a package holds index.py and, when an
interpreter of the functions' runtime is at hand, `__pycache__/index.<cache tag>.pyc`:

- compiled by that interpreter: bytecode is specific to the Python minor version;
- checked against the source by hash (PEP 552): Python uses it only if it was compiled from exactly
  this index.py, and compiles the source otherwise; zip extraction resets file times, which an
  ordinary (timestamp) .pyc would need.

Without such an interpreter the package holds the source alone: correct, with slower cold starts.
The interpreter is EDGECDN_RUNTIME_PYTHON, else `python3.13` (for RUNTIME python3.13) on PATH.

A package goes to the edge region's templates bucket under the key its function's Code.S3Key names
(`<env>/lambda-edge/<event type>-<sha256 of index.py>.zip`); S3 metadata records whether it holds
bytecode, so a package built without is replaced once a publish can do better.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import os
import shutil
import subprocess
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rollout.aws import head_object
from rollout.errors import InputError
from templates.edge_functions import TRIGGERS
from templates.lambda_edge import CODE_METADATA, RUNTIME, code_key

RUNTIME_PYTHON_ENV = "EDGECDN_RUNTIME_PYTHON"
BYTECODE_METADATA = "bytecode"  # the .pyc's cache tag (cpython-313), or "none"
NO_BYTECODE = "none"
LAMBDA_EDGE_TEMPLATE = "lambda_edge.json"
# Lambda@Edge quotas: the compressed package of a viewer trigger is at most 1 MB, of an origin trigger 50 MB.
VIEWER_PACKAGE_LIMIT = 1024 * 1024
ORIGIN_PACKAGE_LIMIT = 50 * 1024 * 1024
# Where Lambda extracts a function's package (its LAMBDA_TASK_ROOT).
LAMBDA_TASK_PATH = "/var/task/index.py"
# A zip entry's time is local and at least 1980: a fixed one keeps the package's bytes reproducible.
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def runtime_cache_tag(runtime: str = RUNTIME) -> str:
    """`cpython-313` for `python3.13`: the tag of the .pyc file the runtime's interpreter looks for."""
    major, _, minor = runtime.removeprefix("python").partition(".")
    return f"cpython-{major}{minor}"


@dataclass(frozen=True)
class RuntimePython:
    """The interpreter that compiles the bytecode (None: source only) and why, for the report."""

    path: str | None
    note: str


def _cache_tag_of(python: str) -> str | None:
    try:
        out = subprocess.run([python, "-I", "-c", "import sys; print(sys.implementation.cache_tag)"],
                             capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


@functools.lru_cache(maxsize=4)
def find_runtime_python(configured: str | None = None, runtime: str = RUNTIME) -> RuntimePython:
    """The interpreter of the functions' runtime: `configured` (EDGECDN_RUNTIME_PYTHON), which must be one
    (InputError otherwise), or `python3.13` on PATH if it runs and is one; else none."""
    tag = runtime_cache_tag(runtime)
    if configured:
        found = _cache_tag_of(configured)
        if found != tag:
            raise InputError(f"{RUNTIME_PYTHON_ENV}={configured}: must be a Python interpreter of the edge "
                             f"functions' runtime {runtime} (cache tag {tag}), "
                             f"{'got ' + found if found else 'it does not run'}")
        return RuntimePython(configured, f"bytecode compiled by {configured} ({RUNTIME_PYTHON_ENV})")
    name = runtime  # python3.13
    path = shutil.which(name)
    if path and _cache_tag_of(path) == tag:
        return RuntimePython(path, f"bytecode compiled by {path}")
    return RuntimePython(None, f"source only: no working {name} on PATH (set {RUNTIME_PYTHON_ENV} to one); "
                               "each cold start compiles index.py, about 30 ms more CPU")


def runtime_python() -> RuntimePython:
    return find_runtime_python(os.environ.get(RUNTIME_PYTHON_ENV) or None)


def compile_bytecode(source: str, python: str) -> tuple[str, bytes]:
    """(the .pyc's path in the package, its bytes): index.py compiled by `python`, checked by source hash."""
    with tempfile.TemporaryDirectory() as work:
        index = Path(work) / "index.py"
        index.write_bytes(source.encode("utf-8"))
        compiled = Path(work) / "index.pyc"
        # dfile: the path tracebacks name, where Lambda extracts the package (not this temporary one,
        # which would also make every build's bytes differ).
        program = ("import py_compile, sys; py_compile.compile(sys.argv[1], cfile=sys.argv[2], "
                   f"dfile={LAMBDA_TASK_PATH!r}, doraise=True, "
                   "invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH); "
                   "print(sys.implementation.cache_tag)")
        out = subprocess.run([python, "-I", "-c", program, str(index), str(compiled)], capture_output=True,
                             text=True, timeout=120)
        if out.returncode != 0:
            raise InputError(f"{python} could not compile the edge function source: {out.stderr.strip()[-500:]}")
        return f"__pycache__/index.{out.stdout.strip()}.pyc", compiled.read_bytes()


def build_package(source: str, python: str | None) -> bytes:
    """The zip Lambda extracts into /var/task: index.py, and its bytecode when `python` is given."""
    entries = [("index.py", source.encode("utf-8"))]
    if python:
        entries.append(compile_bytecode(source, python))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, body in entries:
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o100644 << 16  # a regular file everyone can read, as Lambda requires
            archive.writestr(info, body)
    return buffer.getvalue()


@dataclass(frozen=True)
class EdgeCode:
    """One function's code as the lambda_edge template gives it: its trigger, source and package key."""

    logical_id: str
    event_type: str
    source: str
    key: str


def edge_code(environment: str, template: dict[str, Any], where: str) -> list[EdgeCode]:
    """The functions of the lambda_edge template whose code is a package, with their source (inline ZipFile
    code needs none); InputError if a key does not match its source (the template was edited, or built by
    another version of generate.py)."""
    functions = []
    for logical_id, resource in sorted(template.get("Resources", {}).items()):
        code = resource.get("Properties", {}).get("Code") or {}
        if resource.get("Type") != "AWS::Lambda::Function" or "ZipFile" in code:
            continue
        metadata = resource.get("Metadata") or {}
        source = (metadata.get(CODE_METADATA) or {}).get("index.py")
        key = code.get("S3Key")
        event_type = metadata.get("EdgeEventType")
        if not isinstance(source, str) or not isinstance(key, str) or not isinstance(event_type, str):
            raise InputError(f"{where}: {logical_id} lacks Metadata.{CODE_METADATA}.index.py, "
                             "Metadata.EdgeEventType or Code.S3Key: run `python generate.py`")
        if event_type not in TRIGGERS:  # it is part of the key, which `package` makes a file path
            raise InputError(f"{where}: {logical_id} Metadata.EdgeEventType {event_type!r} is not one of "
                             f"{', '.join(TRIGGERS)}: run `python generate.py`")
        if key != code_key(environment, event_type, source):
            raise InputError(f"{where}: {logical_id} Code.S3Key {key} does not match its "
                             f"Metadata.{CODE_METADATA} source: run `python generate.py`")
        functions.append(EdgeCode(logical_id, event_type, source, key))
    return functions


def checked_package(function: EdgeCode, python: RuntimePython) -> bytes:
    """The function's package; InputError if it is over the Lambda@Edge limit of its trigger."""
    package = build_package(function.source, python.path)
    limit = VIEWER_PACKAGE_LIMIT if function.event_type.startswith("viewer-") else ORIGIN_PACKAGE_LIMIT
    if len(package) > limit:
        raise InputError(f"the {function.event_type} package is {len(package):,} bytes, over the "
                         f"{limit:,}-byte Lambda@Edge limit for its trigger")
    return package


@dataclass
class PackageOutcome:
    key: str
    action: str  # "uploaded", "replaced" (a package without bytecode) or "present"
    bytecode: str
    size: int | None = None


def publish_packages(code: list[EdgeCode], s3: Any, bucket: str, python: RuntimePython) -> list[PackageOutcome]:
    """Put each function's package under its key, unless one is there already that holds bytecode (or
    this publish cannot build bytecode either). Every package is built and checked against its
    trigger's size limit before the first upload. Lambda takes a copy at create or update: replacing
    an object never changes a function already deployed."""
    wanted = runtime_cache_tag() if python.path else NO_BYTECODE
    outcomes, uploads = [], []
    for function in code:
        head = head_object(s3, bucket, function.key)
        existing = (head or {}).get("Metadata", {}).get(BYTECODE_METADATA)
        if head is not None and (existing != NO_BYTECODE or wanted == NO_BYTECODE):
            outcomes.append(PackageOutcome(function.key, "present", existing or NO_BYTECODE))
            continue
        package = checked_package(function, python)
        outcome = PackageOutcome(function.key, "replaced" if head else "uploaded", wanted, len(package))
        outcomes.append(outcome)
        uploads.append((outcome, package))
    for outcome, package in uploads:
        s3.put_object(
            Bucket=bucket, Key=outcome.key, Body=package, ContentType="application/zip",
            Metadata={BYTECODE_METADATA: wanted},
            # S3 rejects the upload if the bytes it received do not match.
            ChecksumSHA256=base64.b64encode(hashlib.sha256(package).digest()).decode(),
        )
    return outcomes


def write_packages(code: list[EdgeCode], directory: Path, python: RuntimePython) -> list[Path]:
    """Write each package to directory/<its key> (for `aws s3 sync directory s3://<bucket>/`); every package
    is built and size-checked before the first file is written. The files written, in order."""
    built = [(directory / function.key, checked_package(function, python)) for function in code]
    for path, package in built:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        partial.write_bytes(package)
        partial.replace(path)  # a reader never sees half a package
    return [path for path, _ in built]

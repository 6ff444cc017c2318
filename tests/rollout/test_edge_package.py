"""The edge functions' packages: what Lambda extracts, the bytecode the runtime loads, and how publish uploads them."""

from __future__ import annotations

import io
import json
import marshal
import subprocess
import sys
import zipfile
from pathlib import Path

import botocore.exceptions
import pytest

from rollout import edge_package
from rollout.edge_package import (
    BYTECODE_METADATA,
    NO_BYTECODE,
    RUNTIME_PYTHON_ENV,
    RuntimePython,
    build_package,
    edge_code,
    find_runtime_python,
    publish_packages,
)
from rollout.errors import InputError
from templates.lambda_edge import code_key

ROOT = Path(__file__).resolve().parents[2]
SOURCE = "ANSWER = 42\n\n\ndef viewer_request(event, context=None):\n    return ANSWER\n"
THIS_RUNTIME = f"python{sys.version_info[0]}.{sys.version_info[1]}"


def _entries(package: bytes) -> dict[str, zipfile.ZipInfo]:
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        return {info.filename: info for info in archive.infolist()}


def _extract(package: bytes, directory: Path) -> Path:
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        archive.extractall(directory)
    return directory


def _import_index(directory: Path) -> subprocess.CompletedProcess:
    """`import index` in a fresh interpreter as Lambda's runtime does, verbose: it says where the code came from."""
    return subprocess.run([sys.executable, "-v", "-c", "import index; print(index.viewer_request({}))"],
                          cwd=directory, env={"PYTHONDONTWRITEBYTECODE": "1", "PATH": ""},
                          capture_output=True, text=True, check=True)


def test_a_package_without_bytecode_is_index_py_readable_by_everyone_and_reproducible():
    package = build_package(SOURCE, None)
    assert build_package(SOURCE, None) == package
    entries = _entries(package)
    assert list(entries) == ["index.py"]
    assert entries["index.py"].external_attr >> 16 == 0o100644  # Lambda needs files it can read
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        assert archive.read("index.py").decode() == SOURCE


def test_the_runtime_loads_the_bytecode_instead_of_compiling_the_source(tmp_path):
    package = build_package(SOURCE, sys.executable)
    assert build_package(SOURCE, sys.executable) == package  # reproducible, bytecode included
    pyc = f"__pycache__/index.{sys.implementation.cache_tag}.pyc"
    assert sorted(_entries(package)) == [pyc, "index.py"]
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        # PEP 552 header (16 bytes), then the code, which names the file where Lambda extracts it.
        assert marshal.loads(archive.read(pyc)[16:]).co_filename == "/var/task/index.py"
    directory = _extract(package, tmp_path / "task")
    loaded = _import_index(directory)
    assert loaded.stdout.strip() == "42"
    assert f"code object from '{directory / pyc}'" in loaded.stderr


def test_bytecode_of_other_source_is_ignored(tmp_path):
    """Checked by hash: a .pyc that does not belong to the index.py beside it is never run."""
    directory = _extract(build_package(SOURCE, sys.executable), tmp_path / "task")
    (directory / "index.py").write_text(SOURCE.replace("42", "43"))
    loaded = _import_index(directory)
    assert loaded.stdout.strip() == "43"
    assert f"code object from '{directory / '__pycache__'}" not in loaded.stderr
    assert f"code object from {directory / 'index.py'}\n" in loaded.stderr  # compiled from the source


def test_the_runtime_interpreter_is_the_configured_one_or_python3_x_on_path(monkeypatch):
    find_runtime_python.cache_clear()
    found = find_runtime_python(sys.executable, THIS_RUNTIME)
    assert found.path == sys.executable and RUNTIME_PYTHON_ENV in found.note
    with pytest.raises(InputError, match=rf"{RUNTIME_PYTHON_ENV}=.*python3\.99 \(cache tag cpython-399\), got "):
        find_runtime_python(sys.executable, "python3.99")
    with pytest.raises(InputError, match="it does not run"):
        find_runtime_python(str(Path(sys.executable).parent / "no-such-python"), THIS_RUNTIME)
    monkeypatch.setattr(edge_package.shutil, "which", lambda name: sys.executable if name == THIS_RUNTIME else None)
    assert find_runtime_python(None, THIS_RUNTIME).path == sys.executable
    # A python3.99 on PATH that is not one (a pyenv shim without that version, say) counts as none.
    monkeypatch.setattr(edge_package.shutil, "which", lambda name: sys.executable)
    missing = find_runtime_python(None, "python3.99")
    assert missing.path is None and missing.note.startswith("source only: no working python3.99 on PATH")
    find_runtime_python.cache_clear()


def _lambda_edge(environment: str = "prod") -> dict:
    return json.loads((ROOT / "output" / environment / "lambda_edge.json").read_text())


def test_the_generated_keys_name_the_sha256_of_the_source_they_hold():
    code = edge_code("prod", _lambda_edge(), "output/prod/lambda_edge.json")
    assert sorted(c.event_type for c in code) == ["origin-response", "viewer-request", "viewer-response"]
    for function in code:
        assert function.key == code_key("prod", function.event_type, function.source)
        compile(function.source, "index.py", "exec")


def test_a_template_whose_source_does_not_match_its_key_is_refused():
    template = _lambda_edge()
    template["Resources"]["ViewerRequestFunction"]["Metadata"]["EdgeCode"]["index.py"] += "# edited by hand\n"
    with pytest.raises(InputError, match=r"output/prod/lambda_edge.json: ViewerRequestFunction Code.S3Key "
                                         r"prod/lambda-edge/viewer-request-[0-9a-f]{64}\.zip does not match its "
                                         r"Metadata.EdgeCode source: run `python generate.py`"):
        edge_code("prod", template, "output/prod/lambda_edge.json")
    escaping = _lambda_edge()
    function = escaping["Resources"]["ViewerResponseFunction"]
    function["Metadata"]["EdgeEventType"] = "../../../elsewhere"
    source = function["Metadata"]["EdgeCode"]["index.py"]
    function["Properties"]["Code"]["S3Key"] = code_key("prod", "../../../elsewhere", source)
    with pytest.raises(InputError, match=r"ViewerResponseFunction Metadata.EdgeEventType '../../../elsewhere' "
                                         r"is not one of viewer-request, origin-response, viewer-response"):
        edge_code("prod", escaping, "output/prod/lambda_edge.json")
    del template["Resources"]["OriginResponseFunction"]["Metadata"]["EdgeCode"]
    with pytest.raises(InputError, match="OriginResponseFunction lacks Metadata.EdgeCode.index.py"):
        edge_code("prod", template, "output/prod/lambda_edge.json")


def test_inline_code_needs_no_package():
    template = _lambda_edge()
    inline = template["Resources"]["ViewerResponseFunction"]
    inline["Properties"]["Code"] = {"ZipFile": inline["Metadata"].pop("EdgeCode")["index.py"]}
    code = edge_code("prod", template, "lambda_edge.json")
    assert sorted(c.event_type for c in code) == ["origin-response", "viewer-request"]


class FakeBucket:
    """head_object and put_object of one bucket, as S3 answers them."""

    def __init__(self):
        self.objects: dict[str, dict] = {}
        self.puts: list[str] = []

    def head_object(self, Bucket, Key):
        if Key not in self.objects:
            raise botocore.exceptions.ClientError({"Error": {"Code": "404", "Message": "Not Found"}}, "HeadObject")
        return {"Metadata": self.objects[Key]["Metadata"]}

    def put_object(self, Bucket, Key, Body, Metadata, **_):
        self.objects[Key] = {"Body": Body, "Metadata": Metadata}
        self.puts.append(Key)


def test_publish_uploads_each_package_once_and_replaces_one_without_bytecode_when_it_can_do_better():
    code = edge_code("prod", _lambda_edge(), "lambda_edge.json")
    bucket = FakeBucket()
    source_only = RuntimePython(None, "source only")
    with_bytecode = RuntimePython(sys.executable, "bytecode")

    first = publish_packages(code, bucket, "templates", source_only)
    assert [o.action for o in first] == ["uploaded"] * 3 and len(bucket.puts) == 3
    assert {o[BYTECODE_METADATA] for o in (v["Metadata"] for v in bucket.objects.values())} == {NO_BYTECODE}
    assert [o.action for o in publish_packages(code, bucket, "templates", source_only)] == ["present"] * 3
    assert len(bucket.puts) == 3  # nothing new: no upload

    better = publish_packages(code, bucket, "templates", with_bytecode)
    assert [o.action for o in better] == ["replaced"] * 3 and len(bucket.puts) == 6
    for function in code:
        stored = bucket.objects[function.key]
        assert stored["Metadata"][BYTECODE_METADATA] == edge_package.runtime_cache_tag()
        names = sorted(_entries(stored["Body"]))
        assert names == [f"__pycache__/index.{sys.implementation.cache_tag}.pyc", "index.py"]
    # A later publish without the interpreter keeps the packages with bytecode.
    assert [o.action for o in publish_packages(code, bucket, "templates", source_only)] == ["present"] * 3
    assert len(bucket.puts) == 6


def test_a_viewer_package_over_the_lambda_at_edge_limit_is_refused(monkeypatch):
    code = edge_code("prod", _lambda_edge(), "lambda_edge.json")
    monkeypatch.setattr(edge_package, "VIEWER_PACKAGE_LIMIT", 1000)
    bucket = FakeBucket()
    with pytest.raises(InputError, match=r"the (viewer-request|viewer-response) package is [0-9,]+ bytes, over the "
                                         r"1,000-byte Lambda@Edge limit for its trigger"):
        publish_packages(code, bucket, "templates", RuntimePython(None, "source only"))
    assert bucket.puts == []  # checked before the first upload


def test_an_unusable_runtime_python_stops_publish_before_any_upload(monkeypatch):
    from rollout.publish import publish_templates
    from rollout_support import StubbedClients, real_set

    find_runtime_python.cache_clear()
    monkeypatch.setenv(RUNTIME_PYTHON_ENV, "/nonexistent/python3.13")
    clients = StubbedClients()  # any S3 call would fail: none is stubbed
    with pytest.raises(InputError, match=r"EDGECDN_RUNTIME_PYTHON=/nonexistent/python3.13: must be a Python "
                                         r"interpreter of the edge functions' runtime python3.13"):
        publish_templates(real_set("dev"), clients, buckets_checked=True)
    assert clients.log.calls == []
    find_runtime_python.cache_clear()


def test_rehearse_with_an_unusable_runtime_python_is_bad_input(monkeypatch, capsys):
    import deploy

    find_runtime_python.cache_clear()
    monkeypatch.setenv(RUNTIME_PYTHON_ENV, sys.executable if sys.implementation.cache_tag != "cpython-313"
                       else "/nonexistent/python3.13")
    assert deploy.main(["rehearse", "--env", "dev"]) == 2
    assert f"error: {RUNTIME_PYTHON_ENV}=" in capsys.readouterr().err
    find_runtime_python.cache_clear()


def test_package_writes_each_package_under_its_key_for_the_console_path(monkeypatch, tmp_path, capsys):
    import deploy

    find_runtime_python.cache_clear()
    monkeypatch.delenv(RUNTIME_PYTHON_ENV, raising=False)
    monkeypatch.setattr(edge_package.shutil, "which", lambda name: None)  # no python3.13: source only
    assert deploy.main(["package", "--env", "dev", "--output", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    code = edge_code("dev", _lambda_edge("dev"), "lambda_edge.json")
    for function in code:
        path = tmp_path / function.key
        assert f"  {path}" in out
        with zipfile.ZipFile(path) as archive:
            assert archive.namelist() == ["index.py"] and archive.read("index.py").decode() == function.source
    assert f"aws s3 sync {tmp_path}/ s3://<bucket>/" in out
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()) == \
        sorted(f.key for f in code)  # nothing else, no partial file left
    find_runtime_python.cache_clear()

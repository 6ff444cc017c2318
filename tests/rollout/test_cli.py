"""Bad input gets a clear message and exit 2 before any AWS call; the CLI runs from anywhere."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import deploy
from rollout import inputs
from rollout_support import ROOT


def _run(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    status = deploy.main(argv)
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize("command", ["bootstrap", "publish", "deploy", "status", "outputs", "diff", "rehearse",
                                     "retained"])
def test_unknown_environment(command: str, capsys: pytest.CaptureFixture) -> None:
    status, out, err = _run([command, "--env", "nope"], capsys)
    assert status == 2
    assert "config/nope.yaml: (file): no such environment 'nope'; known: dev, prod, staging" in err
    assert out == ""


@pytest.mark.parametrize("command", ["publish", "deploy", "diff", "rehearse", "retained"])
def test_missing_output_directory(command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setattr(inputs, "OUTPUT_ROOT", tmp_path)
    status, out, err = _run([command, "--env", "dev"], capsys)
    assert status == 2
    assert f"{tmp_path / 'dev'} does not exist: run `python generate.py --env dev` first" in err


@pytest.mark.parametrize("command", ["publish", "deploy", "diff", "rehearse"])
def test_stale_output_is_refused_before_anything_else(command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture) -> None:
    shutil.copytree(ROOT / "output" / "dev", tmp_path / "dev")
    waf = tmp_path / "dev" / "waf.json"
    original = waf.read_text()
    waf.write_text(original.replace('"Limit": 1000', '"Limit": 5000'))
    assert waf.read_text() != original
    (tmp_path / "dev" / "extra.json").write_text('{"Resources": {}}')
    monkeypatch.setattr(inputs, "OUTPUT_ROOT", tmp_path)
    # No credentials exist here: reaching the credential check would print another message.
    status, out, err = _run([command, "--env", "dev"], capsys)
    assert status == 2
    assert "is stale, `python generate.py --check` would reject it: extra.json (not generated any more), " \
           "waf.json (differs); run `python generate.py --env dev` and commit the result" in err


@pytest.mark.parametrize("command", ["publish", "deploy", "diff", "rehearse", "retained"])
def test_unreadable_output_is_bad_input(command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture) -> None:
    shutil.copytree(ROOT / "output" / "dev", tmp_path / "dev")
    (tmp_path / "dev" / "extra.json").mkdir()
    monkeypatch.setattr(inputs, "OUTPUT_ROOT", tmp_path)
    status, out, err = _run([command, "--env", "dev"], capsys)
    assert status == 2 and "Traceback" not in err
    assert f"{tmp_path / 'dev'}: cannot read the templates ([Errno 21] Is a directory" in err


@pytest.mark.parametrize("command", ["bootstrap", "publish", "deploy", "status", "outputs", "diff", "retained"])
def test_missing_credentials(command: str, capsys: pytest.CaptureFixture) -> None:
    status, out, err = _run([command, "--env", "dev"], capsys)
    assert status == 2
    assert "no AWS credentials found: set AWS_PROFILE or pass --profile" in err


def test_unknown_profile(capsys: pytest.CaptureFixture) -> None:
    status, out, err = _run(["deploy", "--env", "dev", "--profile", "no-such-profile"], capsys)
    assert status == 2
    assert "AWS profile 'no-such-profile' not found" in err


@pytest.mark.parametrize("command", ["bootstrap", "publish", "deploy", "status", "outputs", "diff", "destroy"])
@pytest.mark.parametrize("url", ["notaurl", "localhost:5000", "ftp://moto", "http://"])
def test_endpoint_url_that_is_not_a_url(command: str, url: str, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as stopped:
        deploy.main([command, "--env", "dev", "--endpoint-url", url])
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and "Traceback" not in err
    assert err.splitlines()[-1] == (f"deploy.py {command}: error: argument --endpoint-url: must be an http(s) URL "
                                    f"such as http://localhost:5000, got {url!r}")


def test_bootstrap_role_that_is_not_a_role_name(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as stopped:
        deploy.main(["bootstrap", "--env", "dev", "--bootstrap-role", "arn:aws:iam::1:role/x"])
    assert stopped.value.code == 2
    assert "argument --bootstrap-role: must be an IAM role name" in capsys.readouterr().err


@pytest.mark.parametrize("env", ["../config/dev", "dev/../dev", ".dev", ""])
def test_environment_that_is_a_path(env: str, capsys: pytest.CaptureFixture) -> None:
    status, out, err = _run(["status", "--env", env], capsys)
    assert status == 2 and f"no such environment {env!r}" in err


def test_destroy_needs_confirmation(capsys: pytest.CaptureFixture) -> None:
    status, out, err = _run(["destroy", "--env", "dev"], capsys)
    assert status == 2
    assert "destroy deletes every instance of stack set edgecdn-dev and the stack set itself; pass --yes" in err


def test_publish_before_bootstrap_says_what_to_run(moto: str, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    status, out, err = _run(["publish", "--env", "dev", "--endpoint-url", moto], capsys)
    assert status == 2
    assert ("template bucket edgecdn-stacksets-123456789012-us-east-1 does not exist: run "
            "`python deploy.py bootstrap --env dev` first") in err


def test_help_from_another_directory(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, str(ROOT / "deploy.py"), "deploy", "--help"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "region with the DistributionArn of each account's us-east-1 instance" in result.stdout
    assert "--expire-legacy-edge-logs" in result.stdout
    assert "--endpoint-url URL" in result.stdout

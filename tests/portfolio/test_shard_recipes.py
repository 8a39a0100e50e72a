"""The two sharding recipes of docs/scheduling.md are real: their YAML parses (PyYAML), the matrix and the
Indexed Job name every shard 1..N once, and their shell scripts, run by a real shell with a stand-in `auditor`
that records its arguments, give command lines the real CLI accepts (`--shard I/N` for each shard, the merge
over every shard's folder), turn 1 and 3 into success and keep 2. Secrets come from secret stores only."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import typer.main

from auditor.cli import app
from auditor.shards import parse_shard

yaml = pytest.importorskip("yaml", reason="PyYAML is a test dependency")

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "scheduling.md"


def yaml_blocks() -> list[list[dict]]:
    text = GUIDE.read_text(encoding="utf-8")
    return [[d for d in yaml.safe_load_all(block) if d] for block in re.findall(r"```yaml\n(.*?)```", text, re.S)]


def workflow() -> dict:
    (doc,) = next(b for b in yaml_blocks() if "jobs" in b[0])
    return doc


def jobs_of(kind: str) -> list[dict]:
    return [d for block in yaml_blocks() for d in block if d.get("kind") == kind]


def accepted(args: list[str]) -> list[str]:
    """`args` (after `auditor`) through the real command's parser: unknown options and bad values raise."""
    click_app = typer.main.get_command(app)
    sub = click_app.commands[args[0]]  # type: ignore[attr-defined]
    sub.make_context(args[0], list(args[1:]))
    return args


def run_script(tmp_path: Path, script: str, shell: list[str], env: dict[str, str], exit_code: int = 0,
               cwd: Path | None = None) -> tuple[int, list[list[str]]]:
    """Runs `script` with a stand-in `auditor` first on PATH: it records each call's arguments and exits
    `exit_code`. Returns the script's exit status and the calls."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    log = tmp_path / "calls"
    log.write_text("")
    stub = bin_dir / "auditor"
    stub.write_text(f'#!/bin/sh\nfor a in "$@"; do printf "%s\\037" "$a" >> "{log}"; done\n'
                    f'printf "\\n" >> "{log}"\nexit {exit_code}\n')
    stub.chmod(0o755)
    environ = {"PATH": f"{bin_dir}:{os.environ['PATH']}", **env}
    done = subprocess.run([*shell, script], env=environ, cwd=cwd or tmp_path, capture_output=True, text=True,
                          timeout=30)
    calls = [line.split("\x1f")[:-1] for line in log.read_text().splitlines() if line]
    return done.returncode, calls


def option(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def test_the_guide_holds_the_workflow_and_both_jobs():
    assert workflow()["jobs"]
    assert len(jobs_of("Job")) == 2


def test_the_matrix_runs_every_shard_once_and_each_command_is_its_shard(tmp_path):
    flow = workflow()
    shard_job, merge_job = flow["jobs"]["shard"], flow["jobs"]["merge"]
    shards = shard_job["strategy"]["matrix"]["shard"]
    count = len(shards)
    assert shards == list(range(1, count + 1)) and count > 1
    assert shard_job["strategy"]["fail-fast"] is False
    audit = next(s for s in shard_job["steps"] if "auditor audit" in s.get("run", ""))
    assert "--shard \"${{ matrix.shard }}/" in audit["run"]
    seen = []
    for shard in shards:
        script = audit["run"].replace("${{ matrix.shard }}", str(shard))
        for code, expected in ((0, 0), (1, 0), (3, 0), (2, 2), (4, 4)):
            status, calls = run_script(tmp_path, script, ["bash", "-e", "-c"], {}, exit_code=code)
            assert status == expected, (shard, code, status)
        (args,) = calls
        accepted(args)
        assert args[0] == "audit" and parse_shard(option(args, "--shard")).count == count
        seen.append(parse_shard(option(args, "--shard")).index)
        upload = next(s for s in shard_job["steps"] if s.get("uses", "").startswith("actions/upload-artifact@"))
        assert upload["if"] == "always()" and upload["with"]["path"].rstrip("/") == option(args, "--out")
        assert upload["with"]["name"].replace("${{ matrix.shard }}", str(shard)) == f"portfolio-shard-{shard}"
    assert seen == list(range(1, count + 1))
    for name, value in audit["env"].items():  # secrets from the secret store, by the names secret_env gives
        assert value == f"${{{{ secrets.{name} }}}}"

    assert merge_job["needs"] == "shard" and merge_job["if"] == "always()"
    download = next(s for s in merge_job["steps"] if s.get("uses", "").startswith("actions/download-artifact@"))
    assert download["with"]["pattern"] == "portfolio-shard-*" and not download["with"].get("merge-multiple")
    for shard in shards:  # download-artifact puts each artifact in a folder named after it
        (tmp_path / download["with"]["path"] / f"portfolio-shard-{shard}").mkdir(parents=True, exist_ok=True)
    merge = next(s for s in merge_job["steps"] if "merge-portfolio" in s.get("run", ""))
    status, (args,) = run_script(tmp_path, merge["run"], ["bash", "-e", "-c"], {})
    accepted(args)
    assert status == 0 and args[0] == "merge-portfolio" and "--allow-missing" not in args
    assert sorted(a for a in args if a.startswith(download["with"]["path"] + "/")) == [
        f"{download['with']['path']}/portfolio-shard-{s}" for s in shards]


def test_the_indexed_job_runs_shard_index_plus_one_of_completions(tmp_path):
    shards, merge = jobs_of("Job")
    spec = shards["spec"]
    count = spec["completions"]
    assert spec["completionMode"] == "Indexed" and count > 1 and 1 <= spec["parallelism"] <= count
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"  # podFailurePolicy needs it
    (rule,) = spec["podFailurePolicy"]["rules"]
    (container,) = pod["containers"]
    assert rule["action"] == "FailJob" and rule["onExitCodes"]["values"] == [2]
    assert rule["onExitCodes"]["containerName"] == container["name"]
    shell, script = container["command"][:2], container["command"][2]
    assert shell == ["/bin/sh", "-c"] and "JOB_COMPLETION_INDEX" in script
    seen, outs = [], []
    for index in range(count):
        status, (args,) = run_script(tmp_path, script, shell, {"JOB_COMPLETION_INDEX": str(index)}, exit_code=1)
        accepted(args)
        assert status == 0 and args[0] == "audit"
        shard = parse_shard(option(args, "--shard"))
        assert shard.count == count
        seen.append(shard.index)
        outs.append(option(args, "--out"))
        assert run_script(tmp_path, script, shell, {"JOB_COMPLETION_INDEX": str(index)}, exit_code=2)[0] == 2
    assert seen == list(range(1, count + 1)) and len(set(outs)) == count
    assert container["envFrom"] == [{"secretRef": {"name": "mailbox-audit-secrets"}}]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert all(out.startswith(mounts["data"] + "/") for out in outs)

    mspec = merge["spec"]
    assert mspec["backoffLimit"] == 0 and mspec["template"]["spec"]["restartPolicy"] == "Never"
    (merger,) = mspec["template"]["spec"]["containers"]
    mshell, mscript = merger["command"][:2], merger["command"][2]
    root = tmp_path / "data"
    for out in outs:  # the shards' folders, under a stand-in for the shared volume
        (root / out.removeprefix(mounts["data"] + "/")).mkdir(parents=True, exist_ok=True)
    status, (args,) = run_script(tmp_path, mscript.replace(mounts["data"], str(root)), mshell, {})
    accepted(args)
    assert status == 0 and args[0] == "merge-portfolio"
    assert sorted(args[3:]) == sorted(out.replace(mounts["data"], str(root)) for out in outs)
    assert merge["spec"]["template"]["spec"]["volumes"] == [v for v in pod["volumes"] if v["name"] == "data"]


def test_no_recipe_puts_a_secret_on_a_command_line():
    """The commands name no secret at all: the tenants' secrets reach the auditor as environment variables
    (from `secrets.*` or a Kubernetes Secret), by the names the portfolio's secret_env gives."""
    commands = [step["run"] for job in workflow()["jobs"].values() for step in job["steps"] if "run" in step]
    commands += [" ".join(c["command"]) for job in jobs_of("Job") for c in job["spec"]["template"]["spec"]
                 ["containers"]]
    assert len(commands) == 6
    for command in commands:
        assert not re.search(r"(?i)secret|password|token", command), command

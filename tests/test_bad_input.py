"""Every bad input is one line naming the file and the field, exit status 2, and nothing registered:
files that are not UTF-8, keys written twice, files over the size limit, a stack file whose region
contradicts its name, a served region without a stack, a git ref that does not exist. And a fuzz
test: random bytes and random YAML documents give the loader nothing but a ConfigError."""

import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from catalog import ConfigError
from catalog.loader import load_catalog, load_settings
from catalog.source import MAX_STACK_BYTES, MAX_TENANT_BYTES, read_json
from planner import __main__ as cli
from planner import policy
from planner.runner import ROOT, ProgramError, build_plan
from planner.stackconfig import read_stack_config

TENANT = "tenants/dev/demo-basic.yaml"


def expect_stopped(project: Path, stack: str, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The error is exactly `message` (one line), nothing was registered, and the command line
    exits 2 with that line and writes nothing."""
    with pytest.raises((ConfigError, ProgramError)) as caught:
        build_plan(stack, project)
    assert str(caught.value) == message
    assert getattr(caught.value, "registered", 0) == 0  # ConfigError: raised before the program ran
    out = project / "out"
    status = cli.main(["plan", "--stack", stack, "--root", str(project), "--out", str(out)])
    assert status == 2
    assert capsys.readouterr().err == f"error: {message}\n"
    assert not out.exists()


# ---- not UTF-8


@pytest.mark.parametrize(
    ("encode", "byte", "offset"),
    [
        (lambda text: text.replace("Demo", "Démo").encode("latin-1"), 0xE9, 29),
        (lambda text: text.encode("utf-16"), 0xFF, 0),  # with its byte order mark
        (lambda text: bytes(range(256)) * 4, 0x80, 128),
    ],
    ids=["latin-1", "utf-16", "binary"],
)
def test_tenant_file_not_utf8(
    project_copy: Path, capsys: pytest.CaptureFixture[str], encode: Any, byte: int, offset: int
) -> None:
    path = project_copy / TENANT
    path.write_bytes(encode(path.read_text(encoding="utf-8")))
    expect_stopped(
        project_copy,
        "dev",
        f"{TENANT}: (file): not UTF-8 text (byte 0x{byte:02x} at offset {offset}); save it as UTF-8",
        capsys,
    )


def test_tenant_file_not_utf8_on_a_stack_with_dr(project_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A DR stack reads every tenant's home region (the deploy gates) before the program runs."""
    path = project_copy / "tenants" / "prod" / "redwood-auto.yaml"
    path.write_bytes(path.read_text(encoding="utf-8").encode("utf-16"))
    expect_stopped(
        project_copy,
        "prod-us-west-2",
        "tenants/prod/redwood-auto.yaml: (file): not UTF-8 text (byte 0xff at offset 0); save it as UTF-8",
        capsys,
    )


def test_stack_file_not_utf8(project_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = project_copy / "Pulumi.dev.yaml"
    path.write_bytes(b"# r\xe9gion de d\xe9veloppement\n" + path.read_bytes())
    expect_stopped(
        project_copy, "dev", "Pulumi.dev.yaml: (file): not UTF-8 text (byte 0xe9 at offset 3); save it as UTF-8", capsys
    )


def test_policy_config_not_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "prod.json"
    config.write_bytes('{"all": "mandatory"}'.encode("utf-16"))
    status = cli.main(["plan", "--stack", "dev", "--policy-config", str(config), "--out", str(tmp_path / "out")])
    assert status == 2
    assert capsys.readouterr().err == (
        f"error: {config}: (file): not UTF-8 text (byte 0xff at offset 0); save it as UTF-8\n"
    )
    assert not (tmp_path / "out").exists()


# ---- keys written twice


def test_tenant_key_written_twice(project_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = project_copy / TENANT
    path.write_text(path.read_text(encoding="utf-8") + "tier: premium\n", encoding="utf-8")
    expect_stopped(project_copy, "dev", f"{TENANT}: tier: key written twice (lines 3 and 11); keep one", capsys)


def test_nested_tenant_key_written_twice(tmp_path: Path) -> None:
    folder = tmp_path / "tenants" / "dev"
    folder.mkdir(parents=True)
    text = (ROOT / TENANT).read_text(encoding="utf-8")
    (folder / "demo-basic.yaml").write_text(text + "    email: other@insure.example.com\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_catalog(folder, display_root=tmp_path)
    assert str(caught.value) == f"{TENANT}: email: key written twice (lines 10 and 11); keep one"


def test_stack_key_written_twice(project_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = project_copy / "Pulumi.dev.yaml"
    text = path.read_text(encoding="utf-8")
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "minSize:" in t)
    path.write_text(text.replace("minSize:", "minSize: 1\n      minSize:", 1), encoding="utf-8")
    expect_stopped(
        project_copy,
        "dev",
        f"Pulumi.dev.yaml: minSize: key written twice (lines {line} and {line + 1}); keep one",
        capsys,
    )


def test_program_config_object_key_written_twice(tmp_path: Path) -> None:
    """Under `pulumi up` the program reads objects as JSON strings (config_value), not the file."""
    config = read_stack_config(ROOT, "dev")
    values = {**config.values, "insurance-platform:database": '{"engineVersion": "11.8", "engineVersion": "10.6"}'}
    with pytest.raises(ConfigError) as caught:
        load_settings(values.get, "insurance-platform", "dev", ROOT)
    assert str(caught.value) == "Pulumi.dev.yaml: engineVersion: key written twice in one object; keep one"


def test_policy_config_key_written_twice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "dev.json").write_text('{"all": "advisory", "tenant-data-residency": {}, "all": "mandatory"}')
    monkeypatch.setattr(policy, "CONFIG_DIR", tmp_path)
    with pytest.raises(ConfigError) as caught:
        policy.environment_config("dev")
    assert str(caught.value) == "policies/config/dev.json: all: key written twice in one object; keep one"


def test_policy_config_error_stops_the_plan_before_the_program(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "dev.json").write_text('{"all": "advisory", "all": "mandatory"}')
    monkeypatch.setattr(policy, "CONFIG_DIR", tmp_path)
    ran: list[str] = []
    monkeypatch.setattr(cli, "build_plan", lambda *args: ran.append("program") or {})
    assert cli.main(["plan", "--stack", "dev", "--out", str(tmp_path / "out")]) == 2
    assert (
        capsys.readouterr().err == "error: policies/config/dev.json: all: key written twice in one object; keep one\n"
    )
    assert ran == []


# ---- size limits


def test_tenant_file_over_the_limit(project_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = project_copy / TENANT
    path.write_text(path.read_text(encoding="utf-8") + "#" * MAX_TENANT_BYTES + "\n", encoding="utf-8")
    size = path.stat().st_size
    expect_stopped(
        project_copy, "dev", f"{TENANT}: (file): {size} bytes is over the 64 KiB limit for this file", capsys
    )


def test_stack_file_over_the_limit(project_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = project_copy / "Pulumi.dev.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "#" * MAX_STACK_BYTES + "\n", encoding="utf-8")
    size = path.stat().st_size
    expect_stopped(
        project_copy, "dev", f"Pulumi.dev.yaml: (file): {size} bytes is over the 256 KiB limit for this file", capsys
    )


def test_policy_config_over_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_text('{"all": "mandatory"}' + " " * 1024 * 1024)
    with pytest.raises(ConfigError, match=r"^.*big\.json: \(file\): \d+ bytes is over the 1024 KiB limit"):
        read_json(path, str(path))


# ---- stacks and regions


def test_stack_region_contradicts_its_name(project_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = project_copy / "Pulumi.prod-us-east-1.yaml"
    path.write_text(path.read_text().replace("aws:region: us-east-1", "aws:region: us-west-2"))
    expect_stopped(
        project_copy,
        "prod-us-east-1",
        "Pulumi.prod-us-east-1.yaml: aws:region: 'us-west-2' contradicts the stack name prod-us-east-1, which is for us-east-1",
        capsys,
    )


@pytest.mark.parametrize("stack", ["prod-us-east-1", "prod-us-west-2"])  # the edge owner, and a stack that is not
def test_served_region_without_a_stack_names_the_tenant_file(
    project_copy: Path, capsys: pytest.CaptureFixture[str], stack: str
) -> None:
    path = project_copy / "tenants" / "prod" / "redwood-auto.yaml"
    text = path.read_text()
    text = text.replace("regions: [us-west-2]", "regions: [us-west-2, us-east-2]")
    path.write_text(text.replace("residency: [us-west-2, us-east-1]", "residency: [us-west-2, us-east-1, us-east-2]"))
    expect_stopped(
        project_copy,
        stack,
        "tenants/prod/redwood-auto.yaml: regions: served region 'us-east-2' has no prod platform stack (stacks: "
        "prod-ca-central-1 (ca-central-1), prod-ca-west-1 (ca-west-1), prod-us-east-1 (us-east-1), "
        "prod-us-west-2 (us-west-2))",
        capsys,
    )


# ---- make diff


def test_diff_of_a_ref_that_does_not_exist(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = cli.main(["diff", "--base", "no-such-ref", "--stack", "dev"])
    assert status == 2
    assert capsys.readouterr().err == (
        "error: make diff: BASE: 'no-such-ref' is not a commit of this repository (git rev-parse)\n"
    )


def test_cli_error_is_one_line_in_a_real_process(project_copy: Path) -> None:
    path = project_copy / TENANT
    path.write_bytes(path.read_text(encoding="utf-8").encode("utf-16"))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "planner",
            "plan",
            "--stack",
            "dev",
            "--root",
            str(project_copy),
            "--out",
            str(project_copy / "out"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr == f"error: {TENANT}: (file): not UTF-8 text (byte 0xff at offset 0); save it as UTF-8\n"
    assert not (project_copy / "out").exists()


# ---- fuzz

VALID = yaml.safe_load((ROOT / TENANT).read_text(encoding="utf-8"))
ODD_VALUES: list[Any] = [
    None, True, 0, -1, 10**400, 1.5e308, float("nan"), "", " ", "x" * 300, "é", "\u202e", [], {}, [[["deep"]]],
    {"a": {"b": {"c": []}}}, ["us-east-1", ["us-west-2"]], [{"name": 1}], "us-east-1", "2026-01-01",
]  # fmt: skip
DOCUMENTS = [
    "", "---\n", "---\n...\n", "~", "[]", "42", "'text'", "id: a\n---\nid: b\n", "&a [*a]", "a: &x {b: *x}",
    "!!python/object:os.system {}", "!!python/name:os.system", "!!binary aGVsbG8=", "!!set {a, b}",
    "!!omap [a: 1, b: 2]", "!!timestamp 2026-01-01", "? [a]\n: b", "? {a: 1}\n: b", "{a: 1, a: 2}", "a: *undefined",
    "%YAML 1.1\n---\na: 1", "%TAG ! tag:x,2000:\n---\n!t a", "<<: {id: x}\nid: y", "key: 'unterminated",
    "\t- tab", "a:\n- b\n c", "[" * 5000, "{" * 5000, "a: " + "[" * 100 + "]" * 100,
    "billion: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b]",
]  # fmt: skip


def _mutated(rng: random.Random) -> str:
    doc = json.loads(json.dumps(VALID))
    for _ in range(rng.randint(1, 3)):
        target: Any = doc
        key: Any = rng.choice(list(target))
        while isinstance(target[key], (dict, list)) and target[key] and rng.random() < 0.5:
            target = target[key]
            key = rng.randrange(len(target)) if isinstance(target, list) else rng.choice(list(target))
        if rng.random() < 0.2 and isinstance(target, dict):
            del target[key]
        else:
            target[key] = rng.choice(ODD_VALUES)
    if rng.random() < 0.2:
        doc[rng.choice([1, None, "overrides", "domainVerified", "extra"])] = rng.choice(ODD_VALUES)
    text = yaml.safe_dump(doc, allow_unicode=True)
    if rng.random() < 0.2:  # a line written twice
        lines = text.splitlines(keepends=True)
        text = "".join(lines) + rng.choice(lines)
    return text


def _random_bytes(rng: random.Random) -> bytes:
    valid = (ROOT / TENANT).read_bytes()
    choice = rng.random()
    if choice < 0.4:
        return rng.randbytes(rng.randint(0, 512))
    if choice < 0.8:  # a valid file with a few bytes flipped
        data = bytearray(valid)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        return bytes(data)
    return valid[: rng.randrange(len(valid))] + rng.randbytes(rng.randint(1, 8))


def _only_config_errors(folder: Path, root: Path, data: bytes) -> None:
    folder.mkdir(parents=True)
    (folder / "demo-basic.yaml").write_bytes(data)
    try:
        load_catalog(folder, display_root=root)
    except ConfigError as error:
        message = str(error)
        assert message.startswith(f"{TENANT}: ") and "\n" not in message, (data, message)


def test_fuzz_the_catalog_loader(tmp_path: Path) -> None:
    rng = random.Random(15)
    cases = [d.encode() for d in DOCUMENTS]
    cases += [_mutated(rng).encode() for _ in range(300)]
    cases += [_random_bytes(rng) for _ in range(200)]
    for index, data in enumerate(cases):
        root = tmp_path / str(index)
        _only_config_errors(root / "tenants" / "dev", root, data)


def test_fuzz_the_stack_and_policy_config_readers(tmp_path: Path) -> None:
    rng = random.Random(15)
    stack_text = (ROOT / "Pulumi.dev.yaml").read_bytes()
    policy_text = (ROOT / "policies" / "config" / "dev.json").read_bytes()
    (tmp_path / "Pulumi.yaml").write_bytes((ROOT / "Pulumi.yaml").read_bytes())
    for index in range(200):
        data = bytearray(stack_text)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        (tmp_path / "Pulumi.dev.yaml").write_bytes(data if index % 4 else rng.randbytes(300))
        try:
            read_stack_config(tmp_path, "dev")
        except ConfigError as error:
            assert str(error).startswith("Pulumi.dev.yaml: ") and "\n" not in str(error)
        data = bytearray(policy_text)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        (tmp_path / "dev.json").write_bytes(data)
        try:
            read_json(tmp_path / "dev.json", "dev.json")
        except ConfigError as error:
            assert str(error).startswith("dev.json: ") and "\n" not in str(error)

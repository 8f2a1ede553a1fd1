"""Configuration files: precedence, sources, caching and one-sentence errors."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

from jupyter_sky import config
from jupyter_sky.config import Config, Defaults, ensure_sky_home, load_config, sky_home
from jupyter_sky.errors import ConfigError
from jupyter_sky.infra.local import LocalConfig
from jupyter_sky.infra.slurm.config import SlurmConfig


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("JUPYTER_SKY_HOME", str(home))
    return home


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_home_from_env_and_not_created_on_read(home: Path, tmp_path: Path) -> None:
    assert sky_home() == home
    assert load_config(tmp_path) == Config()
    assert not home.exists()
    assert ensure_sky_home() == home
    assert stat.S_IMODE(home.stat().st_mode) == 0o700


def test_home_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("JUPYTER_SKY_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert sky_home() == tmp_path / ".jupyter_sky"


def test_defaults_without_files(home: Path) -> None:
    cfg = load_config(None)
    assert cfg.sources == []
    assert cfg.defaults == Defaults(
        infra=None, idle_minutes=60.0, autostop_minutes=None, confirm=False
    )
    assert cfg.of(LocalConfig) == LocalConfig(python=sys.executable)


def test_notebook_file_wins_per_key(home: Path, tmp_path: Path) -> None:
    user = _write(
        home / "config.yaml",
        "defaults:\n  infra: Kubernetes/lab\n  idle_minutes: 30\n  autostop_minutes: 10\n"
        "local:\n  python: /opt/py/bin/python\n",
    )
    nb_dir = tmp_path / "nb"
    project = _write(
        nb_dir / "jupyter_sky.yaml",
        "defaults:\n  idle_minutes: 90\n  autostop_minutes: null\n  confirm: true\n",
    )
    cfg = load_config(nb_dir)
    assert cfg.sources == [user, project]
    assert cfg.defaults == Defaults(
        infra="k8s/lab", idle_minutes=90.0, autostop_minutes=None, confirm=True
    )
    assert cfg.of(LocalConfig).python == "/opt/py/bin/python"
    assert load_config(tmp_path / "elsewhere").sources == [user]
    assert load_config(tmp_path / "elsewhere").defaults.autostop_minutes == 10.0


def test_slurm_section_names_clusters_and_default_time(home: Path, tmp_path: Path) -> None:
    _write(home / "config.yaml", f"trust:\n  projects: [{tmp_path}]\n")
    _write(
        tmp_path / "jupyter_sky.yaml",
        "slurm:\n  cluster: lab\n  time: 2h\n"
        "  clusters:\n    lab: {login: lab-login, partition: gpu, time: '0-00:30:00'}\n",
    )
    slurm = load_config(tmp_path).of(SlurmConfig)
    assert (slurm.cluster, slurm.time) == ("lab", 120.0)
    assert slurm.cluster_entry("lab") == {"login": "lab-login", "partition": "gpu", "time": 30.0}
    assert slurm.cluster_entry("other") == {}


def test_only_notebook_file(home: Path, tmp_path: Path) -> None:
    project = _write(tmp_path / "jupyter_sky.yaml", "defaults:\n  confirm: true\n")
    cfg = load_config(tmp_path)
    assert (cfg.sources, cfg.defaults) == ([project], Defaults(confirm=True))


@pytest.mark.parametrize(
    ("text", "setting"),
    [
        ("local:\n  python: /tmp/evil\n", "local.python"),
        ("ssh:\n  hosts: {gpu1: {hostname: 10.9.9.9}}\n", "ssh.hosts"),
        ("slurm:\n  cluster: theirs\n", "slurm.cluster"),
        ("defaults:\n  idle_minutes: 5\n  infra: ssh/theirs\n", "defaults.infra"),
        ("trust:\n  projects: [/]\n", "trust.projects"),
    ],
)
def test_untrusted_project_file_cannot_choose_what_runs(
    home: Path, tmp_path: Path, text: str, setting: str
) -> None:
    """A cloned repository's jupyter_sky.yaml may not pick interpreters, hosts or infras."""
    project = _write(tmp_path / "repo" / "jupyter_sky.yaml", text)
    with pytest.raises(ConfigError) as err:
        load_config(project.parent)
    assert str(err.value) == (
        f"{project} sets {setting}, which chooses what runs or where; a project file may do "
        f"that only if your own config {home / 'config.yaml'} trusts its directory "
        f"(trust: {{projects: [{project.parent}]}})."
    )


def test_trusted_project_file_may_choose_what_runs(home: Path, tmp_path: Path) -> None:
    """A directory the user's own config trusts (or one inside it) may set local.python."""
    _write(home / "config.yaml", f"trust:\n  projects: [{tmp_path}]\n")
    _write(tmp_path / "repo" / "jupyter_sky.yaml", "local:\n  python: python3.11\n")
    assert load_config(tmp_path / "repo").of(LocalConfig).python == "python3.11"


def test_non_utf8_and_looping_config_files(home: Path, tmp_path: Path) -> None:
    """Bytes that are not UTF-8, and a symlink loop, are one sentence each."""
    path = home / "config.yaml"
    home.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"defaults:\n  idle_minutes: 5\n# \xff\xfe\n")
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path)
    assert str(err.value) == f"Config file {path} is not UTF-8 text (byte 31 is not); save it as UTF-8."
    path.unlink()
    path.symlink_to(home / "loop")
    (home / "loop").symlink_to(path)
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path)
    assert str(err.value) == (
        f"Config file {path} cannot be read (Too many levels of symbolic links); "
        "check the path and its permissions."
    )


def test_cached_until_the_file_changes(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path / "jupyter_sky.yaml", "defaults:\n  idle_minutes: 5\n")
    reads: list[Path] = []
    real = config.read_yaml

    def counting(*args: Any) -> Any:
        reads.append(args[0])
        return real(*args)

    monkeypatch.setattr(config, "read_yaml", counting)
    assert load_config(tmp_path).defaults.idle_minutes == 5.0
    assert load_config(tmp_path).defaults.idle_minutes == 5.0
    assert reads == [path]
    path.write_text("defaults:\n  idle_minutes: 7\n")
    os.utime(path, ns=(1, 1_000_000_000))  # a new mtime even on coarse-grained filesystems
    assert load_config(tmp_path).defaults.idle_minutes == 7.0
    assert reads == [path, path]


BAD = [
    ("budgets:\n  aws: 1\n", "Unknown section 'budgets' in {f}; valid sections are aws, azure, budget, defaults, gcp, k8s, kubernetes, local, optimizer, prices, slurm, ssh, trust."),
    ("budget:\n  per_day: -3\n", "budget.per_day in {f} must be a positive number of dollars such as 50, not -3."),
    ("budget:\n  weekly: 3\n", "Unknown key 'budget.weekly' in {f}; valid keys in budget are per_cluster, per_day, total."),
    ("prices:\n  aws: 1\n", "Unknown key 'prices.aws' in {f}; valid keys in prices are k8s, local, slurm, ssh."),
    ("prices:\n  local: {cpu: -1}\n", "prices.local in {f} must be a mapping such as {{cpu: 0.02, memory: 0.003, accelerators: {{A100: 1.5}}}}, not {{'cpu': -1}}."),
    ("defaults:\n  idel_minutes: 5\n", "Unknown key 'defaults.idel_minutes' in {f}; valid keys in defaults are autostop_minutes, autostop_minutes_priced, confirm, idle_minutes, infra, max_launch_attempts."),
    ("local:\n  interpreter: x\n", "Unknown key 'local.interpreter' in {f}; valid keys in local are python."),
    ("defaults:\n  idle_minutes: -5\n", "defaults.idle_minutes in {f} must be a positive number of minutes such as 60, not -5."),
    ("defaults:\n  idle_minutes: soon\n", "defaults.idle_minutes in {f} must be a positive number of minutes such as 60, not 'soon'."),
    ("defaults:\n  idle_minutes: true\n", "defaults.idle_minutes in {f} must be a positive number of minutes such as 60, not True."),
    ("defaults:\n  idle_minutes: null\n", "defaults.idle_minutes in {f} must be a positive number of minutes such as 60, not None."),
    ("defaults:\n  autostop_minutes: 0\n", "defaults.autostop_minutes in {f} must be a positive number of minutes such as 60, not 0."),
    ("defaults:\n  confirm: yes please\n", "defaults.confirm in {f} must be true or false, not 'yes please'."),
    ("defaults:\n  infra: mars\n", "defaults.infra in {f} names unknown infra 'mars'; valid kinds are aws, azure, gcp, k8s, local, slurm, ssh and the catalog's clouds (%sky gpus lists them)."),
    ("defaults:\n  infra: ssh\n", "defaults.infra in {f} must be ssh/<host>, not 'ssh'."),
    ("local:\n  python: ''\n", "local.python in {f} must be a non-empty string or null, not ''."),
    ("slurm:\n  time: soon\n", "slurm.time in {f} must be a time limit such as 90 (minutes), 2h or 1-00:00:00, not 'soon'."),
    ("slurm:\n  clusters: {lab: {host: x}}\n", "slurm.clusters in {f} (cluster 'lab') must be a mapping of login, partition, account, qos, time, not {{'host': 'x'}}."),
    ("defaults: 3\n", "defaults in {f} must be a mapping of key: value lines, not 3."),
    ("- defaults\n", "Config file {f} must be a mapping of sections such as defaults:, not ['defaults']."),
    ("defaults:\n  infra: aws\n  idle_minutes: [1\n", "Config file {f} is not valid YAML at line 4 (expected ',' or ']', but got '<stream end>'); fix the syntax there."),
]  # fmt: skip


@pytest.mark.parametrize(("text", "message"), BAD)
@pytest.mark.parametrize("where", ["user", "notebook"])
def test_bad_config_message(
    home: Path, tmp_path: Path, where: str, text: str, message: str
) -> None:
    path = home / "config.yaml" if where == "user" else tmp_path / "jupyter_sky.yaml"
    _write(path, text)
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path)
    assert str(err.value) == message.format(f=path)


def test_unreadable_file(home: Path, tmp_path: Path) -> None:
    (tmp_path / "jupyter_sky.yaml").mkdir()
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path)
    assert str(err.value) == (
        f"Config file {tmp_path / 'jupyter_sky.yaml'} cannot be read (Is a directory); "
        "check the path and its permissions."
    )

"""Random YAML documents and bytes thrown at the loaders: InputError or success, never a traceback."""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from enforcer import api
from enforcer.errors import InputError
from enforcer.inventory import load_inventory
from enforcer.playbook import load_playbook, parse_extra_vars, validate_names
from enforcer.resources import RESOURCES

# Keys the loaders know, so random documents reach deep into validation rather than stopping at the top.
KEYS = ["all", "hosts", "vars", "children", "cluster_name", "cluster_node_order", "ansible_host", "ansible_port",
        "ansible_user", "ansible_password", "ansible_winrm_transport", "ansible_winrm_scheme", "name", "tasks",
        "handlers", "when", "loop", "tags", "notify", "register", "vars_files", "gather_facts", "path", "state",
        "values", "events", *RESOURCES]
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-5, 70000), st.sampled_from(
    ["", "all", "absent", "running", "{{ x }}", "{{ facts.dtc }}", "{% if %}", "HKLM\\X", "a=b", "{{", "ntlm",
     "basic", "http", "5985", "CLU", "n1", "n2"]), st.text(max_size=12))
DOCUMENTS = st.recursive(SCALARS, lambda children: st.one_of(
    st.lists(children, max_size=4), st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), children,
                                                    max_size=5)), max_leaves=30)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _write(content: bytes) -> Path:
    handle = tempfile.NamedTemporaryFile("wb", suffix=".yml", delete=False)
    handle.write(content)
    handle.close()
    return Path(handle.name)


def _only_input_errors(loader, path: Path) -> None:
    try:
        loader(path)
    except InputError as exc:
        assert ":" in str(exc) and exc.detail
    finally:
        path.unlink()


@SETTINGS
@given(DOCUMENTS)
def test_random_playbooks(document):
    def load(path):
        validate_names(load_playbook(path), set())
    _only_input_errors(load, _write(yaml.safe_dump(document).encode()))


@SETTINGS
@given(DOCUMENTS)
def test_random_inventories(document):
    _only_input_errors(load_inventory, _write(yaml.safe_dump(document).encode()))


@SETTINGS
@given(DOCUMENTS)
def test_random_vars_files(document):
    _only_input_errors(lambda path: parse_extra_vars([f"@{path}"]), _write(yaml.safe_dump(document).encode()))


@SETTINGS
@given(st.binary(max_size=300))
def test_random_bytes(content):
    for loader in (load_playbook, load_inventory):
        _only_input_errors(loader, _write(content))


@SETTINGS
@given(st.lists(st.text(max_size=20), max_size=3))
def test_random_extra_vars_arguments(values):
    try:
        parse_extra_vars([v for v in values if not v.startswith("@")])
    except InputError:
        pass


def test_options_are_checked_before_loading():
    try:
        api.load(api.Options("x.yml", "y.yml", forks=0))
    except InputError as exc:
        assert "--forks" in str(exc)

"""Inventories only ansible-core reads as Ansible does: INI files, inventory directories (several sources
merged), `group_vars/` and `host_vars/` beside them, `!vault` values and vault-encrypted vars files.

ansible-core itself parses them (the `ansible` extra), and the result is handed to enforcer's own reader
in the shape of a YAML inventory, so every check that reader makes (clusters, node order, transports,
names) holds for both. A plain YAML inventory with nothing beside it keeps the own reader, which is
faster and can name file:line; tests/test_ansible_inventories.py holds both to `ansible-inventory --list`.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from .errors import InputError

YAML_SUFFIXES = (".yml", ".yaml", ".json")
ANSIBLE_MAGIC = ("inventory_file", "inventory_dir")  # ansible-core's bookkeeping, not the user's vars


def needed(path: Path) -> bool:
    """Whether Ansible's own reading is needed: anything but a lone YAML inventory without vault values."""
    if path.is_dir() or path.suffix.lower() not in YAML_SUFFIXES:
        return True
    if any((path.parent / folder).is_dir() for folder in ("group_vars", "host_vars")):
        return True
    try:
        head = path.read_bytes()[:4_000_000]
    except OSError:
        return False  # the own reader says why
    return b"!vault" in head or head.startswith(b"$ANSIBLE_VAULT")


def read(path: Path, vault_secrets: list[tuple[str, str]] | None = None) -> tuple[dict[str, Any], list[str]]:
    """The inventory as a YAML inventory would hold it ({all: {vars, hosts, children: {...}}}), and the values
    vault decrypted (secrets: redacted wherever they appear)."""
    try:
        from ansible.errors import AnsibleError
        from ansible.inventory.manager import InventoryManager
        from ansible.parsing.dataloader import DataLoader
        from ansible.parsing.vault import VaultSecret
        from ansible.utils.vars import combine_vars
        from ansible.vars.plugins import get_vars_from_inventory_sources
    except ImportError:
        raise InputError(f"{path} is an INI inventory, a directory, has group_vars/host_vars or vault values: "
                         f"reading it as Ansible does needs ansible-core (pip install 'enforcer[ansible]')") from None
    if not path.exists():
        raise InputError(f"inventory {path} does not exist")
    _plugin_loader()
    loader = DataLoader()
    keys = [(label, VaultSecret(password.encode())) for label, password in vault_secrets or []]
    loader.set_vault_secrets(keys)
    _use_vault_secrets(keys)
    try:
        manager = InventoryManager(loader=loader, sources=[str(path)])
        if not manager.list_hosts("all") and not manager.groups.keys() - {"all", "ungrouped"}:
            raise InputError(f"ansible-core read no host and no group from {path}", f"{path}:1")

        secrets: list[str] = []

        def own_vars(entity: Any) -> dict[str, Any]:
            plugin_vars = get_vars_from_inventory_sources(loader, manager._sources, [entity], "all")
            merged = combine_vars(dict(entity.vars), plugin_vars)
            return _plain({k: v for k, v in merged.items() if k not in ANSIBLE_MAGIC}, secrets)

        groups = {name: group for name, group in manager.groups.items()}
        host_vars = {host.name: own_vars(host) for host in manager.get_hosts()}
        group_vars = {name: {**own_vars(group), **({"ansible_group_priority": group.priority}
                                                    if group.priority != 1 else {})}
                      for name, group in groups.items()}
    except ReferenceError:  # ansible-core 2.19+: a vault value, and no vault secrets at all
        raise InputError(f"{path} holds a vault value and no vault password was given: use "
                         f"--vault-password-file, --vault-id or --ask-vault-pass", f"{path}:1") from None
    except AnsibleError as exc:
        hint = (" (a vault value: give its password with --vault-password-file, --vault-id or --ask-vault-pass)"
                if "vault" in str(exc).lower() else "")
        raise InputError(f"ansible-core could not read the inventory: {_first_line(exc)}{hint}", f"{path}:1") \
            from None
    placed: set[str] = set()

    def body(name: str) -> dict[str, Any]:
        group = groups[name]
        hosts: dict[str, Any] = {}
        for host in group.hosts:
            hosts[host.name] = None if host.name in placed else (host_vars[host.name] or None)
            placed.add(host.name)
        children = {child.name: body(child.name) for child in group.child_groups if child.name != "ungrouped"}
        result: dict[str, Any] = {}
        for key, value in (("vars", group_vars[name]), ("hosts", hosts), ("children", children)):
            if value:
                result[key] = value
        return result

    everything = body("all")
    if "ungrouped" in groups:
        ungrouped = body("ungrouped")
        everything.setdefault("hosts", {}).update(ungrouped.get("hosts", {}))
    return {"all": everything}, secrets


def _use_vault_secrets(keys: list[tuple[str, Any]]) -> None:
    """ansible-core 2.19+ decrypts `!vault` values lazily, with process-wide secrets (set once, then replaced:
    one process may read several inventories); earlier versions use the DataLoader's alone."""
    try:
        from ansible.parsing.vault import VaultSecretsContext
    except ImportError:
        return
    context = VaultSecretsContext.current(optional=True)
    if context is None:
        if keys:
            VaultSecretsContext.initialize(VaultSecretsContext(keys))
    else:
        context.secrets = keys


@functools.cache
def _plugin_loader() -> None:
    """ansible-core's plugin loader, set up once per process: the vars plugins (group_vars, host_vars) are found
    through it, and a second set-up only warns."""
    from ansible.plugins.loader import init_plugin_loader

    init_plugin_loader()


def _plain(value: Any, secrets: list[str]) -> Any:
    """Plain Python values: ansible-core's tagged strings become str, and vault values are decrypted here and
    noted in `secrets`."""
    if isinstance(value, dict):
        return {str(k): _plain(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, secrets) for v in value]
    if isinstance(value, (bool, int, float)) or value is None:
        return value
    text = str(value)
    if "vault" in type(value).__name__.lower() or "encrypted" in type(value).__name__.lower():
        secrets.append(text)
    return text


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__

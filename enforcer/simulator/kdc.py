"""A private MIT Kerberos KDC on loopback, for `--auth kerberos`: a realm, the user, `HTTP/<node>` service
principals and their keytab, as a domain controller holds them for a real cluster's nodes.

It runs Debian's krb5-kdc (`krb5kdc`, `kdb5_util`, `kadmin.local`) in a directory of its own, on a free port,
over TCP only, and stops with the simulation. Clients and the listeners find it through the krb5.conf it
writes (KRB5_CONFIG); the listeners read their keys from the keytab (KRB5_KTNAME).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

TOOLS = ("krb5kdc", "kdb5_util", "kadmin.local")
SEARCH_PATH = os.pathsep.join(filter(None, [os.environ.get("PATH"), "/usr/sbin", "/sbin"]))


class KdcError(RuntimeError):
    """The KDC cannot be set up or started; the message says what to install or what failed."""


def missing_tools() -> list[str]:
    return [tool for tool in TOOLS if shutil.which(tool, path=SEARCH_PATH) is None]


class Kdc:
    def __init__(self, workdir: Path, realm: str, user: str, password: str, hosts: list[str]) -> None:
        self.dir = workdir
        self.realm = realm
        self.user, self.password = user, password
        self.hosts = hosts
        self.krb5_conf = workdir / "krb5.conf"
        self.keytab = workdir / "http.keytab"
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def principal(self) -> str:
        return f"{self.user}@{self.realm}"

    def start(self) -> None:
        missing = missing_tools()
        if missing:
            raise KdcError(f"--auth kerberos needs MIT Kerberos' KDC ({', '.join(missing)} not found): install "
                           f"Debian's krb5-kdc and krb5-admin-server")
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        self._write_configuration()
        env = self._env()
        self._run(["kdb5_util", "create", "-s", "-r", self.realm, "-P", "enforcer-sim-master"], env)
        # As Active Directory: pre-authentication required, so a wrong password fails at the KDC (PREAUTH_FAILED),
        # where it counts towards a lockout. On stdin: no password on a command line.
        queries = [f"addprinc +requires_preauth -pw {self.password} {self.principal}"]
        for host in self.hosts:
            service = f"HTTP/{host}@{self.realm}"
            queries += [f"addprinc -randkey {service}", f"ktadd -k {self.keytab} {service}"]
        self._run(["kadmin.local", "-r", self.realm], env, stdin="\n".join(queries) + "\n")
        self._process = subprocess.Popen([_tool("krb5kdc"), "-n", "-r", self.realm], env=env,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise KdcError(f"krb5kdc stopped at once: {self._process.stderr.read().decode(errors='replace')}"
                               if self._process.stderr else "krb5kdc stopped at once")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return
            time.sleep(0.02)
        raise KdcError(f"krb5kdc did not listen on 127.0.0.1:{self.port} within 10 s")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=5)
        self._process = None

    def _write_configuration(self) -> None:
        domain = self.realm.lower()
        self.krb5_conf.write_text(
            "[libdefaults]\n"
            f"  default_realm = {self.realm}\n  dns_lookup_kdc = false\n  dns_lookup_realm = false\n"
            "  rdns = false\n  dns_canonicalize_hostname = false\n  udp_preference_limit = 1\n"
            "  forwardable = true\n\n"
            f"[realms]\n  {self.realm} = {{\n    kdc = 127.0.0.1:{self.port}\n  }}\n\n"
            f"[domain_realm]\n  .{domain} = {self.realm}\n  {domain} = {self.realm}\n", encoding="utf-8")
        (self.dir / "kdc.conf").write_text(
            f"[kdcdefaults]\n  kdc_ports = {self.port}\n  kdc_tcp_ports = {self.port}\n\n"
            f"[realms]\n  {self.realm} = {{\n    database_name = {self.dir / 'principal'}\n"
            f"    key_stash_file = {self.dir / 'stash'}\n    acl_file = {self.dir / 'kadm5.acl'}\n"
            "    supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal\n"
            "    max_life = 10h 0m 0s\n  }\n\n"
            f"[logging]\n  kdc = FILE:{self.dir / 'kdc.log'}\n", encoding="utf-8")
        (self.dir / "kadm5.acl").write_text("", encoding="utf-8")

    def _env(self) -> dict[str, str]:
        return {**os.environ, "KRB5_CONFIG": str(self.krb5_conf), "KRB5_KDC_PROFILE": str(self.dir / "kdc.conf"),
                "PATH": SEARCH_PATH}

    def _run(self, argv: list[str], env: dict[str, str], stdin: str | None = None) -> None:
        done = subprocess.run([_tool(argv[0]), *argv[1:]], env=env, input=stdin, capture_output=True, text=True,
                              check=False)
        if done.returncode != 0:
            raise KdcError(f"{argv[0]} failed ({done.returncode}): {(done.stderr or done.stdout).strip()[-300:]}")

    @contextlib.contextmanager
    def acceptor_environment(self) -> Iterator[None]:
        """The krb5.conf and keytab in the environment while a listener steps a context: GSS-API reads both
        from there, process-wide, so one lock keeps simulators side by side in one process apart."""
        with _ENV_LOCK:
            saved = {name: os.environ.get(name) for name in ("KRB5_CONFIG", "KRB5_KTNAME")}
            os.environ.update(KRB5_CONFIG=str(self.krb5_conf), KRB5_KTNAME=str(self.keytab))
            try:
                yield
            finally:
                for name, value in saved.items():
                    if value is None:
                        os.environ.pop(name, None)
                    else:
                        os.environ[name] = value


_ENV_LOCK = threading.Lock()


def _tool(name: str) -> str:
    return shutil.which(name, path=SEARCH_PATH) or name


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])

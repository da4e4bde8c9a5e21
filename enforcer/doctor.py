"""`enforcer doctor`: can enforcer work with each node, and if not, why and what to do. Read-only.

Each node is checked in the order a connection is built, and a check is run only when the ones it stands on
passed: reach (TCP), TLS (HTTPS only), the schemes the listener offers, the login (one node per account
first: a rejected password is not tried everywhere, see facts.first_contacts), message encryption, and then
one agent call for what the session may do: an administrator's token (UAC filters a local account's over the
network), Windows PowerShell 5.1, the FailoverClusters module, the node's place in its cluster, WinRM's
quotas, and the node's clock.
"""

from __future__ import annotations

import datetime as dt
import http.client
import socket
import ssl
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import AuthenticationFailed, EnforcerError
from .facts import first_contacts
from .model import Cluster, ConnectionSpec, Node
from .transport.base import AgentOp
from .transport.pool import Connections

# What the listener must offer for each inventory transport (the WWW-Authenticate scheme names).
SCHEMES = {"ntlm": ("Negotiate", "NTLM"), "kerberos": ("Negotiate", "Kerberos"), "credssp": ("CredSSP",),
           "basic": ("Basic",), "certificate": ()}
KERBEROS_SKEW_S = 300  # Kerberos refuses a clock more than five minutes off
MIN_ENVELOPE_KB = 150  # pywinrm's envelope: 153600 bytes
FATAL = ("reach", "tls", "login")  # a failure here means the node cannot be reached at all: exit 3


@dataclass
class Verdict:
    check: str
    status: str  # ok, warn, fail, skip
    detail: str
    hint: str = ""


@dataclass
class NodeReport:
    node: str
    cluster: str
    endpoint: str
    verdicts: list[Verdict] = field(default_factory=list)

    def add(self, check: str, status: str, detail: str, hint: str = "") -> bool:
        self.verdicts.append(Verdict(check, status, detail, hint))
        return status != "fail"

    @property
    def unreachable(self) -> bool:
        return any(v.status == "fail" and v.check in FATAL for v in self.verdicts)

    @property
    def failed(self) -> bool:
        return any(v.status == "fail" for v in self.verdicts)


def diagnose(clusters: list[Cluster], connections: Connections, forks: int) -> list[NodeReport]:
    """Every node's verdicts, in inventory order; nodes are examined in parallel, logins one node per account
    first."""
    nodes = [node for cluster in clusters for node in cluster.nodes]
    reports = {n.name: NodeReport(n.name, n.cluster, n.connection.endpoint) for n in nodes}
    with ThreadPoolExecutor(max_workers=max(1, min(forks, len(nodes)))) as pool:
        reachable = dict(zip([n.name for n in nodes],
                             pool.map(lambda n: _network(reports[n.name], n.connection), nodes), strict=True))
        refused = first_contacts([n.name for n in nodes if reachable[n.name]], connections, pool)
        cluster_of = {c.name: c for c in clusters}
        list(pool.map(lambda n: _session(reports[n.name], n, cluster_of[n.cluster], connections, refused),
                      [n for n in nodes if reachable[n.name]]))
    return [reports[n.name] for n in nodes]


# -- below the session ---------------------------------------------------------------
def _network(report: NodeReport, spec: ConnectionSpec) -> bool:
    """Reach, TLS and the offered schemes: what is true of the listener before anyone logs in."""
    timeout = min(10, spec.read_timeout_s)
    try:
        socket.create_connection((spec.host, spec.port), timeout=timeout).close()
    except OSError as exc:
        return report.add("reach", "fail", f"cannot connect to {spec.host}:{spec.port}: {_why(exc)}",
                          "is the node up and WinRM listening there? On the node: Test-WSMan, winrm quickconfig; "
                          "a firewall must let the port through")
    report.add("reach", "ok", f"{spec.host}:{spec.port} accepts connections")
    context = None
    if spec.scheme == "https":
        context = _tls_context(spec)
        try:
            with socket.create_connection((spec.host, spec.port), timeout=timeout) as raw, \
                    context.wrap_socket(raw, server_hostname=spec.host.strip("[]")) as tls:
                version = tls.version()
        except ssl.SSLCertVerificationError as exc:
            return report.add("tls", "fail", f"the certificate is not trusted: {exc.verify_message}",
                              "set ansible_winrm_ca_trust_path to the CA bundle that issued the listener's "
                              "certificate (server_cert_validation=ignore trusts anyone on the path)")
        except (OSError, ssl.SSLError) as exc:
            return report.add("tls", "fail", f"the TLS handshake failed: {_why(exc)}",
                              "check the HTTPS listener's certificate binding (winrm enumerate "
                              "winrm/config/listener)")
        report.add("tls", "ok", f"{version}, certificate trusted" if spec.cert_validation
                   else f"{version}; the certificate is NOT checked (server_cert_validation=ignore)")
    offered = _offered_schemes(spec, context, timeout)
    wanted = SCHEMES.get(spec.auth, ())
    if offered is None:
        report.add("schemes", "warn", "the listener did not say which schemes it offers")
    elif wanted and not {w.lower() for w in wanted} & {o.lower() for o in offered}:
        report.add("schemes", "fail", f"the listener offers {', '.join(offered) or 'nothing'}, not {spec.auth}",
                   f"enable it on the node (winrm set winrm/config/service/auth @{{{wanted[0]}=\"true\"}}) or "
                   f"set ansible_winrm_transport to one it offers")
    else:
        report.add("schemes", "ok", f"the listener offers {', '.join(offered)}; enforcer uses {spec.auth}")
    return True


def _tls_context(spec: ConnectionSpec) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=spec.ca_trust_path) if spec.cert_validation else \
        ssl._create_unverified_context()  # noqa: S323 - what server_cert_validation=ignore asks for
    if spec.cert_pem and spec.cert_key_pem:
        context.load_cert_chain(spec.cert_pem, spec.cert_key_pem)
    return context


def _offered_schemes(spec: ConnectionSpec, context: ssl.SSLContext | None, timeout: float) -> list[str] | None:
    """The schemes an anonymous POST's 401 lists, one WWW-Authenticate header each (Windows lists every one)."""
    host = spec.host.strip("[]")
    conn: http.client.HTTPConnection = http.client.HTTPSConnection(host, spec.port, timeout=timeout,
                                                                   context=context) \
        if spec.scheme == "https" else http.client.HTTPConnection(host, spec.port, timeout=timeout)
    try:
        conn.request("POST", "/wsman", body=b"", headers={"Content-Type": "application/soap+xml;charset=UTF-8"})
        response = conn.getresponse()
        response.read()
        headers = response.headers.get_all("WWW-Authenticate") or []
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()
    return [h.split()[0] for h in headers if h.strip()] if response.status == 401 else None


# -- the session -----------------------------------------------------------------------
def _session(report: NodeReport, node: Node, cluster: Cluster, connections: Connections,
             refused: dict[str, str]) -> None:
    spec = node.connection
    if node.name in refused:
        report.add("login", "fail", refused[node.name], "check the account's password and that it is not "
                   "locked out; nothing else was tried with it")
        return
    try:
        connections.get(node.name).open()
    except AuthenticationFailed as exc:
        report.add("login", "fail", exc.detail, "check the account's password and that it is not locked out")
        return
    except EnforcerError as exc:
        report.add("login", "fail", str(exc), "see the checks above; run with -vvv for the exchange")
        return
    report.add("login", "ok", f"{spec.user or 'certificate'} logged in with {spec.auth}")
    if spec.scheme == "https":
        report.add("encryption", "ok", "TLS")
    elif spec.auth == "basic":
        report.add("encryption", "warn", "Basic over HTTP: the password and every answer travel in clear",
                   "use HTTPS, or NTLM/Kerberos, which encrypt each message")
    else:
        report.add("encryption", "ok", f"every message encrypted ({spec.auth} over HTTP)")
    try:
        info, facts = connections.get(node.name).call(
            [AgentOp("node.info"), AgentOp("facts", {"services": ["ClusSvc"]})])
        _agent(report, node, cluster, info.unwrap(node.name), facts.unwrap(node.name))
    except EnforcerError as exc:
        report.add("agent", "fail", f"the agent did not answer: {exc}",
                   "Windows PowerShell 5.1 must run on the node (AMSI or WDAC may block it): run with -vvv")


def _agent(report: NodeReport, node: Node, cluster: Cluster, info: dict[str, Any], facts: dict[str, Any]) -> None:
    local = "\\" not in info["user"] or info["user"].split("\\")[0].upper() == facts["hostname"].upper()
    if info["administrator"]:
        report.add("admin", "ok", f"{info['user']} holds an Administrators token")
    else:
        report.add("admin", "fail", f"{info['user']} is not an administrator here"
                   + (" (a local account: UAC filters its token over the network)" if local else ""),
                   "use a domain account in the node's Administrators group" + (
                       ", or set LocalAccountTokenFilterPolicy=1 for local accounts (KB 951016)" if local else ""))
    major_minor = tuple(int(p) for p in info["powershell"].split(".")[:2] if p.isdigit())
    if major_minor >= (5, 1):
        report.add("powershell", "ok", f"Windows PowerShell {info['powershell']}")
    else:
        report.add("powershell", "fail", f"Windows PowerShell {info['powershell']}",
                   "install Windows Management Framework 5.1")
    if facts["cluster_module"]:
        report.add("cluster module", "ok", "FailoverClusters is installed")
    else:
        report.add("cluster module", "fail", "the FailoverClusters PowerShell module is not installed",
                   "Install-WindowsFeature RSAT-Clustering-PowerShell")
    _membership(report, node, cluster, facts)
    _quotas(report, info)
    skew = (dt.datetime.fromisoformat(facts["time"].replace("Z", "+00:00")) -
            dt.datetime.now(dt.timezone.utc)).total_seconds()
    report.add("clock", "ok" if abs(skew) <= KERBEROS_SKEW_S else "warn",
               f"{skew:+.0f} s from this machine's clock",
               "" if abs(skew) <= KERBEROS_SKEW_S else "Kerberos refuses more than 5 minutes: check w32time")


def _membership(report: NodeReport, node: Node, cluster: Cluster, facts: dict[str, Any]) -> None:
    seen = facts.get("cluster")
    if seen is None:
        report.add("cluster", "fail", f"the cluster cannot be read here: {facts.get('cluster_error')}",
                   "start the cluster service (or join the node) before enforcer acts on it")
        return
    names = [n["name"] for n in seen["nodes"]]
    if seen["name"].lower() != cluster.name.lower():
        report.add("cluster", "fail", f"the node belongs to cluster {seen['name']}, not {cluster.name}",
                   f"fix cluster_name of group {cluster.group} in the inventory")
        return
    via = "" if seen["local_node"].lower() == node.name.lower() else f" (the cluster calls it {seen['local_node']})"
    report.add("cluster", "ok", f"member {seen['local_node']} of {seen['name']}{via}; nodes: {', '.join(names)}")


def _quotas(report: NodeReport, info: dict[str, Any]) -> None:
    envelope, shells = info["max_envelope_kb"], info["max_shells_per_user"]
    if envelope is None or shells is None:
        report.add("quotas", "warn", "WinRM's quotas could not be read", "read them as an administrator")
    elif envelope < MIN_ENVELOPE_KB or shells < 2:
        report.add("quotas", "fail", f"MaxEnvelopeSizekb {envelope}, MaxShellsPerUser {shells}",
                   f"enforcer needs MaxEnvelopeSizekb >= {MIN_ENVELOPE_KB} and 2 shells: winrm set winrm/config "
                   f"@{{MaxEnvelopeSizekb=\"500\"}}")
    else:
        report.add("quotas", "ok", f"MaxEnvelopeSizekb {envelope}, MaxShellsPerUser {shells}")


def _why(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return "no answer (timed out)"
    if isinstance(exc, socket.gaierror):
        return f"the name does not resolve ({exc.strerror})"
    return str(exc) or type(exc).__name__


def as_json(reports: list[NodeReport]) -> dict[str, Any]:
    return {"nodes": [{**{k: v for k, v in asdict(r).items() if k != "verdicts"},
                       "verdicts": [asdict(v) for v in r.verdicts]} for r in reports]}


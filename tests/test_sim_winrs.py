"""The simulator answers pywinrm exactly as Windows does: Session, Protocol, faults, auth."""

from __future__ import annotations

import base64
import gzip
import time

import pytest
import requests
import winrm
from winrm.exceptions import InvalidCredentialsError, WinRMOperationTimeoutError, WinRMTransportError, WSManFaultError

from enforcer.errors import TransportTimeout
from enforcer.simulator import simulate
from enforcer.transport import AgentOp
from simclient import AUTH_MODES, protocol, session, transport

BOOTSTRAP = "# enforcer-agent-bootstrap v1\n$x = [Console]::In.ReadToEnd()\n"


@pytest.mark.parametrize("auth", AUTH_MODES)
def test_session_run_cmd_and_run_ps(auth):
    with simulate("healthy", auth=auth) as sim:
        s = session(sim)
        result = s.run_cmd("hostname")
        assert (result.status_code, result.std_out, result.std_err) == (0, b"CLU1-A\r\n", b"")
        assert s.run_cmd("echo", ["hello", "world"]).std_out == b"hello world\r\n"
        assert s.run_cmd("whoami").std_out == b"simlab\\enforcer\r\n"
        assert b"Microsoft Windows [Version 10.0." in s.run_cmd("ver").std_out
        assert s.run_cmd("exit /b 7").status_code == 7

        unknown = s.run_cmd("frobnicate", ["-x"])
        assert unknown.status_code == 1
        assert unknown.std_err == (b"'frobnicate' is not recognized as an internal or external command,\r\n"
                                   b"operable program or batch file.\r\n")

        ps = s.run_ps("Get-Service MSDTC")
        assert ps.status_code == 1
        assert b"not executed" in ps.std_err and not ps.std_err.startswith(b"#< CLIXML")


@pytest.mark.parametrize("auth", AUTH_MODES)
def test_protocol_calls_with_stdin_timeouts_and_large_output(auth):
    with simulate("healthy", auth=auth, time_scale=0.01) as sim:
        p = protocol(sim, operation_timeout_sec=1, read_timeout_sec=3)
        shell = p.open_shell()

        # A command past the operation timeout: the raw Receive faults, get_command_output retries it.
        cmd = p.run_command(shell, "ping", ["-n", "30", "127.0.0.1", ">nul"])
        with pytest.raises(WinRMOperationTimeoutError):
            p.get_command_output_raw(shell, cmd)
        assert p.get_command_output(shell, cmd) == (b"", b"", 0)
        p.cleanup_command(shell, cmd)

        # Output larger than one envelope arrives over several Receives.
        cmd = p.run_command(shell, "type", ["C:\\Windows\\Logs\\CBS\\CBS.log"])
        chunks, done = [], False
        while not done:
            out, _, code, done = p.get_command_output_raw(shell, cmd)
            chunks.append(out)
        p.cleanup_command(shell, cmd)
        assert sum(map(len, chunks)) == 400000 and len(chunks) >= 3 and code == 0

        # stdin over Send, several chunks, then the end of the stream; in pipe mode, as Ansible sends a payload.
        encoded = base64.b64encode(BOOTSTRAP.encode("utf-16-le")).decode()
        cmd = p.run_command(shell, "powershell.exe", ["-NoProfile", "-EncodedCommand", encoded])
        p.send_command_input(shell, cmd, b"eyJ2IjoxLCJvcHMiOltdfQ==\n", end=True)
        out, err, code = p.get_command_output(shell, cmd)
        assert code == 2 and b"console-mode stdin" in err, "pywinrm's default console mode is refused, cautiously"
        p.cleanup_command(shell, cmd)
        cmd = p.run_command(shell, "powershell.exe", ["-NoProfile", "-EncodedCommand", encoded],
                            console_mode_stdin=False)
        p.send_command_input(shell, cmd, base64.b64encode(gzip.compress(b"not an agent")) + b"\n")
        p.send_command_input(shell, cmd, b"eyJ2IjoxLCJvcHMiOltdfQ==\n", end=True)  # {"v":1,"ops":[]}
        out, err, code = p.get_command_output(shell, cmd)
        assert code == 1 and b"Invoke-EnforcerAgent" in err
        p.cleanup_command(shell, cmd)
        p.close_shell(shell)
        assert sim.server.connections[sim.endpoints[0].node] == 1, "keep-alive: one TCP connection for it all"


def test_bad_credentials_get_401_in_every_mode():
    for auth in AUTH_MODES:
        with simulate("healthy", auth=auth) as sim:
            endpoint = sim.endpoints[0]
            kwargs = {"ntlm": {"transport": "ntlm"}, "basic-http": {"transport": "basic"},
                      "basic-https": {"transport": "ssl", "ca_trust_path": sim.ca_path}}[auth]
            bad = winrm.Session(endpoint.url, auth=(sim.user, "wrong-" + sim.password), **kwargs)
            with pytest.raises(InvalidCredentialsError):
                bad.run_cmd("hostname")


def test_https_validates_against_the_generated_ca():
    with simulate("healthy", auth="basic-https") as sim:
        endpoint = sim.endpoints[0]
        untrusted = winrm.Session(endpoint.url, auth=(sim.user, sim.password), transport="ssl", ca_trust_path=None)
        with pytest.raises(requests.exceptions.SSLError):
            untrusted.run_cmd("hostname")


def test_unknown_shell_and_command_are_invalid_selectors():
    with simulate("healthy", auth="basic-http") as sim:
        p = protocol(sim)
        with pytest.raises(WSManFaultError) as fault:
            p.run_command("00000000-0000-0000-0000-000000000000", "hostname")
        assert fault.value.wsman_fault_code == 2150858843
        shell = p.open_shell()
        with pytest.raises(WSManFaultError) as fault:
            p.get_command_output_raw(shell, "87E77BEB-6761-4C48-9D70-A00266B8459A")
        assert fault.value.wsman_fault_code == 2150858843
        assert "command identifier that does not exist" in fault.value.response


def test_thirty_one_shells_exceed_the_quota():
    with simulate("healthy", auth="basic-http") as sim:
        p = protocol(sim)
        shells = [p.open_shell() for _ in range(30)]
        with pytest.raises(WSManFaultError) as fault:
            p.open_shell()
        assert fault.value.wsman_fault_code == 2150859173
        p.close_shell(shells[0], close_session=False)
        p.open_shell()


def test_command_line_limit_is_cmd_exe_s():
    with simulate("healthy", auth="basic-http") as sim:
        s = session(sim)
        assert s.run_cmd("echo " + "x" * 8186).status_code == 0  # 8,191 characters in all
        too_long = s.run_cmd("echo " + "x" * 8187)
        assert (too_long.status_code, too_long.std_err) == (1, b"The command line is too long.\r\n")


@pytest.mark.parametrize("kind,expected", [
    ("http500", WinRMTransportError), ("wsman", WSManFaultError), ("refuse", requests.exceptions.ConnectionError)])
def test_injected_transport_faults_hit_once_with_count_1(kind, expected):
    with simulate("healthy", auth="basic-http", faults=[f"node=CLU1-A,on=any,kind={kind},count=1"]) as sim:
        with pytest.raises(expected):
            session(sim).run_cmd("hostname")
        assert session(sim).run_cmd("hostname").status_code == 0
        assert session(sim, "CLU1-B").run_cmd("hostname").std_out == b"CLU1-B\r\n"


def test_injected_hang_outlasts_the_client_read_timeout():
    with simulate("healthy", auth="basic-http", faults=["node=*,on=any,kind=hang,count=1"]) as sim:
        with pytest.raises(requests.exceptions.ReadTimeout):
            session(sim, operation_timeout_sec=1, read_timeout_sec=2).run_cmd("hostname")


def test_the_listener_holds_to_winrm_s_limits_and_forms():
    """MaxEnvelopeSizekb 500 (413); the last Receive's End markers; a cmd-only listener refusing a PowerShell
    remoting shell; an idle keep-alive connection dropped after HTTP.sys' 120 s (scaled)."""
    with simulate("healthy", auth="ntlm", time_scale=0.002, idle_timeout_s=0.24) as sim:  # 120 s at this scale
        p = protocol(sim)
        shell = p.open_shell()
        with pytest.raises(WinRMTransportError) as too_big:
            p.send_command_input(shell, p.run_command(shell, "hostname"), b"x" * (501 * 1024))
        assert too_big.value.code == 413

        p = protocol(sim)
        shell = p.open_shell()
        answers: list[bytes] = []
        send = p.transport.send_message
        p.transport.send_message = lambda message: answers.append(send(message)) or answers[-1]
        cmd = p.run_command(shell, "hostname")
        assert p.get_command_output_raw(shell, cmd)[:2] == (b"CLU1-A\r\n", b"")
        assert answers[-1].count(b'End="true"') == 2, "stdout and stderr closed before Done"

        create = (f'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
                  f'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
                  f'xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"><s:Header>'
                  f'<a:To>{sim.endpoints[0].url}</a:To>'
                  f'<w:ResourceURI>http://schemas.microsoft.com/powershell/microsoft.powershell</w:ResourceURI>'
                  f'<a:Action>http://schemas.xmlsoap.org/ws/2004/09/transfer/Create</a:Action>'
                  f'<a:MessageID>uuid:00000000-0000-0000-0000-000000000001</a:MessageID></s:Header><s:Body/>'
                  f'</s:Envelope>')
        with pytest.raises(WSManFaultError) as refused:
            p.send_message(create)
        assert refused.value.wsman_fault_code == 2150858752 and "was not found" in refused.value.reason

        # enforcer's client finds the idle connection dropped, and authenticates a new one before its next call
        node = sim.endpoints[0].node
        client = transport(sim, node)
        assert client.call([AgentOp("dtc.get")])[0].ok
        before = sim.server.connections[node]
        time.sleep(sim.server.idle_timeout_s * 2)  # 120 simulated seconds, twice
        assert client.call([AgentOp("dtc.get")])[0].ok
        assert sim.server.connections[node] == before + 1, "the idle connection was dropped: a new one"
        client.close()


def test_a_terminated_command_kills_the_agent_s_installer_half_way_and_nothing_after_it_runs():
    """A call that runs out of time is terminated by the client: its process tree dies with it (windows-facts §5.3),
    so msdtc -install, half-way, has registered the service and not yet written its key; the op after never runs."""
    with simulate("healthy", auth="basic-http", time_scale=0.05) as sim:
        sim.drift({"action": "dtc.set", "node": "CLU1-A", "registered": False})
        client = transport(sim, "CLU1-A")
        with pytest.raises(TransportTimeout):  # msdtc -install takes 20 s, 1 s here; the call gets 0.7 s
            client.call([AgentOp("dtc.install"), AgentOp("service.start", {"name": "MSDTC"})], timeout_s=0.7)
        client.close()
        time.sleep(1.0)  # 20 simulated seconds: as long as the install would have taken
        node = sim.state()["clusters"][0]["nodes"][0]
        assert node["dtc_registered"] and "HKLM\\SYSTEM\\CurrentControlSet\\Services\\MSDTC" not in node["registry"]
        assert node["services"]["MSDTC"] == "Stopped", "the op after the killed one never ran"
        assert [r["outcome"] for r in sim.journal.records("op") if r["op"] == "dtc.install"] == ["killed half-way"]


def test_output_follows_the_shell_s_code_page():
    """WINRS_CODEPAGE: 437 by default (pywinrm's), UTF-8 with 65001 (what enforcer asks for)."""
    with simulate("healthy", auth="basic-http") as sim:
        for codepage, expected in ((437, "héllo".encode("cp437")), (65001, "héllo".encode())):
            p = protocol(sim)
            shell = p.open_shell(codepage=codepage)
            cmd = p.run_command(shell, "echo", ["héllo"])
            assert p.get_command_output(shell, cmd)[0] == expected + b"\r\n"
            p.close_shell(shell)

"""WinRS shells and commands of one simulated node.

Each command runs in its own thread and feeds an output buffer; Receive hands
out what is there (split to fit the client's MaxEnvelopeSize), waits for more
up to the request's OperationTimeout (scaled like every simulated duration),
and otherwise answers the operation-timeout fault that pywinrm retries.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from . import wsman
from .agent_host import clixml_error, is_bootstrap, request_ops, run_agent
from .entities import WINRM_MAX_SHELLS_PER_USER, Clock
from .faults import Fault
from .ops import OpContext

# Windows never decrements this for a text shell's commands (MS-WSMV note 118): a
# long-lived shell eventually needs recreating, and clients must handle that.
MAX_OPERATIONS_PER_SHELL = 1500
CMD_LINE_LIMIT = 8191
_ENVELOPE_OVERHEAD = 2048


class TransportFault(Exception):
    """An injected fault below WS-Management: the HTTP layer acts it out."""

    def __init__(self, fault: Fault) -> None:
        super().__init__(fault.kind)
        self.fault = fault


@dataclass
class Command:
    id: str
    line: str
    output: list[tuple[str, bytes]] = field(default_factory=list)
    stdin: bytearray = field(default_factory=bytearray)
    exit_code: int | None = None
    fault: Fault | None = None
    cond: threading.Condition = field(default_factory=threading.Condition)
    on_stdin_end: Callable[[Command], None] | None = None
    discard_stdout: bool = False
    console_stdin: bool = True  # WINRS_CONSOLEMODE_STDIN: console mode unless the client asked for a pipe
    codec: str = "cp437"  # its shell's code page
    killed: threading.Event = field(default_factory=threading.Event)  # its process tree: set on terminate, Delete

    def write(self, stream: str, data: bytes) -> None:
        with self.cond:
            if data and not (stream == "stdout" and self.discard_stdout):
                self.output.append((stream, data))
            self.cond.notify_all()

    def finish(self, exit_code: int) -> None:
        with self.cond:
            if self.exit_code is None:
                self.exit_code = exit_code
            self.cond.notify_all()

    def fail_transport(self, fault: Fault) -> None:
        with self.cond:
            self.fault = fault
            self.cond.notify_all()

    def take(self, max_raw: int) -> tuple[list[tuple[str, bytes]], bool]:
        """Up to `max_raw` bytes of output, and whether that is the end (done and drained)."""
        taken: list[tuple[str, bytes]] = []
        budget = max_raw
        while self.output and budget > 0:
            stream, data = self.output[0]
            piece, rest = data[:budget], data[budget:]
            taken.append((stream, piece))
            budget -= len(piece)
            if rest:
                self.output[0] = (stream, rest)
            else:
                self.output.pop(0)
        return taken, self.exit_code is not None and not self.output


@dataclass
class Shell:
    id: str
    owner: str
    codec: str = "cp437"  # WINRS_CODEPAGE: the console code page its programs write in (437 unless asked)
    commands: dict[str, Command] = field(default_factory=dict)
    operations: int = 0


class NodeShells:
    """The WinRS service of one node: its shells, commands and the cmd.exe it emulates."""

    def __init__(self, ctx: OpContext, clock: Clock, domain: str, user: str) -> None:
        self.ctx = ctx
        self.clock = clock
        self.domain = domain
        self.user = user
        self._lock = threading.Lock()
        self._shells: dict[str, Shell] = {}

    # -- WS-Management verbs ---------------------------------------------------
    def create(self, req: wsman.Request, user: str, endpoint: str, client_ip: str) -> bytes:
        if req.resource_uri and req.resource_uri.lower() != wsman.CMD_URI.lower():
            raise wsman.unknown_resource(req.resource_uri)  # a cmd-only listener: no PSRP plugin
        with self._lock:
            if sum(1 for s in self._shells.values() if s.owner == user) >= WINRM_MAX_SHELLS_PER_USER:
                raise wsman.shell_quota(WINRM_MAX_SHELLS_PER_USER)
            shell = Shell(str(uuid.uuid4()).upper(), user, _codec(req.options.get("WINRS_CODEPAGE", "437")))
            self._shells[shell.id] = shell
        streams, out_streams = "stdin", "stdout stderr"
        if req.body is not None:
            streams = req.body.findtext("rsp:InputStreams", streams, wsman.NS)
            out_streams = req.body.findtext("rsp:OutputStreams", out_streams, wsman.NS)
        return wsman.create_response(req, endpoint, shell.id, user, client_ip, streams, out_streams)

    def delete(self, req: wsman.Request) -> bytes:
        shell = self._shell(req)
        with self._lock:
            self._shells.pop(shell.id, None)
        for cmd in shell.commands.values():  # Delete ends the shell's job: every process in it dies
            cmd.killed.set()
            cmd.finish(-1)
        return wsman.delete_response(req)

    def command(self, req: wsman.Request) -> bytes:
        shell = self._shell(req)
        body = req.body
        command = body.findtext("rsp:Command", "", wsman.NS).strip() if body is not None else ""
        arguments = [a.text or "" for a in body.findall("rsp:Arguments", wsman.NS)] if body is not None else []
        cmd = Command(str(uuid.uuid4()).upper(), " ".join([command] + arguments).strip(),
                      console_stdin=req.options.get("WINRS_CONSOLEMODE_STDIN", "TRUE").upper() != "FALSE",
                      codec=shell.codec)
        with self._lock:
            if shell.operations >= MAX_OPERATIONS_PER_SHELL:
                raise wsman.operations_quota(MAX_OPERATIONS_PER_SHELL)
            shell.operations += 1
            shell.commands[cmd.id] = cmd
        limit = 32767 if req.options.get("WINRS_SKIP_CMD_SHELL", "").upper() == "TRUE" else CMD_LINE_LIMIT
        if len(cmd.line) > limit:
            cmd.write("stderr", b"The command line is too long.\r\n")
            cmd.finish(1)
        else:
            self._start(cmd)
        self._operation_timeout("wsman:command")
        return wsman.command_response(req, cmd.id)

    def send(self, req: wsman.Request) -> bytes:
        shell = self._shell(req)
        for stream in req.body.findall("rsp:Stream", wsman.NS) if req.body is not None else []:
            cmd = self._command(shell, stream.get("CommandId", ""))
            try:
                cmd.stdin += base64.b64decode(stream.text or "")
            except binascii.Error as exc:
                raise wsman.internal_error(f"The stdin stream is not valid base64: {exc}") from exc
            if stream.get("End", "").lower() == "true" and cmd.on_stdin_end:
                handler, cmd.on_stdin_end = cmd.on_stdin_end, None
                threading.Thread(target=handler, args=(cmd,), daemon=True).start()
            self._operation_timeout("wsman:send", cmd)
        return wsman.send_response(req)

    def receive(self, req: wsman.Request) -> bytes:
        shell = self._shell(req)
        desired = req.body.find("rsp:DesiredStream", wsman.NS) if req.body is not None else None
        cmd = self._command(shell, desired.get("CommandId", "") if desired is not None else "")
        self._operation_timeout("wsman:receive", cmd)
        max_raw = max(1024, (req.max_envelope_size - _ENVELOPE_OVERHEAD) * 3 // 4)
        deadline = time.monotonic() + req.operation_timeout_s * self.clock.scale
        with cmd.cond:
            while not cmd.output and cmd.exit_code is None and cmd.fault is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise wsman.operation_timeout()
                cmd.cond.wait(remaining)
            if cmd.fault is not None:
                fault, cmd.fault = cmd.fault, None
                raise TransportFault(fault)
            chunks, done = cmd.take(max_raw)
        encoded = [(name, base64.b64encode(data).decode("ascii")) for name, data in chunks]
        return wsman.receive_response(req, cmd.id, encoded, cmd.exit_code if done else None)

    def signal(self, req: wsman.Request) -> bytes:
        shell = self._shell(req)
        command_id = req.body.get("CommandId", "") if req.body is not None else ""
        cmd = self._command(shell, command_id)
        code = req.body.findtext("rsp:Code", "", wsman.NS) if req.body is not None else ""
        if code.lower().endswith("/terminate"):  # a URI: Windows compares it without case
            cmd.killed.set()  # the command's process tree dies with it (windows-facts §5.3)
            with self._lock:
                shell.commands.pop(cmd.id, None)
        cmd.finish(-1073741510)  # STATUS_CONTROL_C_EXIT, what a killed console process reports
        return wsman.signal_response(req)

    def _operation_timeout(self, target: str, cmd: Command | None = None) -> None:
        """An injected OperationTimeout answer to this exchange, after it took effect; `target:OP` faults only on
        the exchanges of an agent call carrying op OP."""
        faults, node = self.ctx.cluster.faults, self.ctx.node.name
        if not faults.holds("optimeout"):
            return
        targets = [target] + [f"{target}:{op}" for op in (request_ops(bytes(cmd.stdin)) if cmd else [])]
        if any(faults.take(node, t, ("optimeout",)) for t in targets):
            raise wsman.operation_timeout()

    def open_shells(self) -> int:
        with self._lock:
            return len(self._shells)

    # -- lookups -------------------------------------------------------------
    def _shell(self, req: wsman.Request) -> Shell:
        with self._lock:
            shell = self._shells.get((req.shell_id or "").upper())
        if shell is None:
            raise wsman.invalid_selectors(
                f"The request for the Windows Remote Shell with ShellId {req.shell_id} failed because the shell "
                f"was not found on the server. Possible causes are: the specified ShellId is incorrect or the "
                f"shell no longer exists on the server. Provide the correct ShellId or create a new shell and "
                f"try again. ")
        return shell

    def _command(self, shell: Shell, command_id: str) -> Command:
        with self._lock:
            cmd = shell.commands.get(command_id.upper())
        if cmd is None:
            raise wsman.invalid_selectors(
                "The Windows Remote Shell received a request to perform an operation on a command identifier "
                "that does not exist. Either the command has completed execution or the client specified an "
                "invalid command identifier. ")
        return cmd

    # -- the emulated cmd.exe --------------------------------------------------
    def _start(self, cmd: Command) -> None:
        line = re.sub(r"^cmd(\.exe)?\s+/c\s+", "", cmd.line, flags=re.I).strip()
        redirect = re.search(r"\s*>\s*nul(\s+2>&1)?\s*$", line, re.I)
        if redirect:  # `ping -n 30 127.0.0.1 >nul`, the classic batch-file sleep
            line, cmd.discard_stdout = line[:redirect.start()], True
        word, _, rest = line.partition(" ")
        program = word.lower().removesuffix(".exe")
        rest = rest.strip()
        if program in ("powershell", "pwsh"):
            self._powershell(cmd, rest)
            return
        ping = re.match(r"-n\s+(\d+)\s+(\S+)", rest) if program == "ping" else None
        if ping:
            threading.Thread(target=self._ping, args=(cmd, *ping.groups()), daemon=True).start()
            return
        stdout, stderr, code = self._builtin(program, word, rest)
        self.ctx.cluster.journal.op(self.ctx.cluster.name, self.ctx.node.name, "cmd", {"command": line},
                                    "ok" if code == 0 else f"error: exit {code}")
        cmd.write("stdout", stdout.encode(cmd.codec, "replace"))
        cmd.write("stderr", stderr.encode(cmd.codec, "replace"))
        cmd.finish(code)

    def _builtin(self, program: str, word: str, rest: str) -> tuple[str, str, int]:
        node = self.ctx.node
        if program == "hostname":
            return node.name + "\r\n", "", 0
        if program == "whoami":
            return f"{self.domain}\\{self.user}".lower() + "\r\n", "", 0
        if program == "ver":
            return "\r\nMicrosoft Windows [Version 10.0.17763.5329]\r\n", "", 0
        if program in ("echo", "echo."):
            return (rest if rest or program == "echo." else "ECHO is on.") + "\r\n", "", 0
        if program == "exit":
            match = re.match(r"(?:/b\s+)?(-?\d+)?$", rest, re.I)
            return "", "", int(match.group(1)) if match and match.group(1) else 0
        if program == "type":
            with self.ctx.cluster.lock:
                entry = node.fs.get(rest.strip('"'))
            if entry is None or entry.is_dir:
                return "", "The system cannot find the file specified.\r\n", 1
            return entry.data.decode("utf-8", "replace"), "", 0
        return "", (f"'{word}' is not recognized as an internal or external command,\r\n"
                    "operable program or batch file.\r\n"), 1

    def _ping(self, cmd: Command, count: str, host: str) -> None:
        cmd.write("stdout", f"\r\nPinging {host} with 32 bytes of data:\r\n".encode())
        for i in range(int(count)):
            if i:
                self.clock.sleep(1.0)
            if cmd.exit_code is not None:
                return
            cmd.write("stdout", f"Reply from {host}: bytes=32 time<1ms TTL=128\r\n".encode())
        cmd.write("stdout", (f"\r\nPing statistics for {host}:\r\n    Packets: Sent = {count}, Received = "
                             f"{count}, Lost = 0 (0% loss),\r\n").encode())
        cmd.finish(0)

    def _powershell(self, cmd: Command, args: str) -> None:
        match = re.search(r"(?:^|\s)-(?:e|ec|enc|encodedcommand)\s+(\S+)", args, re.I)
        script = None
        if match:
            try:
                script = base64.b64decode(match.group(1), validate=True).decode("utf-16-le")
            except (binascii.Error, UnicodeDecodeError):
                script = None
        if script is not None and is_bootstrap(script) and cmd.console_stdin:
            # Console-mode stdin may edit a long line (windows-facts §8 #1): the cautious case is that the agent's
            # request does not arrive whole, so the bootstrap fails as it would reading a mangled line.
            cmd.write("stderr", clixml_error("enforcer agent: bad input (the request was sent to a console-mode "
                                             "stdin; send it with WINRS_CONSOLEMODE_STDIN=FALSE)"))
            cmd.finish(2)
            return
        if script is not None and is_bootstrap(script):
            cmd.on_stdin_end = self._run_agent
            return
        cmd.write("stderr", clixml_error(
            "The enforcer simulator runs only the enforcer agent bootstrap; this PowerShell was not executed."))
        cmd.finish(1)

    def _run_agent(self, cmd: Command) -> None:
        outcome = run_agent(self.ctx, self.ctx.cluster.faults, bytes(cmd.stdin), cmd.killed)
        fault = outcome.transport_fault
        if fault is not None:
            if fault.kind == "hang":
                return  # the command stays Running: every Receive answers an operation timeout
            cmd.fail_transport(fault)
            return
        cmd.write("stdout", outcome.stdout)
        cmd.write("stderr", outcome.stderr)
        cmd.finish(outcome.exit_code)



def _codec(codepage: str) -> str:
    """Python's codec for a Windows code page: 65001 is UTF-8; an unknown one falls back to the OEM default, 437."""
    if codepage.strip() == "65001":
        return "utf-8"
    name = f"cp{codepage.strip()}"
    try:
        codecs.lookup(name)
    except LookupError:
        return "cp437"
    return name

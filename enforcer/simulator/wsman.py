"""WS-Management envelopes: parse what pywinrm sends, answer as Windows does.

The response shapes follow captures of real Windows Server answers (pypsrp's
test responses): the same namespaces, prefixes, elements and fault details,
so a client that works here parses real servers the same way.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
}
SHELL = NS["rsp"]
ACTION_CREATE = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create"
ACTION_DELETE = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete"
ACTION_COMMAND = f"{SHELL}/Command"
ACTION_SEND = f"{SHELL}/Send"
ACTION_RECEIVE = f"{SHELL}/Receive"
ACTION_SIGNAL = f"{SHELL}/Signal"
CMD_URI = f"{SHELL}/cmd"

_ENVELOPE_OPEN = (
    '<s:Envelope xml:lang="en-US" xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
    'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
    'xmlns:x="http://schemas.xmlsoap.org/ws/2004/09/transfer" '
    'xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" '
    'xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell" '
    'xmlns:p="http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd">'
)


class WSManFault(Exception):
    """A fault Windows answers with HTTP 500 and an s:Fault body."""

    def __init__(self, code: int, subcode: str, reason: str, message: str, sender: bool = True,
                 detail: str = "") -> None:
        super().__init__(reason)
        self.code, self.subcode, self.reason, self.message = code, subcode, reason, message
        self.sender, self.detail = sender, detail


def operation_timeout() -> WSManFault:
    text = "The WS-Management service cannot complete the operation within the time specified in OperationTimeout.  "
    return WSManFault(2150858793, "w:TimedOut", text, text, sender=False)


def invalid_selectors(message: str) -> WSManFault:
    return WSManFault(
        2150858843, "w:InvalidSelectors",
        "The WS-Management service cannot process the request because the request contained invalid "
        "selectors for the resource. ", message,
        detail="<w:FaultDetail>http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/UnexpectedSelectors"
               "</w:FaultDetail>")


def shell_quota(limit: int) -> WSManFault:
    text = (f"The WS-Management service cannot process the request. This user is allowed a maximum number "
            f"of {limit} concurrent shells, which has been exceeded. Close existing shells or raise the "
            f"quota for this user. ")
    return WSManFault(2150859173, "w:QuotaLimit", text, text)


def operations_quota(limit: int) -> WSManFault:
    text = (f"The WS-Management service cannot process the request. This user is allowed a maximum number "
            f"of {limit} concurrent operations, which has been exceeded. Close existing operations for this "
            f"user, or raise the quota for this user. ")
    return WSManFault(2150859174, "w:QuotaLimit", text, text)


def unknown_resource(uri: str) -> WSManFault:
    """The resource URI names no plugin this listener has (e.g. PowerShell remoting where only cmd is offered)."""
    text = (f"The WS-Management service cannot process the request. The resource URI ({uri}) was not found in the "
            f"WS-Management catalog. The catalog contains the metadata that describes resources, or logical "
            f"endpoints. ")
    return WSManFault(2150858752, "w:DestinationUnreachable", text, text)


def internal_error(message: str) -> WSManFault:
    return WSManFault(2150858770, "w:InternalError", "The WS-Management service cannot process the request. ",
                      message, sender=False)


@dataclass
class Request:
    action: str
    message_id: str
    resource_uri: str
    operation_timeout_s: float
    max_envelope_size: int
    shell_id: str | None
    options: dict[str, str] = field(default_factory=dict)
    body: ET.Element | None = None


def _duration_seconds(text: str | None, default: float) -> float:
    """ISO 8601 'PT20S' / 'PT20.000S' / 'PT1M' as seconds."""
    if not text or not text.startswith("PT"):
        return default
    total, num = 0.0, ""
    for ch in text[2:]:
        if ch.isdigit() or ch == ".":
            num += ch
        else:
            total += float(num or 0) * {"H": 3600, "M": 60, "S": 1}.get(ch, 0)
            num = ""
    return total


def parse_request(data: bytes) -> Request:
    """The header fields the WinRS service reads, in one pass over the header (not a path search per field)."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise internal_error(f"The request is not well-formed XML: {exc}") from exc
    header = root.find(_HEADER)
    if header is None:
        raise internal_error("The request has no SOAP header.")
    fields = {child.tag: child for child in header}

    def text(tag: str) -> str | None:
        node = fields.get(tag)
        return node.text.strip() if node is not None and node.text else None

    selectors = fields.get(_SELECTOR_SET)
    shell_id = next((s.text.strip() for s in (selectors if selectors is not None else ())
                     if s.tag == _SELECTOR and s.get("Name") == "ShellId" and s.text), None)
    option_set = fields.get(_OPTION_SET)
    options = {o.get("Name", ""): (o.text or "") for o in (option_set if option_set is not None else ())
               if o.tag == _OPTION}
    body = root.find(_BODY)
    return Request(
        action=text(_ACTION) or "",
        message_id=text(_MESSAGE_ID) or "",
        resource_uri=text(_RESOURCE_URI) or "",
        operation_timeout_s=_duration_seconds(text(_OPERATION_TIMEOUT), 60.0),
        max_envelope_size=int(text(_MAX_ENVELOPE_SIZE) or 153600),
        shell_id=shell_id,
        options=options,
        body=body[0] if body is not None and len(body) else None,
    )


_HEADER, _BODY = f"{{{NS['s']}}}Header", f"{{{NS['s']}}}Body"
_ACTION, _MESSAGE_ID = f"{{{NS['a']}}}Action", f"{{{NS['a']}}}MessageID"
_RESOURCE_URI, _OPERATION_TIMEOUT = f"{{{NS['w']}}}ResourceURI", f"{{{NS['w']}}}OperationTimeout"
_MAX_ENVELOPE_SIZE, _SELECTOR_SET = f"{{{NS['w']}}}MaxEnvelopeSize", f"{{{NS['w']}}}SelectorSet"
_SELECTOR, _OPTION_SET, _OPTION = f"{{{NS['w']}}}Selector", f"{{{NS['w']}}}OptionSet", f"{{{NS['w']}}}Option"


def _envelope(action: str, relates_to: str, body: str) -> bytes:
    return (
        f"{_ENVELOPE_OPEN}<s:Header><a:Action>{action}</a:Action>"
        f"<a:MessageID>uuid:{str(uuid.uuid4()).upper()}</a:MessageID>"
        f"<a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To>"
        f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo></s:Header><s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


def create_response(req: Request, endpoint: str, shell_id: str, owner: str, client_ip: str,
                    input_streams: str, output_streams: str) -> bytes:
    body = (
        f"<x:ResourceCreated><a:Address>{escape(endpoint)}</a:Address><a:ReferenceParameters>"
        f"<w:ResourceURI>{CMD_URI}</w:ResourceURI><w:SelectorSet><w:Selector Name=\"ShellId\">{shell_id}"
        f"</w:Selector></w:SelectorSet></a:ReferenceParameters></x:ResourceCreated>"
        f"<rsp:Shell xmlns:rsp=\"{SHELL}\"><rsp:ShellId>{shell_id}</rsp:ShellId>"
        f"<rsp:ResourceUri>{CMD_URI}</rsp:ResourceUri><rsp:Owner>{escape(owner)}</rsp:Owner>"
        f"<rsp:ClientIP>{escape(client_ip)}</rsp:ClientIP><rsp:IdleTimeOut>PT7200.000S</rsp:IdleTimeOut>"
        f"<rsp:InputStreams>{escape(input_streams)}</rsp:InputStreams>"
        f"<rsp:OutputStreams>{escape(output_streams)}</rsp:OutputStreams>"
        f"<rsp:ShellRunTime>P0DT0H0M0S</rsp:ShellRunTime><rsp:ShellInactivity>P0DT0H0M0S</rsp:ShellInactivity>"
        f"</rsp:Shell>"
    )
    return _envelope("http://schemas.xmlsoap.org/ws/2004/09/transfer/CreateResponse", req.message_id, body)


def command_response(req: Request, command_id: str) -> bytes:
    body = f"<rsp:CommandResponse><rsp:CommandId>{command_id}</rsp:CommandId></rsp:CommandResponse>"
    return _envelope(f"{SHELL}/CommandResponse", req.message_id, body)


def send_response(req: Request) -> bytes:
    return _envelope(f"{SHELL}/SendResponse", req.message_id, "<rsp:SendResponse/>")


def signal_response(req: Request) -> bytes:
    return _envelope(f"{SHELL}/SignalResponse", req.message_id, "<rsp:SignalResponse/>")


def delete_response(req: Request) -> bytes:
    return _envelope("http://schemas.xmlsoap.org/ws/2004/09/transfer/DeleteResponse", req.message_id, "")


def receive_response(req: Request, command_id: str, chunks: list[tuple[str, str]], exit_code: int | None) -> bytes:
    """`chunks` are (stream name, base64 text); `exit_code` None means still running."""
    streams = "".join(f'<rsp:Stream Name="{name}" CommandId="{command_id}">{b64}</rsp:Stream>'
                      for name, b64 in chunks)
    if exit_code is not None:  # the last answer closes both streams before Done (capture: test_winrs_standard.yml)
        streams += "".join(f'<rsp:Stream Name="{name}" CommandId="{command_id}" End="true"></rsp:Stream>'
                           for name in ("stdout", "stderr"))
    if exit_code is None:
        state = (f'<rsp:CommandState CommandId="{command_id}" '
                 f'State="{SHELL}/CommandState/Running"></rsp:CommandState>')
    else:
        state = (f'<rsp:CommandState CommandId="{command_id}" State="{SHELL}/CommandState/Done">'
                 f'<rsp:ExitCode>{exit_code}</rsp:ExitCode></rsp:CommandState>')
    return _envelope(f"{SHELL}/ReceiveResponse", req.message_id,
                     f"<rsp:ReceiveResponse>{streams}{state}</rsp:ReceiveResponse>")


def fault_response(fault: WSManFault, relates_to: str, machine: str) -> bytes:
    role = "s:Sender" if fault.sender else "s:Receiver"
    body = (
        f"<s:Fault><s:Code><s:Value>{role}</s:Value><s:Subcode><s:Value>{fault.subcode}</s:Value></s:Subcode>"
        f"</s:Code><s:Reason><s:Text xml:lang=\"en-US\">{escape(fault.reason)}</s:Text></s:Reason><s:Detail>"
        f"{fault.detail}<f:WSManFault xmlns:f=\"http://schemas.microsoft.com/wbem/wsman/1/wsmanfault\" "
        f"Code=\"{fault.code}\" Machine=\"{escape(machine)}\"><f:Message>{escape(fault.message)}</f:Message>"
        f"</f:WSManFault></s:Detail></s:Fault>"
    )
    return _envelope("http://schemas.dmtf.org/wbem/wsman/1/wsman/fault", relates_to, body)

"""enforcer's envelope writer equals xmltodict.unparse, byte for byte, on what pywinrm sends and beyond."""

from __future__ import annotations

import base64

import pytest
import xmltodict
from hypothesis import given, settings, strategies as st
from winrm.protocol import Protocol

from enforcer.transport import envelope


class _Capture:
    """A transport that keeps the message and answers nothing: each call then ends in _Sent."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def send_message(self, message: str) -> bytes:
        self.messages.append(message)
        raise _Sent

    def close_session(self) -> None:
        pass


class _Sent(Exception):
    pass


def _pywinrm_documents() -> list[dict]:
    """Every dict pywinrm's Protocol serialises for the calls enforcer makes, with awkward content."""
    documents: list[dict] = []
    real = xmltodict.unparse

    def keep(document, *args, **kwargs):
        documents.append(document)
        return real(document, *args, **kwargs)

    protocol = Protocol("http://node:5985/wsman", username="u", password="p")
    protocol.transport = _Capture()
    calls = [lambda: protocol.open_shell(codepage=65001, env_vars={"A": "x&y<z>", "B": "\"quoted' both\""}),
             lambda: protocol.run_command("S", "powershell.exe", ["-EncodedCommand", "QUJD" * 700, "a&b"]),
             lambda: protocol.send_command_input("S", "C", base64.b64encode(bytes(range(256)) * 60), end=True),
             lambda: protocol.get_command_output_raw("S", "C"),
             lambda: protocol.cleanup_command("S", "C"),
             lambda: protocol.close_shell("S")]
    import winrm.protocol as module
    saved = module.xmltodict
    module.xmltodict = type("Spy", (), {"unparse": staticmethod(keep)})
    try:
        for call in calls:
            with pytest.raises(_Sent):
                call()
    finally:
        module.xmltodict = saved
    return documents


@pytest.mark.parametrize("document", _pywinrm_documents(),
                         ids=["Create", "Command", "Send", "Receive", "Signal", "Delete"])
def test_every_message_pywinrm_sends_is_written_as_xmltodict_writes_it(document):
    assert envelope.unparse(document) == xmltodict.unparse(document)


_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.:-]{0,8}", fullmatch=True)
_texts = st.one_of(st.text(max_size=20), st.booleans(), st.integers(), st.none(), st.binary(max_size=10))
_values = st.recursive(
    _texts,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.one_of(_names, _names.map(lambda n: "@" + n), st.just("#text")), children, max_size=4)),
    max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_names, _values, min_size=1, max_size=1))
def test_any_document_is_written_as_xmltodict_writes_it(document):
    try:
        expected = xmltodict.unparse(document)
    except ValueError as exc:  # xmltodict refuses it (e.g. a list at the root): so must we
        with pytest.raises(type(exc)):
            envelope.unparse(document)
        return
    assert envelope.unparse(document) == expected


def test_pywinrm_uses_it_once_installed():
    import winrm.protocol

    from enforcer.transport.pywinrm_compat import patched_protocol

    for _ in range(2):
        patched_protocol(endpoint="http://127.0.0.1:5985/wsman", transport="ntlm", username="u", password="p")
    assert winrm.protocol.xmltodict.unparse is envelope.unparse
    assert winrm.protocol.xmltodict.parse is xmltodict.parse


def test_equal_values_of_different_types_are_written_apart():
    """True == 1 == 1.0 as dict keys; the writer's attribute cache must still write each its own way."""
    for value in (True, 1, 1.0, "1", False, 0):
        document = {"a": {"@v": value, "b": value}}
        assert envelope.unparse(document) == xmltodict.unparse(document)


def test_a_pywinrm_of_another_minor_version_is_refused_by_name(monkeypatch):
    from enforcer.transport import pywinrm_compat

    monkeypatch.setattr(pywinrm_compat.metadata, "version", lambda name: "0.6.1")
    pywinrm_compat.check_pywinrm.cache_clear()
    try:
        with pytest.raises(pywinrm_compat.UnsupportedLibrary, match=r"pywinrm 0\.5\.x and found pywinrm 0\.6\.1"):
            pywinrm_compat.patched_protocol(endpoint="http://127.0.0.1:5985/wsman", transport="ntlm")
    finally:
        pywinrm_compat.check_pywinrm.cache_clear()

"""MSDTC on the simulated nodes: an OS component, its registration, its log, and the KB's symptom.

msdtc.exe reports the same file version on every WS2016-2025 build, so nothing here turns on a version
(windows-facts §1.4): MSDTC starts while it is registered, its service's key was not deleted by hand, and
its log exists and can be read. Otherwise the Service Control Manager logs 7024 with
3221229574 and MSDTC its own events (KB Q223397), and a DTC cluster resource goes Failed.
"""

from __future__ import annotations

from .entities import Group, Node, Resource, Service, SimError
from .journal import Journal
from .stores import FileSystem

DTC_LOG_FILE = "MSDTC.LOG"
LOCAL_DTC_LOG = "C:\\Windows\\System32\\Msdtc\\MSDTC.LOG"  # the local DTC's (Get-DtcLog)
MSDTC_FILE_VERSION = "2001.12.10941.16384"  # msdtc.exe on every WS2016-2025 build, whatever its patches
MSDTC_ERROR = 3221229574
EVENT_7024_MSDTC = (f"The MSDTC service terminated with service-specific error {MSDTC_ERROR} "
                    f"(0x{MSDTC_ERROR:08X}).")
# What MSDTC writes beside 7024 (source MSDTC), by cause: a log it cannot read (KB Q223397), or none at all.
MSDTC_EVENTS = {
    "damaged": [(53313, "The XA Transaction Manager attempted to load the XA resource manager DLL, and the DTC log "
                        "could not be read: the log is corrupt or was written by another DTC."),
                (4195, "The XA Transaction Manager could not be initialized. MS DTC will not start.")],
    "missing": [(4163, "MS DTC log file not found. After ensuring that all Resource Managers coordinated by MS DTC "
                       "have no indoubt transactions, please run msdtc -resetlog to create the log file.")],
}
DTC_LOG_BYTES = b"MSDTC\x00log\x00\x01"  # the model's stand-in for a binary DTC log that MSDTC can read
DTC_SERVICE_KEY = "HKLM\\SYSTEM\\CurrentControlSet\\Services\\MSDTC"
# What msdtc -install writes where there is nothing yet (windows-facts §1.5): its service registration, defaults.
DTC_DEFAULTS: dict[str, dict[str, tuple[str, object]]] = {
    DTC_SERVICE_KEY: {"ImagePath": ("REG_EXPAND_SZ", "%SystemRoot%\\System32\\msdtc.exe"),
                      "ObjectName": ("REG_SZ", "NT AUTHORITY\\NetworkService"), "Start": ("REG_DWORD", 3),
                      "Type": ("REG_DWORD", 16)},
    "HKLM\\Software\\Microsoft\\MSDTC": {"AllowOnlySecureRpcCalls": ("REG_DWORD", 1),
                                        "FallbackToUnsecureRPCIfNecessary": ("REG_DWORD", 0),
                                        "TurnOffRpcSecurity": ("REG_DWORD", 0)},
}


class MsdtcRules:
    """The cluster's MSDTC rules (a part of `model.Cluster`). MSDTC is registered on a node exactly while its
    service exists: msdtc -install creates it, msdtc -uninstall has the SCM delete it. The local DTC keeps its
    log under System32\\Msdtc; a clustered DTC on a disk it depends on, in a folder named after its resource's
    GUID, made when it first comes online (windows-facts §1.7; [MS: Get-DtcLog])."""

    name: str
    disks: dict[str, FileSystem]
    journal: Journal

    def dtc_log_folder(self, grp: Group, res: Resource) -> str | None:
        """Where a clustered DTC keeps its log: the folder it made, or would make, on the disk it depends on."""
        if res.params.get("log"):
            return str(res.params["log"])
        disk = next((d for name in res.depends_on if (d := grp.resource(name)) and d.type == "Physical Disk"), None)
        return f"{str(disk.params['drive']).upper()}\\MSDTC\\{res.id}" if disk and disk.params.get("drive") else None

    def dtc_problem(self, node: Node) -> tuple[str, str] | None:
        """Why the local MSDTC service cannot start on `node` (cause, what is wrong), or None when it can.

        The symptom arises as it does on a modern node: MSDTC's registration is gone, its service was
        deleted by hand, or its log is missing or unreadable. Not from a version: msdtc.exe's is the same
        on every node (windows-facts §1.4).
        """
        return self._registration_problem(node) or _log_problem(node.fs, LOCAL_DTC_LOG)

    def _registration_problem(self, node: Node) -> tuple[str, str] | None:
        service = node.services.get("msdtc")
        if service is None:
            return "unregistered", "MSDTC is not registered on this node (msdtc -install registers it)"
        if service.key_deleted:
            return "key_deleted", ("the MSDTC service's registry key was deleted while Windows ran: the Service "
                                   "Control Manager keeps the service without its configuration until a reboot")
        return None

    def msdtc_fails(self, node: Node) -> str | None:
        """Check the local MSDTC's start on `node`; log what Windows logs when it cannot start."""
        return _logged(node, self.dtc_problem(node))

    def clustered_dtc_fails(self, node: Node, grp: Group, res: Resource) -> str | None:
        """Check a clustered DTC's start on its owner `node`: MSDTC registered there, and the DTC's log on its
        disk readable; a DTC coming online for the first time makes its log."""
        problem = self._registration_problem(node)
        folder = self.dtc_log_folder(grp, res)
        if problem is None and folder is not None:
            fs = self.disks.setdefault(folder[:2], FileSystem())
            if not res.params.get("log"):
                fs.write(f"{folder}\\{DTC_LOG_FILE}", DTC_LOG_BYTES)
                res.params["log"] = folder
                self.journal.change(self.name, None, f"path:{folder}", "absent", "present")
            problem = _log_problem(fs, f"{folder}\\{DTC_LOG_FILE}")
        return _logged(node, problem)

    def reset_dtc_log(self, grp: Group, res: Resource) -> str:
        """Reset-DtcLog -DtcName: a new, empty log where the clustered DTC keeps it; returns its folder."""
        folder = self.dtc_log_folder(grp, res)
        if folder is None:
            raise SimError("failed", f"the DTC {res.name} depends on no disk to keep its log on")
        fs = self.disks.setdefault(folder[:2], FileSystem())
        path = f"{folder}\\{DTC_LOG_FILE}"
        log = fs.get(path)
        fs.write(path, DTC_LOG_BYTES)
        res.params["log"] = folder
        if log is None:
            self.journal.change(self.name, None, f"path:{folder}", "absent", "present")
        before = "absent" if log is None else "readable" if log.data == DTC_LOG_BYTES else "unreadable"
        self.journal.change(self.name, None, f"dtc_log:{res.name}", before, "reset")
        return folder

    def register_dtc(self, node: Node, defaults: bool = True) -> bool:
        """msdtc -install: the service again (Stopped, Manual) and, with `defaults`, its keys' defaults where there
        are none (write_dtc_defaults); the settings already there are kept. Returns whether MSDTC was registered
        before."""
        service = node.services.get("msdtc")
        if service is not None and service.key_deleted:
            raise SimError("failed", "msdtc.exe -install exited with code 1072: the MSDTC service is marked for "
                                     "deletion (its registry key was deleted by hand); restart Windows first.")
        if service is None:
            node.services["msdtc"] = Service("MSDTC", "Distributed Transaction Coordinator", "Stopped", "Manual",
                                             3.0, 2.0)
            self.journal.change(self.name, node.name, "dtc", "unregistered", "registered")
        if defaults:
            self.write_dtc_defaults(node)
        return service is not None

    def write_dtc_defaults(self, node: Node) -> None:
        """The rest of msdtc -install: MSDTC's keys with their defaults, where a key is absent."""
        for key, values in DTC_DEFAULTS.items():
            if node.registry.get(key) is None:
                for name, (kind, data) in values.items():
                    node.registry.set_value(key, name, data, kind)
                self.journal.change(self.name, node.name, f"registry:{key}", "absent", "present")

    def unregister_dtc(self, node: Node) -> bool:
        """msdtc -uninstall: the service is stopped and deleted (the SCM removes its key); the settings under
        HKLM\\Software\\Microsoft\\MSDTC stay behind (windows-facts §1.4). Returns whether it was registered."""
        service = node.services.get("msdtc")
        if service is None:
            return False
        if service.key_deleted:
            raise SimError("failed", "msdtc.exe -uninstall left the MSDTC service marked for deletion: restart "
                                     "Windows to finish it")
        del node.services["msdtc"]
        if service.status != "Stopped":
            self.journal.change(self.name, node.name, "service:MSDTC", service.status, "Stopped")
        if node.registry.remove(DTC_SERVICE_KEY):
            self.journal.change(self.name, node.name, f"registry:{DTC_SERVICE_KEY}", "present", "absent")
        self.journal.change(self.name, node.name, "dtc", "registered", "unregistered")
        return True


def _log_problem(fs: FileSystem, path: str) -> tuple[str, str] | None:
    log = fs.get(path)
    if log is None:
        return "missing", f"the DTC log {path} does not exist"
    if log.data != DTC_LOG_BYTES:
        return "damaged", f"the DTC log {path} cannot be read"
    return None


def _logged(node: Node, problem: tuple[str, str] | None) -> str | None:
    """What Windows logs when MSDTC cannot start (7024, and MSDTC's own beside it); returns why, or None. An
    unregistered MSDTC has no service for the SCM to log about."""
    if problem is None:
        return None
    cause, why = problem
    if cause == "unregistered":
        return why
    node.log_event(7024, "Service Control Manager", EVENT_7024_MSDTC)
    for event_id, message in MSDTC_EVENTS.get(cause, []):
        node.log_event(event_id, "MSDTC", message)
    return why

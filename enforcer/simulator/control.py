"""The control endpoint: read the whole model, add faults, introduce drift.

Loopback only. Tests and rehearsals use it between runs:
  GET  /state     the model as JSON (every cluster, node, group, key, path)
  GET  /journal   the journal records so far
  GET  /requests  HTTP requests seen per node
  POST /faults    {"spec": "node=...,on=...,kind=..."} or {"specs": [...]}
  DELETE /faults  clear every fault
  POST /drift     one edit, or {"changes": [...]}: see drift.ACTIONS
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from .entities import SimError

if TYPE_CHECKING:
    from .server import Simulation


class ControlServer:
    def __init__(self, sim: Simulation, port: int) -> None:
        handler = type("Handler", (_Handler,), {"sim": sim})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        # shutdown() waits for the loop's next poll: a short one, or every simulation's stop would take 0.5 s
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="sim-control", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _Handler(BaseHTTPRequestHandler):
    sim: Simulation
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, payload: Any) -> None:
        body = json.dumps(payload, indent=1, default=str).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")

    def do_GET(self) -> None:
        routes: dict[str, Callable[[], Any]] = {
            "/state": self.sim.state, "/journal": self.sim.journal.records,
            "/requests": lambda: dict(self.sim.server.requests) if self.sim.server else {}}
        route = routes.get(self.path.split("?")[0])
        self._send(200, route()) if route else self._send(404, {"error": f"no such path {self.path}"})

    def do_DELETE(self) -> None:
        if self.path != "/faults":
            return self._send(404, {"error": f"no such path {self.path}"})
        self.sim.faults.clear()
        self._send(200, {"faults": []})

    def do_POST(self) -> None:
        try:
            body = self._body()
            if self.path == "/faults":
                for spec in body.get("specs") or [body.get("spec")]:
                    self.sim.add_fault(str(spec))
                return self._send(200, {"faults": self.sim.faults.snapshot()})
            if self.path == "/drift":
                return self._send(200, {"results": [self.sim.drift(c) for c in body.get("changes") or [body]]})
            self._send(404, {"error": f"no such path {self.path}"})
        except (ValueError, AttributeError) as exc:
            self._send(400, {"error": str(exc)})
        except SimError as exc:
            self._send(400, {"error": exc.message})


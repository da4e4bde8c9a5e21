"""The agent protocol: what enforcer and a node say to each other, in one leaf package.

Both ends depend on it and it depends on neither: the engine's transport
packs the agent and reads its answers; the simulator, which stands in for
Windows and never imports the engine, serves the same ops. So this package
imports nothing of enforcer outside itself, only the standard library
(and jsonschema, a test dependency, inside the contract checks).

- catalogue.json: every op, with JSON Schemas of its arguments and its answer.
- agent.py: the PowerShell agent (powershell/*.ps1) as it travels to a node.
- contract.py: checks a request or an answer against the catalogue.
- sealing.py: WinRM message encryption, used by both ends of the wire.
"""

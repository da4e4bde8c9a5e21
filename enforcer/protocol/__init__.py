"""The agent protocol: what enforcer and a node say to each other, in one leaf package.

Both ends depend on it and it depends on neither: the engine's transport
packs the agent and reads its answers; the simulator, which stands in for
Windows and never imports the engine, serves the same ops. So this package
imports nothing of enforcer outside itself, only the standard library.

- catalogue.json: every op enforcer may run on a node.
- agent.py: the PowerShell agent (powershell/*.ps1) as it travels to a node.
- sealing.py: WinRM message encryption, used by both ends of the wire.
"""

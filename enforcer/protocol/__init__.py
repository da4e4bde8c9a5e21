"""The agent protocol: what enforcer and a node say to each other, in one leaf package.

Both ends depend on it and it depends on neither: the engine's transport
and the simulator, which stands in for Windows and never imports the
engine, share it. So this package imports nothing of enforcer outside
itself, only the standard library.

- sealing.py: WinRM message encryption, used by both ends of the wire.
"""

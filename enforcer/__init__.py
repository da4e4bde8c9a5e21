"""enforcer: idempotent, ordered state enforcement for Windows failover clusters over WinRM."""

__version__ = "0.1.0"

"""`enforcer schedule`: the long-running loop, or a systemd timer that runs it once per tick."""

from __future__ import annotations

import argparse
import getpass
import hashlib
import re
import shlex
import shutil
import signal
import sys
import threading
from pathlib import Path

from ..console import Console
from ..errors import InputError
from ..lifecycle import Recorder
from ..schedule import Cadence, Schedule, Scheduler, parse_cron, parse_duration
from .common import EXIT_OK, load, options, writable

MIN_EVERY_S = 60.0


def _schedule(args: argparse.Namespace) -> Schedule:
    if bool(args.every) == bool(args.cron):
        raise InputError("schedule needs exactly one of --every DURATION or --cron EXPRESSION")
    if args.max_runs is not None and args.max_runs < 1:
        raise InputError(f"--max-runs must be at least 1, not {args.max_runs}")
    if args.metrics_file:
        writable(args.metrics_file)
    cadence = Cadence(every_s=parse_duration(args.every, "--every")) if args.every else Cadence(
        cron=parse_cron(args.cron))
    if cadence.every_s is not None and cadence.every_s < MIN_EVERY_S and args.max_runs is None \
            and not args.print_systemd:
        raise InputError(f"--every {args.every}: at least {MIN_EVERY_S:.0f}s between rounds (each reads every node; "
                         f"sooner would only load the cluster); a shorter one needs --max-runs, for a bounded test")
    return Schedule(options(args), cadence, args.mode, parse_duration(args.splay, "--splay"), args.max_runs,
                    args.metrics_file)


def cmd_schedule(args: argparse.Namespace, console: Console) -> int:
    schedule = _schedule(args)
    if args.print_systemd:
        console.out(systemd_units(args, schedule))
        return EXIT_OK
    load(args, console)  # every check before the first round: bad input fails now, with exit 4
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
    console.err(f"schedule: {args.mode} {args.playbook} on {args.inventory}, "
                + (f"every {args.every}" if args.every else f"cron '{args.cron}'") + (f", splay {args.splay}"))
    recorder = Recorder.open(console.redact, metrics_file=schedule.metrics_file)
    return Scheduler(schedule, recorder, console.err, stop).run()


def systemd_units(args: argparse.Namespace, schedule: Schedule) -> str:
    """A oneshot service running one round, and the timer that starts it, for users who prefer timers."""
    command = [shutil.which("enforcer") or f"{sys.executable} -m enforcer", "schedule",
               str(Path(args.playbook).resolve()), "-i", str(Path(args.inventory).resolve()), "--mode", args.mode,
               "--max-runs", "1", "--every", "0s"]
    if args.metrics_file:
        command += ["--metrics-file", str(Path(args.metrics_file).resolve())]
    for value in args.extra_vars:
        command += ["-e", value]
    if args.limit:
        command += ["--limit", args.limit]
    every_s = int(schedule.cadence.every_s or 60)
    timer = (f"OnCalendar={_on_calendar(schedule.cadence.cron)}" if schedule.cadence.cron else
             f"OnBootSec={every_s}s\nOnUnitActiveSec={every_s}s")
    unit = unit_name(args.mode, args.playbook, args.inventory)
    return f"""# /etc/systemd/system/{unit}.service
[Unit]
Description=enforcer {args.mode}: {args.playbook} on {args.inventory}
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
# The account whose state directory, history and credentials this is (not root, if you can help it)
User={getpass.getuser()}
# ENFORCER_PASSWORD=... (mode 0600); never put the password on the command line
EnvironmentFile=/etc/enforcer/environment
Environment=ENFORCER_STATE_DIR=/var/lib/enforcer
ExecStart={' '.join(shlex.quote(part) for part in command)}

# /etc/systemd/system/{unit}.timer
[Unit]
Description=enforcer {args.mode} timer: {args.playbook} on {args.inventory}

[Timer]
{timer}
RandomizedDelaySec={int(schedule.splay_s)}s
Persistent=true

[Install]
WantedBy=timers.target"""


def unit_name(mode: str, playbook: str, inventory: str) -> str:
    """One pair of units per playbook and inventory: their names, and a digest of their absolute paths (two
    `site.yml` in two folders stay two timers)."""
    paths = f"{Path(playbook).resolve()}\0{Path(inventory).resolve()}"
    stems = "-".join(re.sub(r"[^A-Za-z0-9_]+", "_", Path(p).stem) for p in (playbook, inventory))
    return f"enforcer-{mode}-{stems}-{hashlib.sha256(paths.encode()).hexdigest()[:8]}"


def _on_calendar(cron: str) -> str:
    """The common cron shapes in systemd's OnCalendar syntax; others are refused rather than guessed."""
    minute, hour, day, month, weekday = cron.split()
    if (day, month, weekday) != ("*", "*", "*"):
        raise InputError(f"--print-systemd: cron {cron!r} has a day, month or weekday field; write the timer's "
                         f"OnCalendar= by hand, or use --every")
    convert = {"*": "*"}.get
    return f"*-*-* {convert(hour) or hour.replace('*/', '0/')}:{convert(minute) or minute.replace('*/', '0/')}:00"

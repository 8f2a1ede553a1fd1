"""The task spec: ``%%sky`` flags, their checks, SkyPilot task files, and the resulting
:class:`Task` and :class:`Resources`."""

from jupyter_sky.spec.task import Resources, Task, apply_flags, parse_line, task_from_args

__all__ = ["Resources", "Task", "apply_flags", "parse_line", "task_from_args"]

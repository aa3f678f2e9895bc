"""Confinement: every run of student code goes through here. `sandbox` builds the bubblewrap sandbox (or,
without user namespaces, the uid mode) and runs a command or a Jupyter kernel in it; `launcher` is the
small trusted program, started by file path outside the sandbox, that holds the limits and reports what
it observed; `limits` describes those limits and how cgroups or rlimits enforce them; `sandbox_overhead`
measures what the sandbox adds (`python -m grading.instructor.confine.sandbox_overhead`).
"""

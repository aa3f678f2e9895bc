"""Judging: scoring, in the grader's own process, from the plain data the sandboxed runs wrote; nothing
here imports student code. `judge` scores Part 1's functions and trainings, `answers` Inline Questions 4-6,
`judge_faces` Part 2's functions; each item gets a `verdict`. `judged_grades` is the nbgrader pass that writes
the verdicts into the gradebook, and `trained` keeps each submission's trained GANs so that a re-grade of an
unchanged gan.py trains nothing.
"""

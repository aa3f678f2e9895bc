"""Judging: scoring, in the grader's own process, from the plain data the sandboxed runs wrote; nothing
here imports student code. `judge` scores Part 1's functions, trainings and Inline Questions,
`judge_faces` Part 2's functions, and `trained` keeps each submission's trained GANs so that a re-grade
of an unchanged gan.py trains nothing.
"""

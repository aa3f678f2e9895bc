"""What instructors run, grouped by stage: `autograde.py` (the command that grades a class) drives them all.

- intake/: submissions in (LMS exports, plain files only, notebooks rebuilt around the answer cells);
- confine/: the sandbox every run of student code goes through (bubblewrap or the uid mode, its launcher, limits);
- judging/: the trusted judges that score plain data, and the trained GANs kept for re-grades;
- outputs/: grades out (the nbgrader gradebook, Canvas, the Gradescope autograder) and the similarity report.
"""

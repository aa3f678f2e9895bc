"""Outputs: grades and reports out of the kit. `gradebook` merges each student's scores into the course's
nbgrader gradebook (one writer, manual grades kept); `lms` writes grades.csv's LMS columns and the file
Canvas imports; `gradescope` builds and runs the Gradescope autograder; `similarity` writes the copying
report.
"""

"""Intake: what students hand in, read safely. `submissions` finds each student's files in an LMS export
(Canvas, Moodle, Gradescope, or a folder per student; a folder or a .zip) and says why a row has none;
`plainfiles` unpacks and copies plain files only (no links, devices, FIFOs, hard links, oversized files
or escaping zip members); `normalize` rebuilds the graded notebook from the reference around the
student's answer cells, so a deleted, reordered or tampered cell costs only that cell.
"""

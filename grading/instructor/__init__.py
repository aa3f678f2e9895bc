"""What instructors run: autograde a class, the sandbox, the judge, LMS import and export, Gradescope."""

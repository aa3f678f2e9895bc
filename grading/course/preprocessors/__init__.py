"""nbgrader preprocessors of this course, one small pass per file (registered in nbgrader_config.py)."""

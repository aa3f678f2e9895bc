"""The grader's agent: the code that runs inside the grader's sandbox (the export of gan.py's functions, the
grader's training runs) and the autograde-time replay in the notebook. Students need not read it.
"""

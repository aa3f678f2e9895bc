"""The grader's agent: the code that runs inside the grader's sandbox (the export of gan.py's functions, the
grader's training runs) and the autograde-time replay in the notebook. Students need not read it.
"""

# The exit status of the grader's training run (export.py train) when a GAN after the first raised: the run ends there,
# and the grader trains that GAN and the ones after it again, with the time they would have had.
STOPPED_AFTER_ERROR = 4

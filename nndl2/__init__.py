"""Support files for GANs-PyTorch.ipynb: data, plots, training budgets and the image-quality evaluator.

Students use these as they are; the autograder restores this folder from the course's copy. The
subpackage nndl2/agent/ is the grader's own code, which runs in its sandbox: you need not read it.
"""

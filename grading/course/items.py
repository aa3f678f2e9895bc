"""The graded items as students read them: one title per grade id of the source notebook.

The feedback's summary, the Gradescope results and the grade table name items with these titles
(the function name, or the Inline Question and what it asks, as the notebook's headings say).
tests/test_feedback.py checks that every grade id of the source notebook has one.
"""

TITLES = {
    "test_sample_noise": "sample_noise",
    "test_discriminator": "discriminator",
    "test_generator": "generator",
    "test_discriminator_loss": "discriminator_loss",
    "test_generator_loss": "generator_loss",
    "test_get_optimizer": "get_optimizer",
    "test_inline_q1": "Inline Question 1: vanilla GAN samples",
    "test_ls_discriminator_loss": "ls_discriminator_loss",
    "test_ls_generator_loss": "ls_generator_loss",
    "test_inline_q2": "Inline Question 2: LSGAN samples",
    "test_dc_classifier": "build_dc_classifier",
    "test_dc_generator": "build_dc_generator",
    "test_inline_q3": "Inline Question 3: DCGAN samples",
    "test_inline_q4": "Inline Question 4: min-max value and the six updates",
    "test_inline_q5": "Inline Question 5: will we reach the optimum? (True/False)",
    "q5_justification": "Inline Question 5: why (graded by hand)",
    "test_inline_q6": "Inline Question 6: is it a good sign? (True/False)",
    "q6_justification": "Inline Question 6: why (graded by hand)",
}

# The graded functions of gan.py, by the grade id of their check cell: their titles are their names.
FUNCTION_ITEMS = {grade_id: title for grade_id, title in TITLES.items() if not title.startswith("Inline Question")}

PENDING = "to be graded by your TA"


def title(grade_id):
    from grading.course.part2 import TITLES as PART2_TITLES  # Part 2's items (graded when FACES_POINTS > 0)

    return TITLES.get(grade_id) or PART2_TITLES.get(grade_id, grade_id)

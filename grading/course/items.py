"""The graded items as students read them: one title per grade id of the source notebook.

The feedback's summary, the Gradescope results and the grade table name items with these titles
(the function name, or the Inline Question and what it asks, as the notebook's headings say). Both
names below are views of nndl2/items.py's table, the one list of the graded items.
"""

from nndl2.items import ITEMS, of_kind

TITLES = {item.grade_id: item.title for item in ITEMS}

# The graded functions of gan.py, by the grade id of their check cell.
FUNCTION_ITEMS = {item.grade_id: item.function for item in of_kind("function")}

PENDING = "to be graded by your TA"


def title(grade_id):
    from grading.course.part2 import TITLES as PART2_TITLES  # Part 2's items (graded when FACES_POINTS > 0)

    return TITLES.get(grade_id) or PART2_TITLES.get(grade_id, grade_id)

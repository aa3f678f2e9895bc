"""The one table of graded items (nndl2/items.py) against what it describes: the source notebook's graded
cells and their points, the solution's functions, the GANs the notebook trains."""

import inspect
import re
from unittest import mock

import nbformat
import pytest

from grading.instructor import autograde
from grading.kit import SOURCE_NOTEBOOK, load_solution
from nndl2 import items
from nndl2.agent import training
from nndl2.items import GANS, ITEMS, KINDS, of_kind, training_cell


def graded_cells(notebook):
    """[(grade id, points, graded by hand)] of a notebook's graded cells, in order (nbgrader's view)."""
    found = []
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade"):
            by_hand = cell.cell_type == "markdown" or bool(meta.get("solution"))
            found.append((meta["grade_id"], meta["points"], by_hand))
    return found


def table():
    return [(item.grade_id, item.points, item.hand_graded) for item in ITEMS]


@pytest.fixture(scope="module")
def cells():
    return {cell.metadata.get("nbgrader", {}).get("grade_id"): cell for cell in nbformat.read(SOURCE_NOTEBOOK, 4).cells}


def mentions(source, name):
    return re.search(rf"\b{re.escape(name)}\b", source) is not None


def test_the_table_is_the_notebooks_graded_cells_in_order_with_their_points():
    assert table() == graded_cells(nbformat.read(SOURCE_NOTEBOOK, 4))


def test_a_point_changed_in_the_notebook_alone_is_found():
    notebook = nbformat.read(SOURCE_NOTEBOOK, 4)
    cell = next(c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_inline_q4")
    cell.metadata["nbgrader"]["points"] = 2
    assert table() != graded_cells(notebook)


def test_grades_csv_columns_are_the_tables_items():
    # grades.csv, the feedback and Gradescope's results list the gradebook's items (autograde.graded_items):
    # with Part 2 and the optional reflections ungraded, they are the table's, autograded unless by hand.
    part1 = [(i.grade_id, float(i.points), not i.hand_graded) for i in ITEMS]
    assert autograde.graded_items()[: len(ITEMS)] == part1


def test_every_item_has_the_fields_of_its_kind():
    assert {item.kind for item in ITEMS} == set(KINDS)
    assert len(items.BY_ID) == len(ITEMS)
    for item in ITEMS:
        assert (item.function is not None) == (item.kind == "function"), item
        assert (item.question is not None) == (item.kind != "function"), item
        assert (item.gan is not None) == (item.kind == "quality"), item
        if item.question is not None:
            assert item.title.startswith(f"Inline Question {item.question}:"), item
        else:
            assert item.title == item.function, item


def test_every_function_item_is_a_function_of_the_solution_its_check_calls(cells):
    solution = load_solution()
    for item in of_kind("function"):
        assert inspect.isfunction(getattr(solution, item.function, None)), item
        assert mentions(cells[item.grade_id].source, item.function), item
    assert len(items.FUNCTIONS) == len(set(items.FUNCTIONS)) == 10


def test_a_losss_arguments_are_the_solutions_parameters():
    """The judge names a loss's arguments in its messages (and the export passes that many tensors)."""
    solution = load_solution()
    losses = {item.function: item.loss for item in of_kind("function") if item.function.endswith("_loss")}
    assert set(items.LOSSES) == set(losses) and all(losses.values())
    for name, loss in losses.items():
        assert tuple(inspect.signature(getattr(solution, name)).parameters) == loss.arguments, name
        assert items.LOSSES[name] is loss and loss.arity == len(loss.arguments) and loss.formula


def test_each_gan_has_one_inline_question_its_cells_and_graded_functions(cells):
    assert training.GANS == tuple(GANS) == tuple(item.gan for item in of_kind("quality"))
    for gan, made in GANS.items():
        item = items.quality_item(gan)
        assert f'"{gan}"' in cells[item.grade_id].source, item  # the check reports that GAN
        trains = cells[training_cell(gan)].source
        for function in made.functions:
            assert function in items.FUNCTIONS, (gan, function)
            assert mentions(trains, function), (gan, function)  # the notebook's training cell uses it


def test_build_gan_builds_each_gan_with_the_tables_functions():
    for gan, made in GANS.items():
        module = mock.Mock()
        D, G, d_loss, g_loss = training.build_gan(gan, module)
        assert D is getattr(module, made.discriminator).return_value, gan
        assert G is getattr(module, made.generator).return_value, gan
        assert (d_loss, g_loss) == (getattr(module, made.discriminator_loss), getattr(module, made.generator_loss))


def test_answer_and_hand_items_name_their_cells(cells):
    for item in of_kind("answer"):
        assert "### BEGIN SOLUTION" in cells[item.answer_cell].source, item  # the judge's right answer
        assert f'save_answers("q{item.question}"' in cells[item.grade_id].source, item
    questions = [item.question for item in ITEMS if item.question is not None]
    assert sorted(set(questions)) == list(range(1, 7))
    for item in of_kind("hand"):
        assert items.BY_ID[f"test_inline_q{item.question}"].kind == "answer", item  # a why beside its answer

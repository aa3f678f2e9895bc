"""Autograde pass: the notebook's training cells show the grader's own training run instead of training again.

Inline Questions 1-3 are graded from a training run of the submission's gan.py that the grader
starts itself, outside the notebook (`python -m nndl2.agent.export train`). Training the same GANs a
second time in the notebook would double the grading time and could show other samples than the
ones graded. So, for each training cell named in `replay_cells`, this pass first runs one silent
line in the kernel that points the name `run_a_gan` at nndl2.agent.replay.replayer(<gan>) (which loads the
grader's trained weights into the cell's D and G and returns its history and grids), runs the cell
as it is, and then points `run_a_gan` back at nndl2.training.run_a_gan. The cell's source is not
changed; its output says what happened. Without `replay` (the default: formgrader, run by hand) the
cells train as written. It runs the notebook as LimitedExecute does (output caps, deadline, dead kernel).
"""

from nbclient.util import ensure_async, run_sync
from traitlets import Bool, Dict

from grading.course.preprocessors.limited_execute import LimitedExecute
from nndl2.items import GANS, training_cell


class ReplayTraining(LimitedExecute):
    replay = Bool(False, help="Replay the grader's training run in the cells of replay_cells.").tag(config=True)
    replay_cells = Dict(
        {training_cell(gan): gan for gan in GANS},
        help="grade id of a training cell -> the GAN of the grader's training run it shows",
    ).tag(config=True)

    async def run_silently(self, code):
        """Run `code` in the kernel without output, history or effect on the cells' outputs."""
        msg_id = await ensure_async(self.kc.execute(code, silent=True, store_history=False))
        await self.async_wait_for_reply(msg_id)

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        gan = self.replay_cells.get(cell.metadata.get("nbgrader", {}).get("grade_id")) if self.replay else None
        if gan is None:
            return await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        await self.run_silently(f"from nndl2.agent.replay import replayer as _r; run_a_gan = _r({gan!r}); del _r")
        cell = await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        await self.run_silently("from nndl2.training import run_a_gan")  # not reached if the kernel died
        return cell

    # nbclient binds execute_cell to its own async_execute_cell (run_sync at class level): rebind it here,
    # or the override above never runs and the notebook trains again.
    execute_cell = run_sync(async_execute_cell)

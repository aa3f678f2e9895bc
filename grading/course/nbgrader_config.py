# nbgrader configuration of the GANs-PyTorch course (nbgrader 0.9.x).
# The tools in grading/ copy this file into the working course they build; see README.md.
c = get_config()  # noqa: F821 (provided by nbgrader)

c.CourseDirectory.course_id = "gans-pytorch"
# Never copy downloaded MNIST or caches into releases, and never restore them at autograde.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "MNIST", "*.npy"]

# Students edit gan.py and submit it beside the notebook: autograde must grade THEIR copy and not
# overwrite it with the course's (nbgrader issue #940). Every other kit file (nndl2/: checks,
# evaluator weights, budgets) is restored from the course's copy.
c.Autograde.exclude_overwriting = {"GANs-PyTorch": ["gan.py"]}


# A runaway cell is interrupted at its timeout (Execute.timeout: set below, from the kit's settings).
c.Execute.interrupt_on_timeout = True

# Python warnings (a torch deprecation, say) are not the student's error: strip them from the outputs
# the feedback shows (the scores never come from outputs: JudgedGrades below).
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"^(.*\n)?[^\n]*:\d+: \w*Warning: "

c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# The course's own preprocessors and templates (grading/course/) come from the kit. When a kit tool
# builds a course (grading/course/__init__.py), it writes the kit's folder into KIT_ROOT below, so
# nbgrader finds them however it is started: by the kit, or by a TA running formgrader in the course
# folder. Students' kernels never get the kit on their path.
import os  # noqa: E402
import sys  # noqa: E402

KIT_ROOT = os.environ.get("GAN_KIT_ROOT", "")  # build_course writes the kit's path here

if KIT_ROOT:
    sys.path.insert(0, KIT_ROOT)
    from grading.kit import SUBMISSION_TIMEOUT

    # No cell runs longer than a whole submission may (the default time budget, stated once in
    # grading/kit.py); the kit's autograde also gives each notebook its own deadline
    # (LimitedExecute.deadline, below), which shortens every cell's timeout to the time left.
    c.Execute.timeout = SUBMISSION_TIMEOUT

    # Submissions reach nbgrader already rebuilt from the release around the student's answers
    # (grading/instructor/intake/normalize.py), so nbgrader's own sanitizing passes find every cell in place.
    # At autograde, the training cells replay the grader's own training run of the submission's gan.py
    # (grading/course/preprocessors/replay_training.py; `--ReplayTraining.replay=True`, which the
    # kit's autograde passes). ReplayTraining is a LimitedExecute (limited_execute.py): bytes of output
    # per cell and per notebook, a deadline, a dead kernel that leaves the notebook and its grades
    # written. Then no grader path, host name or environment value, and no active HTML, JavaScript or
    # link in any output or markdown, reaches feedback or formgrader. The scores are the judge's verdicts
    # (grading/instructor/judging/judged_grades.py, in the place of nbgrader's SaveAutoGrades: it judges the
    # answers the kernel exported, and no output of the kernel scores). The other passes are nbgrader's.
    # Before that, nbgrader's sanitizing passes, ClearOutput replaced by KeepOutputs (keep_outputs.py): Part 2's
    # notebook is never run by the grader, so its outputs (the student's generated faces) are the student's.
    c.Autograde.sanitize_preprocessors = [
        "grading.course.preprocessors.keep_outputs.KeepOutputs",
        "nbgrader.preprocessors.DeduplicateIds",
        "nbgrader.preprocessors.OverwriteKernelspec",
        "nbgrader.preprocessors.OverwriteCells",
        "nbgrader.preprocessors.CheckCellMetadata",
    ]
    c.Autograde.autograde_preprocessors = [
        "grading.course.preprocessors.replay_training.ReplayTraining",
        "grading.course.preprocessors.scrub_host_details.ScrubHostDetails",
        "grading.course.preprocessors.sanitize_notebook.SanitizeNotebook",
        "nbgrader.preprocessors.IgnorePattern",
        "nbconvert.preprocessors.ClearMetadataPreprocessor",
        "nbgrader.preprocessors.LimitOutput",
        "grading.instructor.judging.judged_grades.JudgedGrades",
        "nbgrader.preprocessors.AssignLatePenalties",
        "nbgrader.preprocessors.CheckCellMetadata",
    ]
    c.LimitedExecute.max_output_bytes = 1 << 20
    c.HTMLExporter.sanitize_html = True  # feedback: nbconvert's own cleaning as well

    # Feedback: a summary of every item first (the grader's verdict on each, "to be graded by your TA"
    # until a TA has), then the notebook; neither hidden tests (should a TA add some) nor tracebacks
    # that quote them. The template extends nbgrader's own feedback template.
    c.GenerateFeedback.preprocessors = [
        "nbgrader.preprocessors.GetGrades",
        "grading.course.preprocessors.feedback_summary.FeedbackSummary",
        "nbgrader.preprocessors.ClearHiddenTests",
        "grading.course.preprocessors.hide_test_details.HideTestDetails",
        "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
    ]
    import nbgrader  # noqa: E402

    c.HTMLExporter.template_name = "gan-kit-feedback"  # based on nbgrader's "feedback" (its conf.json)
    c.HTMLExporter.template_file = "gan_kit_feedback.html.j2"
    c.HTMLExporter.extra_template_basedirs = [
        os.path.join(os.path.dirname(nbgrader.__file__), "server_extensions", "formgrader", "templates"),
        os.path.join(KIT_ROOT, "grading", "course", "templates"),
    ]

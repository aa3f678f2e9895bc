"""Where your files live, and which notebook you are looking at: in Colab, Jupyter and VS Code alike.

    describe_workspace()          the first cell prints where gan.py and the notebook live, warns when your
                                  edits would be lost with a Colab runtime, and says how to get them out
    live_notebook(globals())      the notebook you are looking at, as a dict: in Colab the notebook open in
                                  the browser (with its outputs); in Jupyter or VS Code the file it was
                                  last saved to

In Colab, CONTENT (/content) is the runtime's own disk: it is deleted, with everything you put or edited
there, when the runtime is recycled (after some idle time, or at the end of a session). Google Drive,
mounted at CONTENT/drive, keeps your files.
"""

import json
import os
import sys
from pathlib import Path

CONTENT = Path("/content")  # Colab's working folder, on the runtime's own disk
NOTEBOOK = "GANs-PyTorch.ipynb"
RECIPE = (
    "Keep your work on Google Drive instead: put the unzipped GANs-PyTorch folder in your Drive, open\n"
    "GANs-PyTorch.ipynb from there (Open with > Google Colaboratory) and set DRIVE_FOLDER in the first\n"
    'code cell to its folder (e.g. "MyDrive/GANs-PyTorch").'
)


def in_colab():
    """True in a Colab runtime (the google.colab module is loaded there from the start)."""
    return "google.colab" in sys.modules


def route(folder=".", content=CONTENT):
    """Where the files are: "drive" (Colab, on Google Drive), "runtime" (Colab, on the runtime's disk) or "local"."""
    if not in_colab():
        return "local"
    folder, content = Path(folder).resolve(), Path(content).resolve()
    drive = content / "drive"
    if folder == drive or drive in folder.parents:
        return "drive"
    return "runtime"


def describe_workspace(folder=".", content=CONTENT):
    """Print where the student's files live and how to get them out for submission; returns route()."""
    where = route(folder, content)
    folder = Path(folder).resolve()
    if where == "drive":
        print(
            f"Your files live on Google Drive, in {folder}: your edits to gan.py are saved there.\n"
            "Edit gan.py in Colab's Files panel (the folder icon on the left: drive > ... > gan.py, double-click)\n"
            "or anywhere else, and save it; this notebook reloads it. This notebook itself is saved to Drive when\n"
            "you opened it from Drive (File > Save, or Ctrl+S).\n"
            "To submit: save (Ctrl+S), then download gan.py and GANs-PyTorch.ipynb from that Drive folder\n"
            "(drive.google.com: right-click > Download), or with the last cell, download_submission(globals())."
        )
    elif where == "runtime":
        print(
            f"WARNING: your files are in {folder}, on this Colab runtime's own disk. Everything there, your\n"
            "edits to gan.py included, is DELETED when the runtime is recycled (after some idle time, or when\n"
            "you close the session), and so is this notebook if you opened it from an upload.\n"
            f"{RECIPE}\n"
            "If you go on here, download gan.py (Files panel: right-click > Download) and the notebook (File >\n"
            "Download > Download .ipynb) before you leave, or with the last cell, download_submission(globals())."
        )
    else:
        print(
            f"Working in {folder}: gan.py and {NOTEBOOK} are files here. Submit those two files\n"
            "(save the notebook with its outputs first)."
        )
    return where


def notebook_file(namespace=None, folder="."):
    """The notebook file this kernel runs, where the front end says so (VS Code, Jupyter), else the one in `folder`.

    VS Code puts the notebook's path in the kernel's `__vsc_ipynb_file__`; Jupyter Server gives the kernel
    its session's path in $JPY_SESSION_NAME (ipykernel copies it to `__session__`). Without either (an older
    Jupyter, another front end) it is `folder`/GANs-PyTorch.ipynb.
    """
    namespace = namespace or {}
    for name in (namespace.get("__vsc_ipynb_file__"), namespace.get("__session__"), os.environ.get("JPY_SESSION_NAME")):
        if not isinstance(name, str) or not name.endswith(".ipynb"):
            continue
        for path in (Path(name), Path(folder) / name, Path(folder) / Path(name).name):
            if path.is_file():
                return path
    return Path(folder) / NOTEBOOK


def live_notebook(namespace=None, folder=".", timeout=60):
    """(notebook, where): the notebook the student is looking at, and a description of it.

    In Colab, notebook is a dict: the notebook open in the browser, with its current outputs, straight from
    the front end (google.colab._message's "get_ipynb" request), wherever the notebook is stored. Elsewhere
    it is the Path of notebook_file(), the notebook as last saved (read it with read_notebook). None when
    there is no notebook to read (then `where` says why).
    """
    if in_colab():
        try:
            from google.colab import _message

            reply = _message.blocking_request("get_ipynb", request="", timeout_sec=timeout)
        except Exception as error:  # an old or unusual Colab front end: fall back to the saved file
            reply = {"error": error}
        notebook = reply.get("ipynb") if isinstance(reply, dict) else None
        if isinstance(notebook, dict):
            return notebook, "the notebook open in Colab"
    path = notebook_file(namespace, folder)
    if not path.is_file():
        return None, f"{NOTEBOOK} is not in {Path(folder).resolve()}"
    return path, f"the saved notebook {path.resolve()}"


def read_notebook(path):
    """The notebook dict saved at `path`, or raise ValueError."""
    try:
        notebook = json.loads(Path(path).read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise ValueError("not a readable notebook") from None
    if not isinstance(notebook, dict):
        raise ValueError("not a readable notebook")
    return notebook

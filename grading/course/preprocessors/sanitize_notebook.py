"""Autograde pass: nothing a student's kernel or markdown produced can run in a TA's browser.

The autograded notebook is rendered by nbgrader's formgrader (in the TA's session) and by the
feedback HTML. nbconvert's HTMLExporter.sanitize_html (set too, for the feedback) cleans outputs and
the classic template's markdown, but formgrader's own markdown block renders cell sources as they
are, and templates write some metadata into attributes unescaped. So the notebook itself is made
inert, whatever renders it:

- outputs are rebuilt from scratch: streams (stdout/stderr), errors, and display data reduced to
  text/plain, image/png and image/jpeg whose base64 decodes to a real PNG/JPEG; everything else
  (text/html, JavaScript, SVG, widgets, LaTeX, markdown, JSON...) is dropped and named in a
  text/plain note; output metadata keeps only integer image sizes;
- markdown cells cannot carry raw HTML, entities or links other than http(s)/mailto/attachment:
  a "<" that would open a tag gets a space after it ("< script>"), an entity-like "&" becomes
  "&amp;", and a link whose destination has another scheme (javascript:, data:, vbscript:...)
  has its "](" escaped. Markdown without HTML or such links (the course's own) is left as it is;
- raw cells are HTML-escaped (HTMLExporter renders raw cells without a mimetype as HTML);
- markdown attachments keep only valid PNG/JPEG images; cell tags keep only [A-Za-z0-9_-];
- notebook metadata keeps only kernelspec and language_info (no widget state, no title).
"""

import base64
import binascii
import html
import re

from nbconvert.preprocessors import Preprocessor
from nbformat import NotebookNode
from traitlets import Bool

IMAGES = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff"}
SAFE_SCHEMES = {"http", "https", "mailto", "attachment"}
TAG = re.compile(r"<(?=[A-Za-z/!?])")  # what could open an HTML tag, comment, declaration or autolink
ENTITY = re.compile(r"&(?=#[0-9]+;|#[xX][0-9a-fA-F]+;|[A-Za-z][A-Za-z0-9]*;)")
INLINE_LINK = re.compile(r"\]\((?P<dest>[^)]*)")
REFERENCE = re.compile(r"^(?P<indent> {0,3})\[(?P<label>[^\]]+)\]:[ \t]*(?P<dest>\S+)", re.MULTILINE)
SCHEME = re.compile(r"^([a-z][a-z0-9+.\-]*):")
SAFE_NAME = re.compile(r"^[\w.\-]+$")
SAFE_TAG = re.compile(r"[^A-Za-z0-9_\-]")


def unsafe_destination(destination):
    """True when a link destination names a scheme other than http(s), mailto or attachment."""
    normalized = re.sub(r"[\x00-\x20\x7f\\<>]", "", destination).lower()
    match = SCHEME.match(normalized)
    return bool(match) and match.group(1) not in SAFE_SCHEMES


def inert_markdown(source):
    """`source` with no raw HTML, no entities and no link to an unsafe scheme (else unchanged)."""
    source = ENTITY.sub("&amp;", source)
    source = TAG.sub("< ", source)

    def inline(match):
        return "]\\(" + match.group("dest") if unsafe_destination(match.group("dest")) else match.group(0)

    def reference(match):
        return "\\" + match.group(0).lstrip(" ") if unsafe_destination(match.group("dest")) else match.group(0)

    source = INLINE_LINK.sub(inline, source)
    return REFERENCE.sub(reference, source)


def valid_image(mimetype, value):
    """The base64 text of a real PNG/JPEG, or None."""
    if not isinstance(value, str):
        return None
    text = re.sub(r"\s", "", value)
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return text if raw.startswith(IMAGES[mimetype]) else None


def clean_json(value, depth=0):
    """Plain JSON values only (str, numbers, bools, None, lists, dicts with str keys), bounded in depth."""
    if depth > 8:
        return None
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, list):
        return [clean_json(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {str(k): clean_json(v, depth + 1) for k, v in value.items()}
    return None


def text(value):
    """Output text as nbformat stores it (a string or a list of strings), as one string."""
    if isinstance(value, list):
        return "".join(str(v) for v in value)
    return value if isinstance(value, str) else str(value)


def clean_output(output):
    """A rebuilt output holding only inert content, or None to drop it."""
    kind = output.get("output_type")
    if kind == "stream":
        name = output.get("name") if output.get("name") in ("stdout", "stderr") else "stdout"
        return NotebookNode(output_type="stream", name=name, text=text(output.get("text", "")))
    if kind == "error":
        traceback = output.get("traceback") or []
        return NotebookNode(
            output_type="error",
            ename=text(output.get("ename", "Error")),
            evalue=text(output.get("evalue", "")),
            traceback=[text(line) for line in (traceback if isinstance(traceback, list) else [traceback])],
        )
    if kind not in ("display_data", "execute_result"):
        return None
    data, kept, metadata = output.get("data"), {}, {}
    data = data if isinstance(data, dict) else {}  # a submitted notebook's outputs may be any JSON
    given = output.get("metadata") if isinstance(output.get("metadata"), dict) else {}
    for mimetype in IMAGES:
        image = valid_image(mimetype, data.get(mimetype))
        if image:
            kept[mimetype] = image
            size = given.get(mimetype) or {}
            sizes = (
                {k: v for k, v in size.items() if k in ("width", "height") and type(v) is int}
                if isinstance(size, dict)
                else {}
            )
            if sizes:
                metadata[mimetype] = sizes
    if "text/plain" in data:
        kept["text/plain"] = text(data["text/plain"])
    dropped = sorted(set(data) - set(kept))
    if dropped and "text/plain" not in kept:
        kept["text/plain"] = f"[{', '.join(dropped)} output not shown]"
    clean = NotebookNode(output_type=kind, data=NotebookNode(kept), metadata=NotebookNode(metadata))
    if kind == "execute_result":
        count = output.get("execution_count")
        clean.execution_count = count if type(count) is int else None
    return clean


class SanitizeNotebook(Preprocessor):
    enabled = Bool(True, help="nbconvert's preprocessors are off unless enabled").tag(config=True)

    def preprocess(self, nb, resources):
        metadata = {key: clean_json(nb.metadata[key]) for key in ("kernelspec", "language_info") if key in nb.metadata}
        nb.metadata = NotebookNode(metadata)
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, index):
        tags = cell.metadata.get("tags")
        if tags is not None:
            cell.metadata["tags"] = [SAFE_TAG.sub("", str(tag)) for tag in tags] if isinstance(tags, list) else []
        if cell.cell_type == "code":
            cell.outputs = [o for o in (clean_output(output) for output in cell.get("outputs", [])) if o is not None]
            if type(cell.get("execution_count")) is not int:
                cell.execution_count = None
        elif cell.cell_type == "markdown":
            cell.source = inert_markdown(text(cell.source))
            if "attachments" in cell:
                attachments = {}
                for name, bundle in (cell.attachments or {}).items():
                    images = {m: valid_image(m, (bundle or {}).get(m)) for m in IMAGES}
                    images = {m: v for m, v in images.items() if v}
                    if images and SAFE_NAME.match(str(name)):
                        attachments[str(name)] = images
                cell.attachments = NotebookNode(attachments)
        elif cell.cell_type == "raw":
            cell.source = html.escape(text(cell.source))
            cell.metadata.pop("format", None)
            cell.metadata.pop("raw_mimetype", None)
        return cell, resources

"""Read what students hand in as plain files only: unpack an export, walk it, copy one file out of it.

Everything below an export is someone else's: a submission may hold a symbolic link to the kit's
solution, a FIFO that blocks a reader forever, a device, a hard link, a 10 GB file, or a zip member
named "../../.bashrc". So (issue 10, point 4):

- nothing here follows a symbolic link: folders are listed with `os.scandir` and `lstat`, never entered
  through a link, and a file is opened with O_NOFOLLOW on every path component (`open_plain`);
- only regular files with one name (no hard links) and below a size limit are ever read; the reason
  for every refusal is a short sentence the grader can put in that student's row;
- an archive is unpacked member by member: members that are links, devices, absolute paths, contain
  "..", or are encrypted are not written (each is listed, with its reason, in `REFUSED_MANIFEST` so
  that `collect` can put it in the right student's row); the whole archive is refused (`UnsafeArchive`)
  only when it is unsafe as a whole: not a zip, more members or more bytes than the limits.
"""

import errno
import json
import os
import re
import stat
import unicodedata
import zipfile
from pathlib import Path

from nndl2.submit import LIMITS as SUBMISSION_LIMITS

MB = 2**20
# The largest file of each kind the grader reads. The reference notebook with every output is ~50 kB
# and a Colab run with all its figures a few MB; gan.py is ~10 kB. Anything larger is refused, not read.
LIMITS = SUBMISSION_LIMITS  # nndl2/submit.py: the same limits students check against before they submit
MAX_ARCHIVE_BYTES = 8 * 2**30  # an export of 300 students x 20 MB fits; a zip bomb does not
MAX_MEMBERS = 200_000  # members in one archive
MAX_ENTRIES = 10_000  # files and folders looked at inside one submission
MAX_DEPTH = 16  # folders below a submission's top that are searched
REFUSED_MANIFEST = ".gan-kit-refused-members.json"  # written by unpack, read by collect
IGNORED = re.compile(r"^(\..*|__MACOSX|__pycache__)$")  # dot-files, .ipynb_checkpoints, macOS and Python debris
CHUNK = 1 << 16


class Refused(ValueError):
    """A file the grader will not read; the message is the reason, one short sentence."""


class UnsafeArchive(ValueError):
    """An archive refused as a whole: nothing of it was graded."""


def quote(text, limit=80):
    """`text` quoted on one line for a reason or a log: control and bidi characters escaped, long text cut."""
    text = str(text)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    out = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp", "Cs"):
            out.append(f"\\u{ord(char):04x}" if ord(char) <= 0xFFFF else f"\\U{ord(char):08x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def size_text(size):
    """A limit in words: "50 MB", "8 GB", "12 kB"."""
    for unit, scale in (("GB", 2**30), ("MB", MB), ("kB", 2**10)):
        if size >= scale:
            return f"{size / scale:g} {unit}"
    return f"{size} bytes"


def kind_of(mode):
    """What a non-regular file is, in words."""
    for test, words in (
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return words
    return "not a regular file"


def refusal(path, st, limit, root):
    """Why the file at `path` (its lstat `st`) must not be read, or None when it is a plain file.

    `root` is the export folder (resolved): a plain file reached without following links is inside it,
    and its real path is checked too, in case a folder above it was replaced by a link meanwhile.
    """
    if stat.S_ISLNK(st.st_mode):
        return "it is a symbolic link (not followed, not read)"
    if not stat.S_ISREG(st.st_mode):
        return f"it is {kind_of(st.st_mode)}, not a regular file"
    if st.st_nlink > 1:
        return f"it is a hard link (one file with {st.st_nlink} names, possibly outside the export)"
    if st.st_size > limit:
        return f"it is {st.st_size:,} bytes, over the {size_text(limit)} limit"
    if not Path(os.path.realpath(path)).is_relative_to(root):
        return "its real path is outside the export"
    return None


def walk(folder, max_entries=MAX_ENTRIES, max_depth=MAX_DEPTH):
    """([(relative parts, lstat)], [problems]) for everything below `folder`, links never followed.

    Ignored names (dot-files, .ipynb_checkpoints, __MACOSX, __pycache__) are skipped with what is below
    them. Folders are entered only when they are real folders (lstat), never through a link.
    """
    entries, problems = [], []
    stack = [(Path(folder), ())]
    while stack:
        current, parts = stack.pop()
        try:
            with os.scandir(current) as listing:
                children = sorted(listing, key=lambda entry: entry.name)
        except OSError as error:
            problems.append(f"folder {quote('/'.join(parts) or '.')} could not be listed ({error.strerror})")
            continue
        for child in children:
            if IGNORED.match(child.name):
                continue
            if len(entries) >= max_entries:
                problems.append(f"more than {max_entries} files and folders: stopped looking")
                return sorted(entries, key=lambda e: e[0]), problems
            try:
                st = child.stat(follow_symlinks=False)
            except OSError as error:
                problems.append(f"{quote('/'.join((*parts, child.name)))} could not be read ({error.strerror})")
                continue
            entries.append(((*parts, child.name), st))
            if stat.S_ISDIR(st.st_mode):
                if len(parts) + 1 >= max_depth:
                    problems.append(f"folder {quote('/'.join((*parts, child.name)))} is too deep: not searched")
                else:
                    stack.append((Path(child.path), (*parts, child.name)))
    return sorted(entries, key=lambda e: e[0]), problems


def open_plain(path, root=None):
    """A read-only descriptor on the regular file `path`, never through a link; raises Refused.

    With `root`, `path` must lie below it and every folder between them is opened with O_NOFOLLOW too
    (a link anywhere on the way is refused); without it, only the last component is checked. FIFOs and
    devices are opened non-blocking (a FIFO cannot hang the grader) and then refused by fstat.
    """
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    path = Path(path)
    try:
        if root is None:
            fd = os.open(path, flags)
        else:
            parts = path.relative_to(root).parts
            if not parts or ".." in parts:
                raise Refused(f"{quote(path)} is not a file below {quote(root)}")
            folder = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
            try:
                for part in parts[:-1]:
                    inner = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=folder)
                    os.close(folder)
                    folder = inner
                fd = os.open(parts[-1], flags, dir_fd=folder)
            finally:
                os.close(folder)
    except Refused:
        raise
    except ValueError as error:  # relative_to: not below root
        raise Refused(f"{quote(path)} is not below {quote(root)}") from error
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.ENOTDIR):
            raise Refused(f"{quote(path.name)}: a symbolic link on its path (not followed, not read)") from error
        raise Refused(f"{quote(path.name)} could not be opened ({error.strerror})") from error
    return fd


def copy_plain(source, destination, limit, root=None):
    """Copy the regular file `source` to `destination`, never following a link; returns the bytes copied.

    Refuses (Refused, with the reason) a link, a FIFO, a device, a hard link, or a file over `limit`
    bytes, checked on the open descriptor, and stops if the file grows past `limit` while being read.
    `destination` is created anew (an existing file or link there is removed first, never written through).
    """
    fd = open_plain(source, root)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise Refused(f"{quote(Path(source).name)} is {kind_of(st.st_mode)}, not a regular file")
        if st.st_nlink > 1:
            raise Refused(f"{quote(Path(source).name)} is a hard link ({st.st_nlink} names for one file)")
        if st.st_size > limit:
            raise Refused(f"{quote(Path(source).name)} is {st.st_size:,} bytes, over the {size_text(limit)} limit")
        destination = Path(destination)
        if os.path.lexists(destination):
            os.unlink(destination)
        out = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        copied = 0
        try:
            while chunk := os.read(fd, CHUNK):
                copied += len(chunk)
                if copied > limit:
                    raise Refused(f"{quote(Path(source).name)} grew past the {size_text(limit)} limit while copied")
                os.write(out, chunk)
        except Refused:
            os.close(out)
            out = None
            os.unlink(destination)
            raise
        finally:
            if out is not None:
                os.close(out)
        return copied
    finally:
        os.close(fd)


def member_name(member):
    """The member's name as its author meant it: zips without the UTF-8 flag often hold UTF-8 anyway."""
    name = member.filename
    if not member.flag_bits & 0x800:
        try:
            name = name.encode("cp437").decode("utf-8")
        except UnicodeError:
            pass
    return name


def member_refusal(member, name):
    """Why this zip member must not be unpacked, or None; and its safe path parts."""
    mode = member.external_attr >> 16
    if member.create_system == 3 and stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
        return f"it is {kind_of(mode)}", ()
    if member.flag_bits & 0x1:
        return "it is encrypted", ()
    if "\x00" in name:
        return "its name holds a NUL character", ()
    name = name.replace("\\", "/")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "its path is absolute", ()
    parts = tuple(part for part in name.split("/") if part not in ("", "."))
    if ".." in parts:
        return 'its path contains ".."', ()
    if not parts:
        return "its name is empty", ()
    if parts == (REFUSED_MANIFEST,):
        return "its name is the one the kit keeps for its list of refused members", ()
    return None, parts


def unpack(archive, folder, max_bytes=MAX_ARCHIVE_BYTES, max_members=MAX_MEMBERS):
    """Unpack the zip `archive` into `folder` (made if needed) safely; returns `folder` as a Path.

    Unsafe members are not written: each is listed with its reason in folder/REFUSED_MANIFEST, which
    `collect` turns into a problem on the row of the student the member belongs to. Raises UnsafeArchive
    (nothing written) when the archive is not a readable zip or is over `max_members` / `max_bytes`.
    Files are written 0644 (no execute or set-id bits), folders 0755, each file with O_EXCL|O_NOFOLLOW.
    """
    folder = Path(folder)
    try:
        zipped = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as error:
        raise UnsafeArchive(f"{archive} is not a readable zip archive ({error}): refused, nothing unpacked") from error
    with zipped:
        members = zipped.infolist()
        declared = sum(member.file_size for member in members)
        if len(members) > max_members:
            raise UnsafeArchive(
                f"{archive} has {len(members)} members, over the limit of {max_members}: refused, nothing unpacked"
            )
        if declared > max_bytes:
            raise UnsafeArchive(
                f"{archive} unpacks to {declared:,} bytes, over the {size_text(max_bytes)} limit: "
                "refused, nothing unpacked"
            )
        folder.mkdir(parents=True, exist_ok=True)
        refused = []
        for member in members:
            name = member_name(member)
            reason, parts = member_refusal(member, name)
            if reason is None:
                reason = _extract(zipped, member, folder, parts)
            if reason is not None:
                refused.append({"member": name, "reason": reason})
        if refused:
            manifest = os.open(folder / REFUSED_MANIFEST, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
            with os.fdopen(manifest, "w") as f:
                json.dump(refused, f, ensure_ascii=False, indent=1)
    return folder


def _extract(zipped, member, folder, parts):
    """Write one member below `folder`; returns why it was not written, or None."""
    target = folder
    try:
        for part in parts[:-1] if not member.is_dir() else parts:
            target = target / part
            try:
                target.mkdir(mode=0o755)
            except FileExistsError:
                if not stat.S_ISDIR(os.lstat(target).st_mode):
                    return f"its folder {quote(part)} is also a file in the archive"
        if member.is_dir():
            return None
        target = target / parts[-1]
        try:
            out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        except FileExistsError:
            return "another member has the same name"
        failed = None
        with os.fdopen(out, "wb") as sink:
            try:
                with zipped.open(member) as source:
                    while chunk := source.read(CHUNK):
                        sink.write(chunk)
            except (zipfile.BadZipFile, RuntimeError, NotImplementedError, EOFError, OSError, ValueError) as error:
                failed = error
        if failed is not None:
            os.unlink(target)
            return f"it could not be unpacked ({type(failed).__name__}: {failed})"
    except OSError as error:
        return f"it could not be written ({error.strerror})"
    return None


def refused_members(folder):
    """[(member, reason)] that `unpack` did not write into `folder` (empty when none, or no manifest)."""
    path = Path(folder) / REFUSED_MANIFEST
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return []
    if not stat.S_ISREG(st.st_mode) or st.st_size > 64 * MB:
        return []
    fd = open_plain(path)
    with os.fdopen(fd, encoding="utf-8") as f:
        try:
            listed = json.load(f)
        except ValueError:
            return []
    if not isinstance(listed, list):
        return []
    return [
        (item["member"], item["reason"])
        for item in listed
        if isinstance(item, dict) and isinstance(item.get("member"), str) and isinstance(item.get("reason"), str)
    ]

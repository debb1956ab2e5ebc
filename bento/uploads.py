"""Uploaded files of a request, read from the request's own multipart form.

BentoML stores each file field in a temporary file; the file's bytes and the name the client
gave are taken from the parsed form itself (Starlette's ``UploadFile``, which the
``error_answers`` patch keeps in the request's scope), so nothing depends on how BentoML names
its temporary files, and no path is ever opened. Without that patch there are no uploads.
"""

from __future__ import annotations

from moodtune.errors import MoodtuneError
from moodtune.serving.answers import Upload


async def uploads(ctx, field: str, what: str, limit: int) -> list[Upload]:
    """The files sent in multipart field ``field`` (``[]`` for a JSON request), each checked
    against ``limit`` bytes before it is read."""
    from starlette.datastructures import UploadFile

    from bento.patches import FORM_KEY

    form = ctx.request.scope.get(FORM_KEY)  # parsed before BentoML's parser (bento/patches.py)
    if form is None:  # a JSON request
        return []
    out = []
    for item in form.getlist(field):
        if not isinstance(item, UploadFile):
            raise MoodtuneError(f"{what}: upload the file itself (multipart/form-data); paths are not read")
        size = item.size
        if size is None:
            item.file.seek(0, 2)
            size = item.file.tell()
        if size > limit:
            raise MoodtuneError(f"{what} is {size:,} bytes; the limit is {limit:,}")
        item.file.seek(0)
        out.append(Upload(item.filename or what, item.file.read()))
    return out


async def upload(ctx, field: str, what: str, limit: int) -> Upload | None:
    """The one file of field ``field``, or ``None``."""
    files = await uploads(ctx, field, what, limit)
    if len(files) > 1:
        raise MoodtuneError(f"{what}: send one file in {field!r}, not {len(files)}")
    return files[0] if files else None

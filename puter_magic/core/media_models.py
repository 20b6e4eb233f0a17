"""Which models read images: the refusal before a request with images goes to a model that cannot read them.

Where the server lists `modalities` (Puter's catalog does), a model without "image" in its inputs is refused here,
in one line naming models that do; where it says nothing, the request is sent and the server's own refusal is
what the user reads (providers translate it).

Pure: standard library, `puter_magic.datatypes` and `puter_magic.errors` only.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..datatypes import ModelInfo
from ..errors import InputError

SHOWN = 5  # models named in the refusal


def image_readers(models: Sequence[ModelInfo] | None) -> list[str]:
    """The ids of the models the server says read images."""
    return [model.id for model in models or () if model.reads("image")]


def refuse_blind_model(model: str, info: ModelInfo | None, models: Sequence[ModelInfo] | None) -> None:
    """InputError when the server says `model` reads no images; nothing when it reads them or nobody said."""
    if info is None or info.reads("image") is not False:
        return
    readers = image_readers(models)
    if readers:
        more = f", … ({len(readers)} in all)" if len(readers) > SHOWN else ""
        message = f"{model} does not read images; models that do: {', '.join(readers[:SHOWN])}{more}"
    else:
        message = f"{model} does not read images, and no model of this provider says it does"
    raise InputError(message, hint="pick one with `%%puter -m NAME`, or ask without the image")

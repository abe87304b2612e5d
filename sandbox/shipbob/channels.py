"""The merchant's channels and fulfillment centers (shipbob.md §3, §5): read-only lists."""

from __future__ import annotations

from flask import Blueprint

from . import paging
from .web import arg_int, world

bp = Blueprint("channels", __name__)


@bp.get("/channel")
def list_channels():
    w = world()
    size = arg_int("RecordsPerPage", 50, 1, 250)
    return paging.cursor_list(w.config.channels, size, lambda c: c.model_dump())


@bp.get("/fulfillment-center")
def list_fulfillment_centers():
    return [fc.model_dump() for fc in world().config.fulfillment_centers]  # a bare array

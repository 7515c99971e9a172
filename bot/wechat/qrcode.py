"""A QR code's picture from the URL qrcode/create returns (segno, pure Python, no IO).

The platform documents that the returned `url` may be rendered by the account itself; the
CLI does so (no second host to reach), and the simulator draws its showqrcode the same way.
"""

from __future__ import annotations

import io
import re

import segno

SCENE_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def png(url: str, scale: int = 8) -> bytes:
    """PNG bytes of the code for `url` (error correction M, a quiet zone of 2 modules)."""
    out = io.BytesIO()
    segno.make(url, error="m", micro=False).save(out, kind="png", scale=scale, border=2)
    return out.getvalue()


def permanent_str_scene(scene: str) -> dict[str, object]:
    """The qrcode/create body of a permanent code carrying a string scene (QR_LIMIT_STR_SCENE)."""
    if not SCENE_RE.match(scene):
        raise ValueError("a scene is 1-64 characters of A-Z a-z 0-9 _ -")
    return {"action_name": "QR_LIMIT_STR_SCENE", "action_info": {"scene": {"scene_str": scene}}}

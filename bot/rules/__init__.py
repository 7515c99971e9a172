"""Table-driven calculator of patent fees and time limits (issue 16).

`compute(message, context, today)` returns a `Computed` figure with its steps and sources,
a `NeedsFact` question for one missing fact, or None when the message is not a calculation
(the FAQ answers it). Every figure comes from a table row that names its source.
"""

from .engine import compute
from .models import CalcContext, Computed, NeedsFact

__all__ = ["compute", "CalcContext", "Computed", "NeedsFact"]

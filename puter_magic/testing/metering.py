"""Credit and usage of the local Puter server's users: what a call costs, and the egress every response costs.

Puter meters ``egress:bytes`` for every authenticated response on the API host and writes its usage buffer to the
account every 10 s (recorded-2 §10, 169-175): the usage right after a call is unchanged, the next read after a flush
shows the bytes of all responses since the last one, ``count`` one higher (one per flush, not per response). The
recorded cost is exactly ``units`` × 12 cents per GiB. A flush here is due ``egress_flush_interval`` seconds after
the first unflushed byte (0: at once) and happens when the server next looks (a response or a usage read), on
the server's clock (``FakePuter.now``, moved by ``advance_clock``) so tests never sleep.
Mixed into FakePuter, whose condition, users, settings and clock it shares.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from puter_magic.testing.models import MODELS, ChatModel, Generation
from puter_magic.testing.users import User

if TYPE_CHECKING:
    from puter_magic.testing.settings import Settings

EGRESS_USAGE_TYPE = "egress:bytes"
EGRESS_MICRO_CENTS_PER_BYTE = 12_000_000 / 2**30  # 12 cents per GiB: recordings 169, 174, 175 to the last bit
FAKE_CHAT_COST_ORDER = ("fake", "costly", "abuse")  # recording 176


class Metering:
    """The credit half of FakePuter."""

    _cond: threading.Condition
    _users: dict[str, User]
    settings: Settings

    def now(self) -> float:
        raise NotImplementedError

    def _reset_metering(self) -> None:
        self._egress: dict[str, int] = {}  # user uuid -> bytes not yet flushed
        self._egress_due: float | None = None  # when the pending bytes are flushed

    # -- credit ----------------------------------------------------------------------------------------------

    def set_remaining(self, username: str, micro_cents: int) -> None:
        with self._cond:
            self._users[username].remaining = micro_cents

    def has_credit(self, user: User, needed: int) -> bool:
        with self._cond:
            return user.remaining >= max(1, needed)

    def charge(self, user: User, model: ChatModel, generation: Generation) -> None:
        """Deduct a completion's cost, metered per ``provider:model:cost-key`` like Puter's usage types.

        Puter's fake-chat models are never charged (recordings 169-177): only our local models are metered."""
        if model.is_fake_chat:
            return
        metered = (
            (model.input_cost_key, generation.input_tokens, model.cost(generation.input_tokens, 0)),
            (model.output_cost_key, generation.output_tokens, model.cost(0, generation.output_tokens)),
        )
        for key, units, cost in metered:
            self.meter(user, f"{model.provider}:{model.id}:{key}", units, cost)

    def meter(self, user: User, usage_type: str, units: int, cost: int) -> None:
        """Record ``units`` of ``usage_type`` costing ``cost`` micro-cents, as /metering/usage will show it."""
        with self._cond:
            entry = user.usage.setdefault(usage_type, {"units": 0, "cost": 0, "count": 0})
            entry["units"] += units
            entry["cost"] += cost
            entry["count"] += 1
            user.remaining = max(0, user.remaining - cost)

    # -- egress ----------------------------------------------------------------------------------------------

    def add_egress(self, user: User, size: int) -> None:
        """Buffer the body bytes of one response to ``user`` until the next flush."""
        with self._cond:
            self.flush_due_egress()
            self._egress[user.uuid] = self._egress.get(user.uuid, 0) + size
            if self._egress_due is None:
                self._egress_due = self.now() + self.settings.egress_flush_interval
            self.flush_due_egress()

    def flush_due_egress(self) -> None:
        """Flush the buffered egress into the users' usage if its time has come."""
        with self._cond:
            if self._egress_due is not None and self.now() >= self._egress_due:
                self.flush_egress()

    def flush_egress(self) -> None:
        """Add every user's buffered bytes to their ``egress:bytes`` usage: one more ``count`` each."""
        with self._cond:
            by_uuid = {user.uuid: user for user in self._users.values()}
            for user_uuid, size in self._egress.items():
                user = by_uuid.get(user_uuid)
                if user is None:  # a temp user logged out meanwhile
                    continue
                entry = user.usage.setdefault(EGRESS_USAGE_TYPE, {"units": 0, "cost": 0, "count": 0})
                before = entry["cost"]
                entry["units"] += size
                entry["cost"] = entry["units"] * EGRESS_MICRO_CENTS_PER_BYTE
                entry["count"] += 1
                user.remaining = max(0, user.remaining - (entry["cost"] - before))
            self._egress = {}
            self._egress_due = None


def all_costs() -> list[dict[str, Any]]:
    """GET /metering/allCosts: the chat models' prices per unit (recording 176 shows the fake-chat entries)."""
    fake = {model.id: model for model in MODELS if model.is_fake_chat}
    models = [fake[name] for name in FAKE_CHAT_COST_ORDER] + [m for m in MODELS if not m.is_fake_chat]
    return [
        {
            "usageType": f"{model.provider}:{model.id}:{key}",
            "ucentsPerUnit": model.cost(*((1, 0) if key == model.input_cost_key else (0, 1))),
            "unit": "token",
            "source": f"driver:aiChat/{model.provider}",
            "costs_currency": "usd-cents",
            "registry": "driver",
            "registryKey": "aiChat",
        }
        for model in models
        for key in (model.input_cost_key, model.output_cost_key)
    ]

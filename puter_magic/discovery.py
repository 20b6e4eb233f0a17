"""What a provider tells about itself: the models it offers, who is signed in, the credit left, one look at its
status. Frozen dataclasses; no third-party imports (`datatypes` re-exports them). Money in US dollars."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """A model a provider offers. Costs are US dollars per million tokens, when known."""

    id: str
    provider: str | None = None
    name: str | None = None
    aliases: tuple[str, ...] = ()
    context: int | None = None
    max_tokens: int | None = None
    input_cost: float | None = None
    output_cost: float | None = None
    # what the model reads and writes ("text", "image", "audio", …) when the server says; None: it did not
    input_modalities: tuple[str, ...] | None = None
    output_modalities: tuple[str, ...] | None = None

    def reads(self, modality: str) -> bool | None:
        """Whether the model reads `modality` (e.g. "image"); None when the server did not say."""
        return None if self.input_modalities is None else modality in self.input_modalities

    def matches(self, model_id: str) -> bool:
        key = model_id.strip().lower()
        return key == self.id.lower() or key in (alias.lower() for alias in self.aliases)


@dataclass(frozen=True, slots=True)
class UserInfo:
    username: str
    uuid: str | None = None
    email: str | None = None
    email_confirmed: bool | None = None
    is_temp: bool = False
    requires_email_confirmation: bool = False  # the server refuses most requests until the e-mail is confirmed


@dataclass(frozen=True, slots=True)
class Credits:
    """Monthly allowance and what is left of it, in US dollars."""

    remaining_usd: float | None
    allowance_usd: float | None = None
    used_usd: float | None = None


@dataclass(frozen=True, slots=True)
class ProviderStatus:
    """One look at a provider: reachable, who we are there, how many models it lists."""

    provider: str
    origin: str
    reachable: bool
    user: UserInfo | None = None
    model_count: int | None = None
    credits: Credits | None = None
    error: str | None = None  # with a user: connected, but the account cannot be used yet (what to do included)
    note: str | None = None  # something the user should know about the account, e.g. that it is temporary

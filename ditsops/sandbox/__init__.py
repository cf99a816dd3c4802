"""The local practice environment. It hangs off the product through one explicit hook:
importing this package registers the `sandbox` profile with core/config.py (the cli
imports it where it assembles the sandbox's commands). Nothing in core, clients or
render imports the sandbox; this stays light (state.json is read only when the profile
is chosen)."""

from __future__ import annotations

from typing import Any

from ditsops.base.errors import ConfigError
from ditsops.core.config import register_profile_provider

PROFILE = "sandbox"


def sandbox_profile() -> dict[str, Any]:
    """Settings of the `sandbox` profile, from the running sandbox's state."""
    from ditsops.sandbox.profileparams import SANDBOX_PARAMS
    from ditsops.sandbox.state import load_state

    state = load_state()
    if state is None:
        raise ConfigError("the sandbox profile exists only while the sandbox is up", hint="ditsops sandbox up")
    profile = dict(state.profile())
    # A sandbox made by an older ditsops lacks the parameters added since: its own win.
    kept = profile.get("params")
    profile["params"] = {**SANDBOX_PARAMS, **(kept if isinstance(kept, dict) else {})}
    return profile


register_profile_provider(PROFILE, sandbox_profile)

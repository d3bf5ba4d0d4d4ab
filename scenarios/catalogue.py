"""Load the scenario catalogue (`scenarios/catalogue/*.toml`) and validate it.

Validation happens once, at load, so that a typo in a scenario file stops the deployment
instead of a relance run at 3 a.m. Every error names the scenario and the step.

Template names follow the convention shared with the channel code: "<kind>/<name>" where
kind is the channel, stored as
    sms    templates/sms/<name>.txt
    email  templates/email/<name>.subject.txt, .html and .txt
    letter templates/letter/<name>.html
    call   templates/call/<name>.md   (the agent's script)
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from models.enums import Channel, ClaimNature, EventKind
from scenarios.language import (
    REACTABLE_EVENTS,
    REQUIRED_REACTIONS,
    Anchor,
    Conditions,
    Effect,
    EndKind,
    Reaction,
    Scenario,
    Step,
    StepAction,
)

CATALOGUE_DIR = Path(__file__).resolve().parent / "catalogue"
TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"

TEMPLATE_FILES: dict[str, tuple[str, ...]] = {
    "sms": (".txt",),
    "email": (".subject.txt", ".html", ".txt"),
    "letter": (".html",),
    "call": (".md",),
}

# Step names end up in idempotency keys ("dossier:scenario:step:occurrence").
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_SCENARIO_NAME = re.compile(r"^[a-z][a-z0-9-]*$")

_SCENARIO_KEYS = {"name", "description", "anchor", "end", "steps", "reactions"}
_STEP_KEYS = {
    "name",
    "offset_days",
    "channel",
    "template",
    "conditions",
    "fallback_channel",
    "fallback_template",
    "business_days_only",
    "action",
    "grace_days",
    "required",
}
_CONDITION_KEYS = {
    "balance_above",
    "nature_in",
    "installment_unpaid",
    "promise_unpaid",
    "missed_installments_at_least",
}
_REACTION_KEYS = {"effect", "step", "scenario", "template", "grace_days", "otherwise"}

TemplateCheck = Callable[[str], bool]


class ScenarioError(ValueError):
    """A scenario file that cannot be used; names the scenario and, when known, the step."""

    def __init__(self, scenario: str, problem: str, *, step: str | None = None) -> None:
        self.scenario = scenario
        self.step = step
        self.problem = problem
        where = f"scenario {scenario!r}" + (f", step {step!r}" if step else "")
        super().__init__(f"{where}: {problem}")


def template_files(root: Path = TEMPLATES_DIR) -> TemplateCheck:
    """The default template check: every file of the naming convention exists under root."""

    def exists(name: str) -> bool:
        kind, _, base = name.partition("/")
        suffixes = TEMPLATE_FILES.get(kind)
        if not suffixes or not base:
            return False
        return all((root / kind / f"{base}{suffix}").is_file() for suffix in suffixes)

    return exists


def load_scenario(path: Path | str, *, template_exists: TemplateCheck | None = None) -> Scenario:
    """Load and validate one scenario file (references to other scenarios are checked by
    `load_catalogue`, which sees them all)."""
    path = Path(path)
    with path.open("rb") as handle:
        try:
            # Decimal, never float: amounts in conditions are money.
            raw = tomllib.load(handle, parse_float=Decimal)
        except tomllib.TOMLDecodeError as exc:
            raise ScenarioError(path.stem, f"not valid TOML: {exc}") from exc
    scenario = _build_scenario(raw, fallback_name=path.stem)
    if scenario.name != path.stem:
        raise ScenarioError(scenario.name, f"the file must be named {scenario.name}.toml")
    _check_templates(scenario, template_exists or template_files())
    return scenario


def load_catalogue(
    dir: Path | str | None = None, *, template_exists: TemplateCheck | None = None
) -> dict[str, Scenario]:
    """Every scenario of the catalogue directory, by name, validated together."""
    directory = Path(dir) if dir is not None else CATALOGUE_DIR
    check = template_exists or template_files()
    catalogue: dict[str, Scenario] = {}
    for path in sorted(directory.glob("*.toml")):
        scenario = load_scenario(path, template_exists=check)
        catalogue[scenario.name] = scenario
    if not catalogue:
        raise ScenarioError(str(directory), "no scenario file (*.toml) in the catalogue")
    check_references(catalogue)
    return catalogue


def check_references(catalogue: Mapping[str, Scenario]) -> None:
    """Cross-scenario rules: switch_to names a known scenario, and a follow-up that sends
    the dossier back to its origin only follows scenarios that know what to do then."""
    for scenario in catalogue.values():
        for reaction in scenario.reactions:
            if reaction.effect is not Effect.SWITCH_TO:
                continue
            target = catalogue.get(reaction.scenario or "")
            if target is None:
                raise ScenarioError(
                    scenario.name,
                    f"reaction to {reaction.on}: switch_to names an unknown scenario "
                    f"{reaction.scenario!r}",
                )
            if target.anchor is Anchor.PROMISE and reaction.on is not EventKind.PROMISE_MADE:
                raise ScenarioError(
                    scenario.name,
                    f"reaction to {reaction.on}: only promise_made carries the promised date "
                    f"that {target.name!r} is anchored on",
                )
            if target.anchor is Anchor.INSTALLMENT and reaction.on is not EventKind.PLAN_AGREED:
                raise ScenarioError(
                    scenario.name,
                    f"reaction to {reaction.on}: only plan_agreed carries the installments "
                    f"that {target.name!r} is anchored on",
                )


# --- building -------------------------------------------------------------------------


def _build_scenario(raw: dict[str, Any], *, fallback_name: str) -> Scenario:
    name = raw.get("name")
    if not isinstance(name, str) or not _SCENARIO_NAME.match(name):
        raise ScenarioError(fallback_name, "`name` must be a lowercase name like amiable-particulier")
    _no_unknown_keys(raw, _SCENARIO_KEYS, name, None, "scenario")
    description = raw.get("description")
    if not isinstance(description, str) or not description.strip():
        raise ScenarioError(name, "`description` is required")
    anchor = _enum(Anchor, raw.get("anchor"), name, None, "anchor")
    end = _enum(EndKind, raw.get("end"), name, None, "end")

    raw_steps = raw.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise ScenarioError(name, "at least one [[steps]] is required")
    steps: list[Step] = []
    seen: set[str] = set()
    for raw_step in raw_steps:
        step = _build_step(raw_step, name, anchor)
        if step.name in seen:
            raise ScenarioError(name, "duplicate step name", step=step.name)
        if steps and step.offset_days <= steps[-1].offset_days:
            raise ScenarioError(
                name,
                f"offsets must be strictly ascending: {step.offset_days} after "
                f"{steps[-1].offset_days} (step {steps[-1].name!r})",
                step=step.name,
            )
        seen.add(step.name)
        steps.append(step)

    raw_reactions = raw.get("reactions", {})
    if not isinstance(raw_reactions, dict):
        raise ScenarioError(name, "[reactions] must be a table: event = { effect = ... }")
    reactions = tuple(
        _build_reaction(event, spec, name, anchor, seen) for event, spec in raw_reactions.items()
    )
    missing = REQUIRED_REACTIONS - {r.on for r in reactions}
    if missing:
        raise ScenarioError(
            name, "must react to " + ", ".join(sorted(e.value for e in missing))
        )
    return Scenario(
        name=name,
        description=description.strip(),
        anchor=anchor,
        steps=tuple(steps),
        reactions=reactions,
        end=end,
    )


def _build_step(raw: Any, scenario: str, anchor: Anchor) -> Step:
    if not isinstance(raw, dict):
        raise ScenarioError(scenario, "each [[steps]] must be a table")
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ScenarioError(
            scenario, f"step name {name!r} must be lowercase letters, digits and _", step=str(name)
        )
    _no_unknown_keys(raw, _STEP_KEYS, scenario, name, "step")

    offset = raw.get("offset_days")
    if not isinstance(offset, int) or isinstance(offset, bool):
        raise ScenarioError(scenario, "`offset_days` must be a whole number of days", step=name)
    if offset < 0 and anchor is Anchor.ENROLMENT:
        raise ScenarioError(
            scenario, "a negative offset needs an installment or promise anchor", step=name
        )

    action = _enum(StepAction, raw.get("action"), scenario, name, "action", optional=True)
    channel = _enum(Channel, raw.get("channel"), scenario, name, "channel", optional=True)
    template = raw.get("template")
    fallback_channel = _enum(
        Channel, raw.get("fallback_channel"), scenario, name, "fallback_channel", optional=True
    )
    fallback_template = raw.get("fallback_template")

    if action is None and channel is None:
        raise ScenarioError(scenario, "a step needs a channel or an action", step=name)
    if action in (StepAction.ESCALATE, StepAction.CLOSE, StepAction.CHECK_PROMISE) and channel:
        raise ScenarioError(scenario, f"a {action} step sends no message: drop `channel`", step=name)
    if action is StepAction.CHECK_PROMISE and anchor is not Anchor.PROMISE:
        raise ScenarioError(scenario, "check_promise needs anchor = \"promise\"", step=name)
    if action is StepAction.DECHEANCE_DU_TERME and anchor is not Anchor.INSTALLMENT:
        raise ScenarioError(scenario, "decheance_du_terme needs anchor = \"installment\"", step=name)
    _check_template_name(template, channel, scenario, name, "template")

    if fallback_channel is not None:
        if channel is None:
            raise ScenarioError(scenario, "a fallback needs a primary channel", step=name)
        if fallback_channel is channel:
            raise ScenarioError(scenario, "the fallback channel equals the channel", step=name)
        if fallback_template is None:
            raise ScenarioError(scenario, "`fallback_template` is required", step=name)
    elif fallback_template is not None:
        raise ScenarioError(scenario, "`fallback_template` without `fallback_channel`", step=name)
    _check_template_name(fallback_template, fallback_channel, scenario, name, "fallback_template")

    business_days_only = raw.get("business_days_only", False)
    if not isinstance(business_days_only, bool):
        raise ScenarioError(scenario, "`business_days_only` must be true or false", step=name)

    required = raw.get("required", False)
    if not isinstance(required, bool):
        raise ScenarioError(scenario, "`required` must be true or false", step=name)

    if "grace_days" in raw and action is not StepAction.CHECK_PROMISE:
        raise ScenarioError(scenario, "`grace_days` only applies to check_promise", step=name)
    grace = raw.get("grace_days", 1 if action is StepAction.CHECK_PROMISE else 0)
    if not isinstance(grace, int) or isinstance(grace, bool) or grace < 0:
        raise ScenarioError(scenario, "`grace_days` must be a whole number >= 0", step=name)

    return Step(
        name=name,
        offset_days=offset,
        channel=channel,
        template=template,
        conditions=_build_conditions(raw.get("conditions", {}), scenario, name, anchor),
        fallback_channel=fallback_channel,
        fallback_template=fallback_template,
        business_days_only=business_days_only,
        action=action,
        grace_days=grace,
        required=required,
    )


def _build_conditions(raw: Any, scenario: str, step: str, anchor: Anchor) -> Conditions:
    if not isinstance(raw, dict):
        raise ScenarioError(scenario, "`conditions` must be a table", step=step)
    _no_unknown_keys(raw, _CONDITION_KEYS, scenario, step, "condition")

    balance_above = raw.get("balance_above")
    if balance_above is not None:
        if isinstance(balance_above, bool) or not isinstance(balance_above, (int, Decimal, str)):
            raise ScenarioError(scenario, "`balance_above` must be an amount", step=step)
        try:
            balance_above = Decimal(str(balance_above))
        except ArithmeticError as exc:
            raise ScenarioError(scenario, f"`balance_above` {balance_above!r} is not an amount", step=step) from exc
        if not balance_above.is_finite() or balance_above < 0:
            raise ScenarioError(scenario, "`balance_above` must be >= 0", step=step)

    natures = raw.get("nature_in")
    if natures is not None:
        if not isinstance(natures, list) or not natures:
            raise ScenarioError(scenario, "`nature_in` must be a non-empty list", step=step)
        natures = frozenset(_enum(ClaimNature, n, scenario, step, "nature_in") for n in natures)

    flags = {}
    for key, needed in (("installment_unpaid", Anchor.INSTALLMENT), ("promise_unpaid", Anchor.PROMISE)):
        value = raw.get(key, False)
        if not isinstance(value, bool):
            raise ScenarioError(scenario, f"`{key}` must be true or false", step=step)
        if value and anchor is not needed:
            raise ScenarioError(scenario, f"`{key}` needs anchor = \"{needed}\"", step=step)
        flags[key] = value

    missed = raw.get("missed_installments_at_least")
    if missed is not None:
        if anchor is not Anchor.INSTALLMENT:
            raise ScenarioError(
                scenario, "`missed_installments_at_least` needs anchor = \"installment\"", step=step
            )
        if not isinstance(missed, int) or isinstance(missed, bool) or missed < 1:
            raise ScenarioError(
                scenario, "`missed_installments_at_least` must be a whole number >= 1", step=step
            )

    return Conditions(
        balance_above=balance_above,
        nature_in=natures,
        installment_unpaid=flags["installment_unpaid"],
        promise_unpaid=flags["promise_unpaid"],
        missed_installments_at_least=missed,
    )


def _build_reaction(
    event: str, raw: Any, scenario: str, anchor: Anchor, step_names: set[str]
) -> Reaction:
    where = f"reaction to {event}"
    kind = _enum(EventKind, event, scenario, None, "reaction event")
    if kind not in REACTABLE_EVENTS:
        raise ScenarioError(scenario, f"{where}: a scenario cannot react to this event")
    if isinstance(raw, str):
        raw = {"effect": raw}  # `paid_in_full = "close"` is shorthand for { effect = "close" }
    if not isinstance(raw, dict):
        raise ScenarioError(scenario, f"{where}: must be {{ effect = ... }}")
    unknown = set(raw) - _REACTION_KEYS
    if unknown:
        raise ScenarioError(scenario, f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    effect = _enum(Effect, raw.get("effect"), scenario, None, f"{where}: effect")

    step = raw.get("step")
    target = raw.get("scenario")
    template = raw.get("template")
    otherwise = _enum(EndKind, raw.get("otherwise"), scenario, None, f"{where}: otherwise", optional=True)
    grace = raw.get("grace_days", 0)

    if effect is Effect.RESUME_AT:
        if step not in step_names:
            raise ScenarioError(scenario, f"{where}: resume_at names an unknown step", step=str(step))
    elif step is not None:
        raise ScenarioError(scenario, f"{where}: `step` only goes with resume_at")
    if effect is Effect.SWITCH_TO:
        if not isinstance(target, str) or not target:
            raise ScenarioError(scenario, f"{where}: switch_to needs `scenario`")
    elif target is not None:
        raise ScenarioError(scenario, f"{where}: `scenario` only goes with switch_to")
    if effect is Effect.AGENT_TASK:
        _check_template_name(template, Channel.CALL, scenario, None, f"{where}: template")
    elif template is not None:
        raise ScenarioError(scenario, f"{where}: `template` only goes with agent_task")
    if effect is Effect.RETURN_TO_ORIGIN:
        if anchor is Anchor.ENROLMENT:
            raise ScenarioError(scenario, f"{where}: only a follow-up scenario has an origin")
        if otherwise is None:
            raise ScenarioError(
                scenario, f"{where}: return_to_origin needs `otherwise` (close or escalate) "
                "for a dossier enrolled here directly"
            )
    elif otherwise is not None:
        raise ScenarioError(scenario, f"{where}: `otherwise` only goes with return_to_origin")
    if effect is not Effect.PAUSE and "grace_days" in raw:
        raise ScenarioError(scenario, f"{where}: `grace_days` only goes with pause")
    if not isinstance(grace, int) or isinstance(grace, bool) or grace < 0:
        raise ScenarioError(scenario, f"{where}: `grace_days` must be a whole number >= 0")
    return Reaction(
        on=kind,
        effect=effect,
        step=step,
        scenario=target,
        template=template,
        grace_days=grace,
        otherwise=otherwise,
    )


# --- checks ---------------------------------------------------------------------------


def _check_template_name(
    template: Any, channel: Channel | None, scenario: str, step: str | None, key: str
) -> None:
    if channel is None:
        if template is not None:
            raise ScenarioError(scenario, f"`{key}` without a channel", step=step)
        return
    if not isinstance(template, str) or not template:
        raise ScenarioError(scenario, f"`{key}` is required for channel {channel}", step=step)
    kind, _, base = template.partition("/")
    if kind != channel.value or not _NAME.match(base):
        raise ScenarioError(
            scenario, f"`{key}` {template!r} must be named \"{channel}/<name>\"", step=step
        )


def _check_templates(scenario: Scenario, exists: TemplateCheck) -> None:
    for step in scenario.steps:
        for template in (step.template, step.fallback_template):
            if template is not None and not exists(template):
                raise ScenarioError(
                    scenario.name, f"template {template!r} is missing", step=step.name
                )
    for reaction in scenario.reactions:
        if reaction.template is not None and not exists(reaction.template):
            raise ScenarioError(
                scenario.name, f"reaction to {reaction.on}: template {reaction.template!r} is missing"
            )


def _no_unknown_keys(raw: dict, allowed: set[str], scenario: str, step: str | None, what: str) -> None:
    unknown = set(raw) - allowed
    if unknown:
        raise ScenarioError(
            scenario, f"unknown {what} key(s): {', '.join(sorted(unknown))}", step=step
        )


def _enum(enum_type, value, scenario: str, step: str | None, key: str, *, optional: bool = False):
    if value is None and optional:
        return None
    try:
        return enum_type(value)
    except ValueError:
        choices = ", ".join(member.value for member in enum_type)
        raise ScenarioError(
            scenario, f"{key} {value!r} is not one of: {choices}", step=step
        ) from None

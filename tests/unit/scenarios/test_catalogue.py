"""The scenario catalogue loads, and every mistake in a scenario file is named precisely."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from models.enums import Channel, EventKind
from scenarios.catalogue import ScenarioError, load_catalogue, load_scenario, template_files
from scenarios.language import Anchor, Effect, EndKind, StepAction

LETTERS = {"letter/premiere_relance", "letter/mise_en_demeure", "letter/relance_entreprise", "letter/decheance_terme"}

REACTIONS = """
[reactions]
paid_in_full = "close"
dispute_opened = "suspend"
dispute_closed = "resume"
"""


def write(directory: Path, name: str, body: str, *, reactions: str = REACTIONS) -> Path:
    path = directory / f"{name}.toml"
    header = f'name = "{name}"\ndescription = "essai"\nanchor = "enrolment"\nend = "close"\n'
    path.write_text(header + body + reactions, encoding="utf-8")
    return path


def anything(_: str) -> bool:
    return True


def step(name: str, offset: int, extra: str = 'channel = "email"\ntemplate = "email/premier_contact"') -> str:
    return f'\n[[steps]]\nname = "{name}"\noffset_days = {offset}\n{extra}\n'


def test_the_catalogue_scenarios_load_with_their_templates_on_disk(catalogue):
    assert set(catalogue) == {"amiable-particulier", "amiable-particulier-appel", "amiable-entreprise",
                              "suivi-echeancier", "suivi-promesse"}
    exists = template_files()
    for scenario in catalogue.values():
        for s in scenario.steps:
            for template in (s.template, s.fallback_template):
                assert template is None or exists(template), template


def test_the_scenarios_use_exactly_the_four_agreed_letters(catalogue):
    letters = {s.template for sc in catalogue.values() for s in sc.steps if s.channel is Channel.LETTER}
    assert letters == LETTERS


def test_the_catalogue_says_what_the_brief_asks(catalogue):
    particulier = catalogue["amiable-particulier"]
    assert [(s.offset_days, s.channel and s.channel.value, s.action) for s in particulier.steps] == [
        (0, "sms", None), (3, "email", None), (7, "call", None), (10, "letter", None),
        (15, "call", None), (21, "letter", None), (28, "call", None), (35, None, StepAction.ESCALATE),
    ]
    assert particulier.reaction_to(EventKind.PROMISE_MADE).scenario == "suivi-promesse"
    assert particulier.reaction_to(EventKind.PROMISE_BROKEN).step == "mise_en_demeure"
    assert particulier.reaction_to(EventKind.PLAN_AGREED).scenario == "suivi-echeancier"
    assert particulier.reaction_to(EventKind.PARTIAL_PAYMENT).effect is Effect.CONTINUE
    assert particulier.reaction_to(EventKind.OPT_OUT).effect is Effect.REPLAN
    assert particulier.end is EndKind.ESCALATE
    assert all(s.business_days_only for s in catalogue["amiable-entreprise"].steps if s.channel is Channel.CALL)
    echeancier = catalogue["suivi-echeancier"]
    assert echeancier.anchor is Anchor.INSTALLMENT
    assert echeancier.steps[-1].conditions.missed_installments_at_least == 2
    promesse = catalogue["suivi-promesse"]
    assert (promesse.steps[-1].action, promesse.steps[-1].due_offset) == (StepAction.CHECK_PROMISE, 2)


def test_a_missing_template_fails_naming_the_scenario_and_the_step(tmp_path):
    path = write(tmp_path, "essai", step("premier", 0, 'channel = "sms"\ntemplate = "sms/n_existe_pas"'))
    with pytest.raises(ScenarioError) as error:
        load_scenario(path)
    assert (error.value.scenario, error.value.step) == ("essai", "premier")
    assert "sms/n_existe_pas" in str(error.value)


def test_the_template_check_can_be_injected(tmp_path):
    path = write(tmp_path, "essai", step("premier", 0, 'channel = "letter"\ntemplate = "letter/future"'))
    assert load_scenario(path, template_exists=anything).steps[0].template == "letter/future"


@pytest.mark.parametrize(
    ("body", "bad_step", "message"),
    [
        (step("premier", 0, 'channel = "fax"\ntemplate = "fax/x"'), "premier", "channel 'fax'"),
        (step("premier", 0) + step("premier", 3), "premier", "duplicate step name"),
        (step("premier", 5) + step("second", 3), "second", "strictly ascending"),
        (step("premier", 0) + step("second", 0), "second", "strictly ascending"),
        (step("premier", -1), "premier", "negative offset"),
        (step("premier", 0, 'channel = "sms"\ntemplate = "email/premier_contact"'), "premier", 'named "sms/<name>"'),
        (step("premier", 0, 'channel = "sms"\ntemplate = "sms/a"\nfallback_channel = "sms"\nfallback_template = "sms/b"'), "premier", "fallback channel equals"),
        (step("premier", 0, 'channel = "sms"\ntemplate = "sms/a"\nfallback_channel = "letter"'), "premier", "fallback_template"),
        (step("premier", 0, 'channel = "sms"\ntemplate = "sms/a"\nbusiness_day_only = true'), "premier", "unknown step key"),
        (step("premier", 0, 'action = "check_promise"'), "premier", "check_promise needs"),
        (step("premier", 0, 'action = "escalate"\nchannel = "letter"\ntemplate = "letter/a"'), "premier", "sends no message"),
        (step("premier", 0, 'channel = "sms"\ntemplate = "sms/a"\nconditions = { balance_above = -1 }'), "premier", ">= 0"),
        (step("premier", 0, 'channel = "sms"\ntemplate = "sms/a"\nconditions = { nature_in = ["salary"] }'), "premier", "nature_in"),
        (step("premier", 0, 'channel = "sms"\ntemplate = "sms/a"\nconditions = { installment_unpaid = true }'), "premier", "installment"),
        (step("premier", 0, 'offset = 3\nchannel = "sms"\ntemplate = "sms/a"'), "premier", "unknown step key"),
    ],
)
def test_an_invalid_step_fails_naming_the_step(tmp_path, body, bad_step, message):
    with pytest.raises(ScenarioError) as error:
        load_scenario(write(tmp_path, "essai", body), template_exists=anything)
    assert error.value.scenario == "essai"
    assert error.value.step == bad_step
    assert message in str(error.value)


def test_resume_at_an_unknown_step_fails_naming_it(tmp_path):
    reactions = REACTIONS + 'promise_broken = { effect = "resume_at", step = "plus_ferme" }\n'
    with pytest.raises(ScenarioError) as error:
        load_scenario(write(tmp_path, "essai", step("premier", 0), reactions=reactions), template_exists=anything)
    assert (error.value.scenario, error.value.step) == ("essai", "plus_ferme")


def test_switch_to_an_unknown_scenario_fails_when_the_catalogue_loads(tmp_path):
    reactions = REACTIONS + 'plan_agreed = { effect = "switch_to", scenario = "suivi-inconnu" }\n'
    write(tmp_path, "essai", step("premier", 0), reactions=reactions)
    with pytest.raises(ScenarioError, match="unknown scenario 'suivi-inconnu'"):
        load_catalogue(tmp_path, template_exists=anything)


def test_a_scenario_that_ignores_disputes_is_refused(tmp_path):
    with pytest.raises(ScenarioError, match="must react to dispute_closed, dispute_opened"):
        load_scenario(write(tmp_path, "essai", step("premier", 0), reactions='[reactions]\npaid_in_full = "close"\n'), template_exists=anything)


def test_a_file_must_be_named_after_its_scenario(tmp_path):
    path = write(tmp_path, "essai", step("premier", 0))
    path.rename(tmp_path / "autre.toml")
    with pytest.raises(ScenarioError, match="essai.toml"):
        load_scenario(tmp_path / "autre.toml", template_exists=anything)


def test_amounts_in_conditions_are_decimals(tmp_path):
    body = step("premier", 0, 'channel = "sms"\ntemplate = "sms/a"\nconditions = { balance_above = 15.10 }')
    scenario = load_scenario(write(tmp_path, "essai", body), template_exists=anything)
    assert scenario.steps[0].conditions.balance_above == Decimal("15.10")

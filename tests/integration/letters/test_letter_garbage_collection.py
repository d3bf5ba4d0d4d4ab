"""The garbage collector is paused while a letter is rendered or merged, and left as it was found."""

from __future__ import annotations

import gc
import weakref

import pytest

from channels.letters_pdf import LetterBatch, young_garbage_collected_after
from tests.integration.letters.samples import LETTERS


class Node:
    """One half of a reference cycle, as WeasyPrint's boxes and styles make by the thousand."""

    def __init__(self) -> None:
        self.other: Node | None = None


def make_cycle() -> weakref.ref:
    a, b = Node(), Node()
    a.other, b.other = b, a
    return weakref.ref(a)


@pytest.fixture
def collector_enabled():
    was_enabled = gc.isenabled()
    gc.enable()
    yield
    if not was_enabled:
        gc.disable()


def test_the_collector_is_paused_inside_and_running_again_after(collector_enabled):
    with young_garbage_collected_after():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_the_collector_is_running_again_after_a_letter_that_fails(collector_enabled):
    with pytest.raises(RuntimeError):
        with young_garbage_collected_after():
            raise RuntimeError("layout failed")
    assert gc.isenabled()


def test_a_collector_the_caller_disabled_stays_disabled(collector_enabled):
    gc.disable()
    with young_garbage_collected_after():
        pass
    assert not gc.isenabled()


def test_the_cycles_a_letter_leaves_behind_are_freed_on_the_way_out(collector_enabled):
    with young_garbage_collected_after():
        cycle = make_cycle()
        assert cycle() is not None  # nothing collects it while paused
    assert cycle() is None


def test_rendering_a_letter_leaves_the_collector_running(collector_enabled, renderer):
    renderer.render_letter("premiere_relance", LETTERS["premiere_relance"]())
    assert gc.isenabled()


def test_merging_letters_into_a_batch_leaves_the_collector_running(collector_enabled, rendered, tmp_path):
    batch = LetterBatch(tmp_path, "gc")
    context = LETTERS["premiere_relance"]()
    batch.add(
        rendered["premiere_relance"],
        action_id="1",
        letter_reference=context["letter"]["reference"],
        dossier_id=context["dossier"]["id"],
        address_lines=context["recipient"]["address_lines"],
    )
    assert gc.isenabled()
    batch.write()
    assert gc.isenabled()
